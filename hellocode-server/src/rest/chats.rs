//! Languages, chats and message history. Chats are visible to their participants only; changes
//! to their members are in [`super::members`].

use std::sync::Arc;

use hellocode_core::model::{ChatId, Seq};
use hellocode_core::protocol::{Command, MAX_LIST_PAGE, ServerFrame};
use hellocode_core::session::Identity;
use serde::Deserialize;
use serde_json::json;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::{
    ApiError, authenticated, dispatch, idempotency_key, json_body, json_reply, respond, unexpected,
    with_state,
};
use crate::app::AppState;

#[derive(Debug, Deserialize)]
struct NewLanguage {
    name: String,
}

#[derive(Debug, Deserialize)]
struct NewChat {
    participants: Vec<String>,
    name: Option<String>,
    topic: Option<String>,
}

/// `?after=&limit=` of the list routes (agreed protocol: default and cap 500).
#[derive(Debug, Deserialize)]
struct ListQuery {
    after: Option<String>,
    limit: Option<u32>,
}

impl ListQuery {
    fn limit(&self) -> Result<u32, ApiError> {
        match self.limit {
            Some(0) => Err(ApiError::bad_request("limit must be at least 1")),
            Some(n) => Ok(n.min(MAX_LIST_PAGE)),
            None => Ok(MAX_LIST_PAGE),
        }
    }

    /// `after` as text, held to the text rules.
    fn after(&self) -> Result<Option<&str>, ApiError> {
        if let Some(after) = &self.after {
            hellocode_core::text::check("after", after, hellocode_core::text::MAX_LABEL_CHARS)?;
        }
        Ok(self.after.as_deref())
    }
}

#[derive(Debug, Deserialize)]
struct HistoryQuery {
    before: Option<Seq>,
    limit: Option<u32>,
}

#[derive(Debug, Deserialize)]
struct Post {
    #[serde(default)]
    message: String,
    #[serde(rename = "clientId", alias = "client_id")]
    client_id: Option<String>,
    /// Addresses of attachments uploaded to the chat.
    #[serde(default)]
    attachments: Vec<String>,
}

pub(super) fn routes(
    state: Arc<AppState>,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let auth = authenticated(state.clone());
    let languages = warp::path!("api" / "languages")
        .and(warp::get())
        .and(warp::query::<ListQuery>())
        .and(with_state(state.clone()))
        .then(list_languages);
    let add_language = warp::path!("api" / "languages")
        .and(warp::post())
        .and(auth.clone())
        .and(json_body())
        .and(with_state(state.clone()))
        .then(add_language);
    let by_language = warp::path!("api" / "languages" / String / "users")
        .and(warp::get())
        .and(auth.clone())
        .and(warp::query::<ListQuery>())
        .and(with_state(state.clone()))
        .then(users_by_language);
    let chats = warp::path!("api" / "chat")
        .and(warp::get())
        .and(auth.clone())
        .and(warp::query::<ListQuery>())
        .and(with_state(state.clone()))
        .then(list_chats);
    let create = warp::path!("api" / "chat" / "create")
        .and(warp::post())
        .and(auth.clone())
        .and(idempotency_key())
        .and(json_body())
        .and(with_state(state.clone()))
        .then(create_chat);
    let detail = warp::path!("api" / "chat" / i64)
        .and(warp::get())
        .and(auth.clone())
        .and(with_state(state.clone()))
        .then(chat_detail);
    let history = warp::path!("api" / "chat" / i64 / "messages")
        .and(warp::get())
        .and(auth.clone())
        .and(warp::query::<HistoryQuery>())
        .and(with_state(state.clone()))
        .then(history);
    let post = warp::path!("api" / "chat" / i64 / "messages")
        .and(warp::post())
        .and(auth)
        .and(json_body())
        .and(with_state(state))
        .then(post_message);
    languages
        .or(add_language)
        .unify()
        .or(by_language)
        .unify()
        .or(chats)
        .unify()
        .or(create)
        .unify()
        .or(detail)
        .unify()
        .or(history)
        .unify()
        .or(post)
        .unify()
}

