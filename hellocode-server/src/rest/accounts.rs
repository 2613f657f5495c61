//! Accounts: registration, login, users (read by anyone signed in, changed only by themselves),
//! contacts and bot tokens.

use std::net::SocketAddr;
use std::sync::Arc;

use hellocode_core::model::{ChatId, Seq, UserUpdate, deleted_author};
use hellocode_core::protocol::{Command, MAX_LIST_PAGE, ServerFrame};
use hellocode_core::session::{Identity, Publish};
use hellocode_core::storage::Items;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

use super::{
    ApiError, authenticated, dispatch, json_body, json_reply, respond, unexpected, with_state,
};
use crate::app::AppState;
use crate::auth::{Registration, password};
use crate::broker::BrokerEvent;
use crate::error::FieldErrors;
use crate::revocation::Revocation;
use hellocode_core::session::Credential;

/// A login form: `{username, password}`, both strings (see [`login_form`]).
#[derive(Debug)]
struct Login {
    username: String,
    password: String,
}

/// What a client sends when the body is not the object a form expects.
fn not_a_form(fields: &str) -> ApiError {
    ApiError::bad_request(format!("the body must be a JSON object {{{fields}}} of strings"))
}

/// The string field `name` of a form: `Ok(None)` when absent, 400 when not a string.
fn string_field(form: &Map<String, Value>, name: &str) -> Result<Option<String>, ApiError> {
    match form.get(name) {
        None => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(_) => Err(ApiError::bad_request(format!("{name} must be a string"))),
    }
}

/// `{username, password}`, both present and strings; anything else (`[]`, `{}`, `"x"`, a
/// number for a name) is a malformed request (400), not wrong credentials (401).
fn login_form(body: Value) -> Result<Login, ApiError> {
    const FIELDS: &str = "username, password";
    let Value::Object(form) = body else { return Err(not_a_form(FIELDS)) };
    let required = |name: &str| {
        string_field(&form, name)?
            .ok_or_else(|| ApiError::bad_request(format!("{name} is required")))
    };
    Ok(Login { username: required("username")?, password: required("password")? })
}

/// The registration form: an object whose fields, when present, are strings (400 otherwise);
/// missing ones are blank and get their per-field message (422) from validation.
fn registration_form(body: Value) -> Result<Registration, ApiError> {
    const FIELDS: &str = "username, email, password, password_confirmation";
    let Value::Object(form) = body else { return Err(not_a_form(FIELDS)) };
    let field = |name: &str| string_field(&form, name).map(Option::unwrap_or_default);
    Ok(Registration {
        username: field("username")?,
        email: field("email")?,
        password: field("password")?,
        password_confirmation: field("password_confirmation")?,
    })
}

