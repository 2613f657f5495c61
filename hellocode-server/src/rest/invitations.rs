//! Invitations and invite links over REST: each route is a mapping onto a protocol command run
//! by the dispatcher, so the rules, the events (the invitee's `invitation`, a joiner's
//! `chat_created`, the members' `chat_changed`) and the creation limits are the WebSocket's.
//!
//! A link's token travels in bodies only (`POST /api/join/` takes it in its body, not its URL),
//! so that it stays out of access logs and proxies' URL logs.

use std::sync::Arc;

use hellocode_core::model::ChatId;
use hellocode_core::protocol::{Command, ServerFrame};
use hellocode_core::session::Identity;
use serde::Deserialize;
use serde_json::json;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

use super::{authenticated, dispatch, json_body, json_reply, respond, unexpected, with_state};
use crate::app::AppState;

/// `POST /api/chat/<id>/invitations/`.
#[derive(Debug, Deserialize)]
struct NewInvitation {
    username: String,
}

/// `POST /api/chat/<id>/links/`: both optional (`{}` for a week and no use limit).
#[derive(Debug, Deserialize)]
struct NewLink {
    #[serde(rename = "expiresIn")]
    expires_in: Option<u64>,
    #[serde(rename = "maxUses")]
    max_uses: Option<u32>,
}

/// `POST /api/join/`.
#[derive(Debug, Deserialize)]
struct Join {
    token: String,
}

/// `?after=&limit=` of the list routes (after: an id).
#[derive(Debug, Deserialize)]
struct PageQuery {
    after: Option<i64>,
    limit: Option<u32>,
}

pub(super) fn routes(
    state: Arc<AppState>,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let auth = authenticated(state.clone());
    let invite = warp::path!("api" / "chat" / i64 / "invitations")
        .and(warp::post())
        .and(auth.clone())
        .and(json_body())
        .and(with_state(state.clone()))
        .then(invite);
    let list = warp::path!("api" / "invitations")
        .and(warp::get())
        .and(auth.clone())
        .and(warp::query::<PageQuery>())
        .and(with_state(state.clone()))
        .then(list_invitations);
    let accept = warp::path!("api" / "invitations" / i64 / "accept")
        .and(warp::post())
        .and(auth.clone())
        .and(with_state(state.clone()))
        .then(accept);
    let decline = warp::path!("api" / "invitations" / i64 / "decline")
        .and(warp::post())
        .and(auth.clone())
        .and(with_state(state.clone()))
        .then(decline);
    let cancel = warp::path!("api" / "invitations" / i64)
        .and(warp::delete())
        .and(auth.clone())
        .and(with_state(state.clone()))
        .then(cancel);
    let create_link = warp::path!("api" / "chat" / i64 / "links")
        .and(warp::post())
        .and(auth.clone())
        .and(json_body())
        .and(with_state(state.clone()))
        .then(create_link);
    let links = warp::path!("api" / "chat" / i64 / "links")
        .and(warp::get())
        .and(auth.clone())
        .and(warp::query::<PageQuery>())
        .and(with_state(state.clone()))
        .then(list_links);
    let revoke = warp::path!("api" / "chat" / i64 / "links" / i64)
        .and(warp::delete())
        .and(auth.clone())
        .and(with_state(state.clone()))
        .then(revoke_link);
    let join = warp::path!("api" / "join")
        .and(warp::post())
        .and(auth)
        .and(json_body())
        .and(with_state(state))
        .then(join);
    invite
        .or(list)
        .unify()
        .or(accept)
        .unify()
        .or(decline)
        .unify()
        .or(cancel)
        .unify()
        .or(create_link)
        .unify()
        .or(links)
        .unify()
        .or(revoke)
        .unify()
        .or(join)
        .unify()
}

/// Run a command that answers `ok`, as 204.
async fn done(state: &AppState, identity: Identity, command: Command) -> Response {
    respond(match dispatch(state, identity, command).await {
        Ok(ServerFrame::Ok { .. }) => Ok(StatusCode::NO_CONTENT.into_response()),
        Ok(other) => Err(unexpected(&other)),
        Err(err) => Err(err),
    })
}

/// Run a join (`accept_invitation`, `join_by_link`): 200 with the chat joined.
async fn joined(state: &AppState, identity: Identity, command: Command) -> Response {
    respond(match dispatch(state, identity, command).await {
        Ok(ServerFrame::Chat { chat, .. }) => Ok(json_reply(StatusCode::OK, &chat)),
        Ok(other) => Err(unexpected(&other)),
        Err(err) => Err(err),
    })
}

async fn invite(
    id: i64,
    identity: Identity,
    body: NewInvitation,
    state: Arc<AppState>,
) -> Response {
    let command = Command::Invite { chat_id: Some(ChatId(id)), username: body.username };
    respond(match dispatch(&state, identity, command).await {
        Ok(ServerFrame::Invitation { invitation, .. }) => {
            Ok(json_reply(StatusCode::CREATED, &invitation))
        }
        Ok(other) => Err(unexpected(&other)),
        Err(err) => Err(err),
    })
}

async fn list_invitations(identity: Identity, query: PageQuery, state: Arc<AppState>) -> Response {
    let command = Command::ListInvitations { after: query.after, limit: query.limit };
    respond(match dispatch(&state, identity, command).await {
        Ok(ServerFrame::Invitations { invitations, .. }) => {
            Ok(json_reply(StatusCode::OK, &invitations))
        }
        Ok(other) => Err(unexpected(&other)),
        Err(err) => Err(err),
    })
}

async fn accept(id: i64, identity: Identity, state: Arc<AppState>) -> Response {
    joined(&state, identity, Command::AcceptInvitation { invitation_id: id }).await
}

async fn decline(id: i64, identity: Identity, state: Arc<AppState>) -> Response {
    done(&state, identity, Command::DeclineInvitation { invitation_id: id }).await
}

async fn cancel(id: i64, identity: Identity, state: Arc<AppState>) -> Response {
    done(&state, identity, Command::CancelInvitation { invitation_id: id }).await
}

async fn create_link(id: i64, identity: Identity, body: NewLink, state: Arc<AppState>) -> Response {
    let command = Command::CreateInviteLink {
        chat_id: Some(ChatId(id)),
        expires_in: body.expires_in,
        max_uses: body.max_uses,
    };
    respond(match dispatch(&state, identity, command).await {
        Ok(ServerFrame::InviteLink { link, token, .. }) => {
            Ok(json_reply(StatusCode::CREATED, &json!({ "link": link, "token": token })))
        }
        Ok(other) => Err(unexpected(&other)),
        Err(err) => Err(err),
    })
}

async fn list_links(
    id: i64,
    identity: Identity,
    query: PageQuery,
    state: Arc<AppState>,
) -> Response {
    let command = Command::ListInviteLinks {
        chat_id: Some(ChatId(id)),
        after: query.after,
        limit: query.limit,
    };
    respond(match dispatch(&state, identity, command).await {
        Ok(ServerFrame::InviteLinks { links, .. }) => Ok(json_reply(StatusCode::OK, &links)),
        Ok(other) => Err(unexpected(&other)),
        Err(err) => Err(err),
    })
}

async fn revoke_link(id: i64, link: i64, identity: Identity, state: Arc<AppState>) -> Response {
    done(&state, identity, Command::RevokeInviteLink { chat_id: Some(ChatId(id)), link_id: link })
        .await
}

async fn join(identity: Identity, body: Join, state: Arc<AppState>) -> Response {
    joined(&state, identity, Command::JoinByLink { token: body.token }).await
}