async fn list_languages(query: ListQuery, state: Arc<AppState>) -> Response {
    respond(
        async {
            let page = state.storage.languages_after(query.after()?, query.limit()?).await?;
            Ok(json_reply(StatusCode::OK, &page))
        }
        .await,
    )
}

async fn add_language(identity: Identity, new: NewLanguage, state: Arc<AppState>) -> Response {
    respond(
        async {
            let name = new.name.trim();
            if name.is_empty() || name.chars().count() > 64 {
                let fields =
                    [("name".to_owned(), vec!["Give a name of 1 to 64 characters.".to_owned()])];
                return Err(ApiError::validation(fields.into()));
            }
            let command = Command::AddLanguage { name: name.to_owned() };
            match dispatch(&state, identity, command).await? {
                ServerFrame::Language { language, .. } => {
                    Ok(json_reply(StatusCode::CREATED, &language))
                }
                other => Err(unexpected(&other)),
            }
        }
        .await,
    )
}

async fn users_by_language(
    language: String,
    identity: Identity,
    query: ListQuery,
    state: Arc<AppState>,
) -> Response {
    respond(
        async {
            let after = query.after()?.map(str::to_owned);
            let command = Command::FindUsers { language, after, limit: Some(query.limit()?) };
            match dispatch(&state, identity, command).await? {
                ServerFrame::Users { users, .. } => Ok(json_reply(StatusCode::OK, &users)),
                other => Err(unexpected(&other)),
            }
        }
        .await,
    )
}

async fn list_chats(identity: Identity, query: ListQuery, state: Arc<AppState>) -> Response {
    respond(
        async {
            let after = match query.after.as_deref().map(str::parse::<i64>) {
                None => None,
                Some(Ok(id)) => Some(ChatId(id)),
                Some(Err(_)) => return Err(ApiError::bad_request("after must be a chat id")),
            };
            let command = Command::ListChats { after, limit: query.limit };
            match dispatch(&state, identity, command).await? {
                ServerFrame::Chats { chats, .. } => Ok(json_reply(StatusCode::OK, &chats)),
                other => Err(unexpected(&other)),
            }
        }
        .await,
    )
}

async fn create_chat(
    identity: Identity,
    client_id: Option<String>,
    body: NewChat,
    state: Arc<AppState>,
) -> Response {
    respond(
        async {
            let NewChat { participants, name, topic } = body;
            let command = Command::CreateChat { participants, name, topic, client_id };
            match dispatch(&state, identity, command).await? {
                ServerFrame::Chat { chat, .. } => Ok(json_reply(StatusCode::CREATED, &chat)),
                other => Err(unexpected(&other)),
            }
        }
        .await,
    )
}

async fn chat_detail(id: i64, identity: Identity, state: Arc<AppState>) -> Response {
    respond(
        async {
            match dispatch(&state, identity, Command::GetChat { chat_id: Some(ChatId(id)) }).await?
            {
                ServerFrame::Chat { chat, .. } => Ok(json_reply(StatusCode::OK, &chat)),
                other => Err(unexpected(&other)),
            }
        }
        .await,
    )
}

async fn history(
    id: i64,
    identity: Identity,
    query: HistoryQuery,
    state: Arc<AppState>,
) -> Response {
    respond(
        async {
            let command = Command::FetchMessages {
                chat_id: Some(ChatId(id)),
                limit: query.limit,
                before: query.before,
            };
            match dispatch(&state, identity, command).await? {
                ServerFrame::Messages { messages, .. } => {
                    Ok(json_reply(StatusCode::OK, &json!({ "messages": messages })))
                }
                other => Err(unexpected(&other)),
            }
        }
        .await,
    )
}

async fn post_message(id: i64, identity: Identity, post: Post, state: Arc<AppState>) -> Response {
    respond(
        async {
            let command = Command::NewMessage {
                chat_id: Some(ChatId(id)),
                message: post.message,
                from: None,
                client_id: post.client_id,
                attachments: post.attachments,
            };
            match dispatch(&state, identity, command).await? {
                ServerFrame::Ack { message, .. } => Ok(json_reply(StatusCode::CREATED, &message)),
                other => Err(unexpected(&other)),
            }
        }
        .await,
    )
}
