//! Chat membership over REST: the original app's participant replacement and deletion, and the
//! group routes (members, roles, leaving). Each is a mapping onto protocol commands run by the
//! dispatcher, so the rules and the events are those of the WebSocket.

use std::sync::Arc;

use hellocode_core::model::{Chat, ChatId, Role};
use hellocode_core::protocol::{Command, ServerFrame};
use hellocode_core::session::Identity;
use serde::Deserialize;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

use super::{
    ApiError, authenticated, dispatch, idempotency_key, json_body, json_reply, respond, unexpected,
    with_state,
};
use crate::app::AppState;

/// `PUT /api/chat/<id>/update/`: any of the three.
#[derive(Debug, Deserialize)]
struct ChatUpdate {
    participants: Option<Vec<String>>,
    name: Option<String>,
    topic: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Usernames {
    usernames: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct NewRole {
    role: Role,
}

pub(super) fn routes(
    state: Arc<AppState>,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let auth = authenticated(state.clone());
    let update = warp::path!("api" / "chat" / i64 / "update")
        .and(warp::put().or(warp::patch()).unify())
        .and(auth.clone())
        .and(json_body())
        .and(with_state(state.clone()))
        .then(update_chat);
    let delete = warp::path!("api" / "chat" / i64 / "delete")
        .and(warp::delete())
        .and(auth.clone())
        .and(with_state(state.clone()))
        .then(delete_chat);
    let leave = warp::path!("api" / "chat" / i64 / "leave")
        .and(warp::post())
        .and(auth.clone())
        .and(idempotency_key())
        .and(with_state(state.clone()))
        .then(leave_chat);
    let add = warp::path!("api" / "chat" / i64 / "members")
        .and(warp::post())
        .and(auth.clone())
        .and(idempotency_key())
        .and(json_body())
        .and(with_state(state.clone()))
        .then(add_members);
    let remove = warp::path!("api" / "chat" / i64 / "members" / String)
        .and(warp::delete())
        .and(auth.clone())
        .and(idempotency_key())
        .and(with_state(state.clone()))
        .then(remove_member);
    let role = warp::path!("api" / "chat" / i64 / "members" / String / "role")
        .and(warp::put())
        .and(auth)
        .and(idempotency_key())
        .and(json_body())
        .and(with_state(state))
        .then(set_role);
    update.or(delete).unify().or(leave).unify().or(add).unify().or(remove).unify().or(role).unify()
}

/// Run a command that answers with the chat.
async fn chat_command(
    state: &AppState,
    identity: Identity,
    command: Command,
) -> Result<Chat, ApiError> {
    match dispatch(state, identity, command).await? {
        ServerFrame::Chat { chat, .. } => Ok(chat),
        other => Err(unexpected(&other)),
    }
}

/// Run a command that answers `ok`.
async fn done(
    state: &AppState,
    identity: Identity,
    command: Command,
) -> Result<Response, ApiError> {
    match dispatch(state, identity, command).await? {
        ServerFrame::Ok { .. } => Ok(StatusCode::NO_CONTENT.into_response()),
        other => Err(unexpected(&other)),
    }
}

/// The original app's replacement of the participant list, as the commands a user would run:
/// add those missing, remove those left out (leaving last if the caller left themselves out),
/// then rename. Each step is its own change with its own events; a refused step stops there.
async fn update_chat(
    id: i64,
    identity: Identity,
    body: ChatUpdate,
    state: Arc<AppState>,
) -> Response {
    respond(
        async {
            let chat_id = Some(ChatId(id));
            let current = chat_command(&state, identity.clone(), detail(id)).await?;
            let me = identity.username.clone();
            let mut left = false;
            if let Some(mut wanted) = body.participants {
                wanted.sort_unstable();
                wanted.dedup();
                if wanted.is_empty() {
                    return Err(ApiError::bad_request("participants must name at least one user"));
                }
                let added: Vec<String> =
                    wanted.iter().filter(|name| !current.has_participant(name)).cloned().collect();
                if !added.is_empty() {
                    // Each step is idempotent as the whole is: a retried replacement finds
                    // what the first one did and does only what is left.
                    let command =
                        Command::AddParticipants { chat_id, usernames: added, client_id: None };
                    chat_command(&state, identity.clone(), command).await?;
                }
                for gone in current.participants.iter().filter(|p| !wanted.contains(&p.username)) {
                    if gone.username == me {
                        left = true;
                        continue;
                    }
                    let username = gone.username.clone();
                    let command = Command::RemoveParticipant { chat_id, username, client_id: None };
                    chat_command(&state, identity.clone(), command).await?;
                }
            }
            if body.name.is_some() || body.topic.is_some() {
                let (name, topic) = (body.name, body.topic);
                let command = Command::UpdateChat { chat_id, name, topic, client_id: None };
                chat_command(&state, identity.clone(), command).await?;
            }
            if left {
                done(&state, identity, Command::LeaveChat { chat_id, client_id: None }).await?;
                return Ok(StatusCode::NO_CONTENT.into_response());
            }
            let chat = chat_command(&state, identity, detail(id)).await?;
            Ok(json_reply(StatusCode::OK, &chat))
        }
        .await,
    )
}

/// The chat, for a member (`get_chat`).
fn detail(id: i64) -> Command {
    Command::GetChat { chat_id: Some(ChatId(id)) }
}

async fn delete_chat(id: i64, identity: Identity, state: Arc<AppState>) -> Response {
    respond(done(&state, identity, Command::DeleteChat { chat_id: Some(ChatId(id)) }).await)
}

async fn leave_chat(
    id: i64,
    identity: Identity,
    client_id: Option<String>,
    state: Arc<AppState>,
) -> Response {
    let command = Command::LeaveChat { chat_id: Some(ChatId(id)), client_id };
    respond(done(&state, identity, command).await)
}

async fn add_members(
    id: i64,
    identity: Identity,
    client_id: Option<String>,
    body: Usernames,
    state: Arc<AppState>,
) -> Response {
    let usernames = body.usernames;
    let command = Command::AddParticipants { chat_id: Some(ChatId(id)), usernames, client_id };
    respond(
        chat_command(&state, identity, command).await.map(|chat| json_reply(StatusCode::OK, &chat)),
    )
}

async fn remove_member(
    id: i64,
    username: String,
    identity: Identity,
    client_id: Option<String>,
    state: Arc<AppState>,
) -> Response {
    let command = Command::RemoveParticipant { chat_id: Some(ChatId(id)), username, client_id };
    respond(
        chat_command(&state, identity, command).await.map(|chat| json_reply(StatusCode::OK, &chat)),
    )
}

async fn set_role(
    id: i64,
    username: String,
    identity: Identity,
    client_id: Option<String>,
    body: NewRole,
    state: Arc<AppState>,
) -> Response {
    let role = body.role;
    let command = Command::SetRole { chat_id: Some(ChatId(id)), username, role, client_id };
    respond(
        chat_command(&state, identity, command).await.map(|chat| json_reply(StatusCode::OK, &chat)),
    )
}
