//! The Rust SDK's values in the scenarios' canonical JSON shape (see the crate's README).

use hellocode_sdk::{
    Attachment, BotToken, Chat, ConnectionState, Download, Event, Invitation, InviteLink,
    IssuedBotToken, IssuedInviteLink, Language, Message, PendingSend, PushSettings, SendState,
    User,
};
use serde_json::{Map, Value, json};

pub(crate) fn message(message: &Message) -> Value {
    json!({
        "id": message.id,
        "chat": message.chat_id.0,
        "seq": message.seq.0,
        "author": message.author,
        "content": message.content,
        "deleted": message.deleted,
        "edited": message.edited_at.is_some(),
        "client_id": message.client_id,
        "item": message.kind.as_str(),
        "target": message.target.map(|seq| seq.0),
        "member": message.member,
        "role": message.role.map(|role| role.as_str()),
        "attachments": message.attachments.iter().map(attachment).collect::<Vec<_>>(),
    })
}

pub(crate) fn attachment(attachment: &Attachment) -> Value {
    json!({
        "id": attachment.id,
        "name": attachment.name,
        "contentType": attachment.content_type,
        "size": attachment.size,
        "width": attachment.width,
        "height": attachment.height,
        "thumbnail": attachment.thumbnail,
    })
}

pub(crate) fn push_settings(settings: &PushSettings) -> Value {
    let pushers: Vec<Value> = settings
        .pushers
        .iter()
        .map(|pusher| {
            json!({
                "app_id": pusher.app_id,
                "pushkey": pusher.pushkey,
                "url": pusher.url,
                "device_name": pusher.device_name,
                "lang": pusher.lang,
                "previews": pusher.previews,
            })
        })
        .collect();
    let muted: Vec<i64> = settings.muted_chats.iter().map(|chat| chat.0).collect();
    json!({ "pushers": pushers, "muted_chats": muted })
}

pub(crate) fn download(download: &Download) -> Value {
    json!({
        "contentType": download.content_type,
        "size": download.data.len(),
        "text": std::str::from_utf8(&download.data).ok(),
    })
}

pub(crate) fn messages(messages: &[Message]) -> Value {
    Value::Array(messages.iter().map(message).collect())
}

pub(crate) fn chat(chat: &Chat) -> Value {
    let participants: Vec<&str> = chat.participants.iter().map(|p| p.username.as_str()).collect();
    let roles: Map<String, Value> = chat
        .participants
        .iter()
        .filter_map(|p| p.role.map(|role| (p.username.clone(), json!(role.as_str()))))
        .collect();
    json!({
        "id": chat.id.0,
        "kind": chat.kind.as_str(),
        "name": chat.name,
        "topic": chat.topic,
        "participants": participants,
        "roles": roles,
        "last_seq": chat.last_seq.0,
    })
}

pub(crate) fn chats(chats: &[Chat]) -> Value {
    Value::Array(chats.iter().map(chat).collect())
}

pub(crate) fn user(user: &User) -> Value {
    json!({
        "id": user.id,
        "username": user.username,
        "timezone": user.timezone,
        "languages": user.languages,
        "avatar": user.avatar,
    })
}

pub(crate) fn users(users: &[User]) -> Value {
    Value::Array(users.iter().map(user).collect())
}

pub(crate) fn language(language: &Language) -> Value {
    json!({"id": language.id, "name": language.name})
}

pub(crate) fn pending(pending: &PendingSend) -> Value {
    json!({"client_id": pending.client_id, "chat": pending.chat_id.0, "content": pending.content})
}

pub(crate) fn issued_bot_token(token: &IssuedBotToken) -> Value {
    json!({"id": token.id, "name": token.name, "token": token.token})
}

pub(crate) fn bot_token(token: &BotToken) -> Value {
    json!({"id": token.id, "name": token.name, "revoked": token.revoked})
}

pub(crate) fn invitation(invitation: &Invitation) -> Value {
    json!({
        "id": invitation.id,
        "chat": invitation.chat_id.0,
        "chat_kind": invitation.kind.as_str(),
        "name": invitation.name,
        "inviter": invitation.inviter,
        "invitee": invitation.invitee,
        "state": invitation.state.as_str(),
    })
}

pub(crate) fn invite_link(link: &InviteLink) -> Value {
    json!({
        "id": link.id,
        "chat": link.chat_id.0,
        "created_by": link.created_by,
        "lifetime": (link.expires_at.unix_millis() - link.created_at.unix_millis()) / 1000,
        "max_uses": link.max_uses,
        "uses": link.uses,
        "revoked": link.revoked,
    })
}

pub(crate) fn issued_invite_link(issued: &IssuedInviteLink) -> Value {
    json!({"link": invite_link(&issued.link), "token": issued.token})
}

pub(crate) fn state(state: &ConnectionState) -> Value {
    match state {
        ConnectionState::Connected { username } => {
            json!({"state": "connected", "username": username})
        }
        ConnectionState::Reconnecting { attempt, error, .. } => {
            json!({"state": "reconnecting", "attempt": attempt, "error": error.code()})
        }
        ConnectionState::Closed { error } => {
            json!({"state": "closed", "error": error.as_ref().map(|error| error.code())})
        }
        _ => json!({"state": "unknown"}),
    }
}

pub(crate) fn event(event: &Event) -> Value {
    let (kind, mut body) = match event {
        Event::Message(m) => ("message", message(m)),
        Event::Edited(m) => ("edited", message(m)),
        Event::Deleted { chat_id, seq } => ("deleted", json!({"chat": chat_id.0, "seq": seq.0})),
        Event::Typing { chat_id, username } => {
            ("typing", json!({"chat": chat_id.0, "username": username}))
        }
        Event::Read { chat_id, username, seq } => {
            ("read", json!({"chat": chat_id.0, "username": username, "seq": seq.0}))
        }
        Event::Presence { username, online } => {
            ("presence", json!({"username": username, "online": online}))
        }
        Event::Online { usernames } => ("online", json!({"usernames": usernames})),
        Event::ChatCreated(c) => ("chat_created", chat(c)),
        Event::ChatEvent(m) => ("chat_event", message(m)),
        Event::ChatChanged(c) => ("chat_changed", chat(c)),
        Event::ChatDeleted { chat_id, by } => {
            ("chat_deleted", json!({"chat": chat_id.0, "by": by}))
        }
        Event::Invitation(i) => ("invitation", invitation(i)),
        Event::Send(update) => {
            let mut body = json!({"client_id": update.client_id, "chat": update.chat_id.0});
            let (state, extra) = match &update.state {
                SendState::Pending => ("pending", None),
                SendState::Sent(m) => ("sent", Some(("message", message(m)))),
                SendState::Failed(error) => ("failed", Some(("error", json!(error.code())))),
                _ => ("unknown", None),
            };
            body["state"] = json!(state);
            if let Some((key, value)) = extra {
                body[key] = value;
            }
            ("send", body)
        }
        Event::Connection(connection) => ("connection", state(connection)),
        _ => ("unknown", json!({})),
    };
    body["kind"] = json!(kind);
    body
}