#[derive(Debug, Deserialize)]
struct Page {
    after: Option<String>,
    limit: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileChange {
    email: Option<String>,
    password: Option<String>,
    password_confirmation: Option<String>,
    timezone: Option<String>,
    languages: Option<Vec<String>>,
    #[serde(default, with = "double_option")]
    avatar: Option<Option<String>>,
}

/// `"avatar": null` removes the avatar; a missing `avatar` leaves it.
mod double_option {
    use serde::{Deserialize, Deserializer};

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Option<String>>, D::Error> {
        Option::<String>::deserialize(d).map(Some)
    }
}

#[derive(Debug, Deserialize)]
struct Contact {
    username: String,
}

#[derive(Debug, Deserialize)]
struct NewBotToken {
    #[serde(default)]
    name: String,
}

pub(super) fn routes(
    state: Arc<AppState>,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let register = warp::path!("api" / "register")
        .and(warp::post())
        .and(json_body())
        .and(crate::serve::remote())
        .and(with_state(state.clone()))
        .then(register);
    let login = warp::path!("api" / "login")
        .and(warp::post())
        .and(json_body())
        .and(crate::serve::remote())
        .and(with_state(state.clone()))
        .then(login);
    let auth = authenticated(state.clone());
    let users = warp::path!("api" / "users")
        .and(warp::get())
        .and(auth.clone())
        .and(warp::query::<Page>())
        .and(with_state(state.clone()))
        .then(list_users);
    let user = warp::path!("api" / "users" / String)
        .and(warp::get())
        .and(auth.clone())
        .and(with_state(state.clone()))
        .then(get_user);
    let update = warp::path!("api" / "users" / String)
        .and(warp::patch().or(warp::put()).unify())
        .and(auth.clone())
        .and(json_body())
        .and(with_state(state.clone()))
        .then(update_user);
    let delete = warp::path!("api" / "users" / String)
        .and(warp::delete())
        .and(auth.clone())
        .and(with_state(state.clone()))
        .then(delete_user);
    let contacts = warp::path!("api" / "users" / String / "contacts")
        .and(warp::get())
        .and(auth.clone())
        .and(with_state(state.clone()))
        .then(list_contacts);
    let add_contact = warp::path!("api" / "users" / String / "contacts")
        .and(warp::post())
        .and(auth.clone())
        .and(json_body())
        .and(with_state(state.clone()))
        .then(add_contact);
    let remove_contact = warp::path!("api" / "users" / String / "contacts" / String)
        .and(warp::delete())
        .and(auth.clone())
        .and(with_state(state.clone()))
        .then(remove_contact);
    let create_bot = warp::path!("api" / "bot-tokens")
        .and(warp::post())
        .and(auth.clone())
        .and(json_body())
        .and(with_state(state.clone()))
        .then(create_bot_token);
    let list_bots = warp::path!("api" / "bot-tokens")
        .and(warp::get())
        .and(auth.clone())
        .and(with_state(state.clone()))
        .then(list_bot_tokens);
    let revoke_bot = warp::path!("api" / "bot-tokens" / i64)
        .and(warp::delete())
        .and(auth)
        .and(with_state(state))
        .then(revoke_bot_token);
    register
        .or(login)
        .unify()
        .or(users)
        .unify()
        .or(user)
        .unify()
        .or(update)
        .unify()
        .or(delete)
        .unify()
        .or(contacts)
        .unify()
        .or(add_contact)
        .unify()
        .or(remove_contact)
        .unify()
        .or(create_bot)
        .unify()
        .or(list_bots)
        .unify()
        .or(revoke_bot)
        .unify()
}

fn only_self(identity: &Identity, username: &str) -> Result<(), ApiError> {
    if identity.username == username {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            hellocode_core::protocol::ErrorCode::Forbidden,
            "you may only change your own account",
        ))
    }
}

async fn register(body: Value, peer: Option<SocketAddr>, state: Arc<AppState>) -> Response {
    respond(
        async {
            let registration = registration_form(body)?;
            state
                .limits
                .auth_attempt(
                    peer.map(|peer| peer.ip()),
                    &registration.username,
                    &**state.dispatcher.broker(),
                )
                .await?;
            let user = state.auth.register(registration).await?;
            tracing::info!(user = %user.username, "user registered");
            Ok(json_reply(
                StatusCode::CREATED,
                &json!({ "message": "User created successfully", "user": user }),
            ))
        }
        .await,
    )
}

async fn login(body: Value, peer: Option<SocketAddr>, state: Arc<AppState>) -> Response {
    respond(
        async {
            use hellocode_core::text::{MAX_PASSWORD_CHARS, MAX_USERNAME_CHARS, check};
            let login = login_form(body)?;
            check("username", &login.username, MAX_USERNAME_CHARS)?;
            check("password", &login.password, MAX_PASSWORD_CHARS)?;
            state
                .limits
                .auth_attempt(
                    peer.map(|peer| peer.ip()),
                    &login.username,
                    &**state.dispatcher.broker(),
                )
                .await?;
            let (_, token) = state.auth.login(&login.username, &login.password).await?;
            Ok(json_reply(
                StatusCode::OK,
                &json!({ "token": token, "message": format!("Welcome back {}!", login.username) }),
            ))
        }
        .await,
    )
}

async fn list_users(_: Identity, page: Page, state: Arc<AppState>) -> Response {
    let limit = page.limit.unwrap_or(100).clamp(1, 100);
    respond(
        async {
            if let Some(after) = &page.after {
                hellocode_core::text::check(
                    "after",
                    after,
                    hellocode_core::text::MAX_USERNAME_CHARS,
                )?;
            }
            let users = state.storage.users(page.after.as_deref(), limit).await?;
            Ok(json_reply(StatusCode::OK, &users))
        }
        .await,
    )
}

async fn get_user(username: String, identity: Identity, state: Arc<AppState>) -> Response {
    respond(
        async {
            match dispatch(&state, identity, Command::GetUser { username }).await? {
                ServerFrame::User { user, .. } => Ok(json_reply(StatusCode::OK, &user)),
                other => Err(unexpected(&other)),
            }
        }
        .await,
    )
}

