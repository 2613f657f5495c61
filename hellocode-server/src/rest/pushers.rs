//! Push settings over REST: the same commands as on the WebSocket (`set_pusher`,
//! `remove_pusher`, `get_push_settings`, `mute_chat`), each answering the caller's pushers and
//! muted chats.

use std::sync::Arc;

use hellocode_core::model::ChatId;
use hellocode_core::protocol::{Command, ServerFrame};
use hellocode_core::session::Identity;
use serde::Deserialize;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::{
    ApiError, authenticated, dispatch, json_body, json_reply, respond, unexpected, with_state,
};
use crate::app::AppState;

/// The body of `POST /api/pushers/`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PusherBody {
    #[serde(rename = "appId")]
    app_id: String,
    pushkey: String,
    url: String,
    #[serde(rename = "deviceName", default)]
    device_name: Option<String>,
    #[serde(default)]
    lang: Option<String>,
    #[serde(default)]
    previews: Option<bool>,
}

/// The body of `POST /api/pushers/remove/`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PusherKey {
    #[serde(rename = "appId")]
    app_id: String,
    pushkey: String,
}

/// The body of `PUT /api/chat/<id>/mute/`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Mute {
    muted: bool,
}

pub(super) fn routes(
    state: Arc<AppState>,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let auth = authenticated(state.clone());
    let list = warp::path!("api" / "pushers")
        .and(warp::get())
        .and(auth.clone())
        .and(with_state(state.clone()))
        .then(|identity, state| settings(state, identity, Command::GetPushSettings {}));
    let set = warp::path!("api" / "pushers")
        .and(warp::post())
        .and(auth.clone())
        .and(json_body())
        .and(with_state(state.clone()))
        .then(|identity, body: PusherBody, state| {
            let command = Command::SetPusher {
                app_id: body.app_id,
                pushkey: body.pushkey,
                url: body.url,
                device_name: body.device_name,
                lang: body.lang,
                previews: body.previews,
            };
            settings(state, identity, command)
        });
    let remove = warp::path!("api" / "pushers" / "remove")
        .and(warp::post())
        .and(auth.clone())
        .and(json_body())
        .and(with_state(state.clone()))
        .then(|identity, key: PusherKey, state| {
            let command = Command::RemovePusher { app_id: key.app_id, pushkey: key.pushkey };
            settings(state, identity, command)
        });
    let mute = warp::path!("api" / "chat" / i64 / "mute")
        .and(warp::put())
        .and(auth)
        .and(json_body())
        .and(with_state(state))
        .then(|chat: i64, identity, mute: Mute, state| {
            let command = Command::MuteChat { chat_id: Some(ChatId(chat)), muted: mute.muted };
            settings(state, identity, command)
        });
    list.or(set).unify().or(remove).unify().or(mute).unify()
}

async fn settings(state: Arc<AppState>, identity: Identity, command: Command) -> Response {
    respond(
        async {
            match dispatch(&state, identity, command).await? {
                ServerFrame::PushSettings { settings, .. } => {
                    Ok(json_reply(StatusCode::OK, &settings))
                }
                other => Err::<Response, ApiError>(unexpected(&other)),
            }
        }
        .await,
    )
}