/// Run a contacts command and answer with the contacts it returns.
async fn contacts_reply(
    state: &AppState,
    identity: Identity,
    command: Command,
    status: StatusCode,
) -> Result<Response, ApiError> {
    match dispatch(state, identity, command).await? {
        ServerFrame::Contacts { contacts, .. } => Ok(json_reply(status, &contacts)),
        other => Err(unexpected(&other)),
    }
}

async fn update_user(
    username: String,
    identity: Identity,
    change: ProfileChange,
    state: Arc<AppState>,
) -> Response {
    respond(
        async {
            only_self(&identity, &username)?;
            let mut errors = FieldErrors::new();
            if change.email.as_deref().is_some_and(|email| !crate::auth::is_valid_email(email)) {
                errors.insert("email".into(), vec![crate::auth::INVALID_EMAIL.into()]);
            }
            let password_hash = match &change.password {
                Some(new) => {
                    if change.password_confirmation.as_ref() != Some(new) {
                        errors.insert(
                            "password_confirmation".into(),
                            vec!["The two password fields didn't match.".into()],
                        );
                    }
                    let problems = password::problems(&username, new);
                    if !problems.is_empty() {
                        errors.insert("password".into(), problems);
                    }
                    if !errors.is_empty() {
                        return Err(ApiError::validation(errors));
                    }
                    Some(state.auth.hasher().hash(new.clone()).await?)
                }
                None => None,
            };
            if !errors.is_empty() {
                return Err(ApiError::validation(errors));
            }
            check_profile_text(&change)?;
            let password_changed = password_hash.is_some();
            let update = UserUpdate {
                email: change.email,
                password_hash,
                timezone: change.timezone,
                languages: change.languages,
                avatar: change.avatar,
            };
            let user = state.storage.update_user(&username, update).await?;
            if !password_changed {
                return Ok(json_reply(StatusCode::OK, &user));
            }
            // Other sessions' login tokens are refused from now on and their sockets close;
            // this caller gets a fresh token to go on with.
            let (fresh, token) = state.auth.fresh_login(&username).await?;
            if let (Some(account), Credential::Login { generation, .. }) =
                (fresh.account_id, fresh.credential)
            {
                let revocation = Revocation::PasswordChanged { account, generation };
                state.dispatcher.broker().publish(BrokerEvent::Revoke(revocation)).await;
            }
            tracing::info!(user = %username, "password changed");
            let mut body = json!(user);
            body["token"] = json!(token);
            Ok(json_reply(StatusCode::OK, &body))
        }
        .await,
    )
}

/// The length caps of the profile fields the WebSocket's `update_profile` does not carry.
fn check_profile_text(change: &ProfileChange) -> Result<(), ApiError> {
    use hellocode_core::text::{MAX_AVATAR_CHARS, MAX_LABEL_CHARS, check, check_all};
    check_all("timezone", &change.timezone, MAX_LABEL_CHARS)?;
    check_all("avatar", change.avatar.iter().flatten(), MAX_AVATAR_CHARS)?;
    let languages = change.languages.as_deref().unwrap_or_default();
    if languages.len() > hellocode_core::session::MAX_PROFILE_LANGUAGES {
        return Err(ApiError::bad_request(format!(
            "a profile lists at most {} languages",
            hellocode_core::session::MAX_PROFILE_LANGUAGES
        )));
    }
    languages.iter().try_for_each(|name| check("languages", name, MAX_LABEL_CHARS))?;
    Ok(())
}

async fn delete_user(username: String, identity: Identity, state: Arc<AppState>) -> Response {
    respond(
        async {
            only_self(&identity, &username)?;
            let chats = chats_and_positions(&state, &username).await?;
            state.storage.delete_user(&username).await?;
            state.dispatcher.broker().publish(BrokerEvent::MembershipReset).await;
            announce_leaving(&state, &username, chats).await;
            if let Some(account) = identity.account_id {
                let revocation = Revocation::AccountDeleted { account };
                state.dispatcher.broker().publish(BrokerEvent::Revoke(revocation)).await;
            }
            tracing::info!(user = %username, "user deleted");
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        .await,
    )
}

/// `username`'s chats, each with its newest sequence number: what deleting the account records
/// in them comes after.
async fn chats_and_positions(
    state: &AppState,
    username: &str,
) -> Result<Vec<(ChatId, Seq)>, ApiError> {
    let mut all = Vec::new();
    let mut after = None;
    loop {
        let page = state.storage.chats_of(username, after, MAX_LIST_PAGE).await?;
        all.extend(page.iter().map(|chat| (chat.id, chat.last_seq)));
        match page.last() {
            Some(last) if page.len() == MAX_LIST_PAGE as usize => after = Some(last.id),
            _ => return Ok(all),
        }
    }
}

/// Tell each chat a deleted account was in what deleting recorded there (its `leave`, and a
/// group's new owner), live as if they had left: its members get `chat_changed`. A chat the
/// deletion emptied is gone, with no one left to tell. Best effort: a chat that cannot be
/// read now is skipped (its members see the events when they resume).
async fn announce_leaving(state: &AppState, username: &str, chats: Vec<(ChatId, Seq)>) {
    let shown = deleted_author(username);
    for (chat_id, before) in chats {
        let chat = match state.storage.chat(chat_id).await {
            Ok(Some(chat)) => chat,
            Ok(None) => continue,
            Err(err) => {
                tracing::warn!(chat = %chat_id, error = %err, "cannot announce a deleted account's leaving");
                continue;
            }
        };
        let Some(reader) = chat.participants.first().map(|p| p.username.clone()) else {
            continue;
        };
        let items = state
            .storage
            .messages_after(chat_id, &reader, before, MAX_LIST_PAGE, Items::All)
            .await
            .unwrap_or_default();
        let events: Vec<_> =
            items.into_iter().filter(|item| !item.is_post() && item.author == shown).collect();
        if events.is_empty() {
            continue;
        }
        let frame = ServerFrame::ChatChanged { chat, events };
        let publish = Publish::to_chat(chat_id, frame);
        state.dispatcher.broker().publish(BrokerEvent::Chat(Box::new(publish))).await;
    }
}

async fn list_contacts(username: String, identity: Identity, state: Arc<AppState>) -> Response {
    respond(
        async {
            only_self(&identity, &username)?;
            contacts_reply(&state, identity, Command::ListContacts {}, StatusCode::OK).await
        }
        .await,
    )
}

async fn add_contact(
    username: String,
    identity: Identity,
    contact: Contact,
    state: Arc<AppState>,
) -> Response {
    respond(
        async {
            only_self(&identity, &username)?;
            let command = Command::AddContact { username: contact.username };
            contacts_reply(&state, identity, command, StatusCode::CREATED).await
        }
        .await,
    )
}

async fn remove_contact(
    username: String,
    contact: String,
    identity: Identity,
    state: Arc<AppState>,
) -> Response {
    respond(
        async {
            only_self(&identity, &username)?;
            let command = Command::RemoveContact { username: contact };
            contacts_reply(&state, identity, command, StatusCode::NO_CONTENT).await?;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        .await,
    )
}

/// Calls [`Auth::create_bot_token`](crate::auth::Auth::create_bot_token), as the dispatcher
/// does for `create_bot_token`, so that invalid names keep their 422 answer per field.
async fn create_bot_token(identity: Identity, new: NewBotToken, state: Arc<AppState>) -> Response {
    respond(
        async {
            let (id, token) = state.auth.create_bot_token(&identity.username, &new.name).await?;
            Ok(json_reply(
                StatusCode::CREATED,
                &json!({ "id": id, "name": new.name.trim(), "token": token }),
            ))
        }
        .await,
    )
}

async fn list_bot_tokens(identity: Identity, state: Arc<AppState>) -> Response {
    respond(
        async {
            match dispatch(&state, identity, Command::ListBotTokens {}).await? {
                ServerFrame::BotTokens { tokens, .. } => Ok(json_reply(StatusCode::OK, &tokens)),
                other => Err(unexpected(&other)),
            }
        }
        .await,
    )
}

async fn revoke_bot_token(id: i64, identity: Identity, state: Arc<AppState>) -> Response {
    respond(
        async {
            let username = identity.username.clone();
            match dispatch(&state, identity, Command::RevokeBotToken { token_id: id }).await? {
                ServerFrame::Ok { .. } => {
                    tracing::info!(user = %username, token = id, "bot token revoked");
                    Ok(StatusCode::NO_CONTENT.into_response())
                }
                other => Err(unexpected(&other)),
            }
        }
        .await,
    )
}
