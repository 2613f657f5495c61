"""The Python package's values in the transcript scenarios' canonical JSON shape: the same shape
as bindings/conformance/tests/support/canonical.rs gives the Rust SDK's (see that crate's README),
so that both runners check the same thing."""

from __future__ import annotations

from typing import Any, Optional

import hellocode

#: A JSON value (dicts, lists, str, int, float, bool, None).
Json = Any


def message(message: hellocode.Message) -> Json:
    return {
        "id": message.id,
        "chat": message.chat_id,
        "seq": message.seq,
        "author": message.author,
        "content": message.content,
        "deleted": message.deleted,
        "edited": message.edited_at is not None,
        "client_id": message.client_id,
        "item": message.kind.value,
        "target": message.target,
        "member": message.member,
        "role": None if message.role is None else message.role.value,
        "attachments": [attachment(a) for a in message.attachments],
    }


def attachment(attachment: hellocode.Attachment) -> Json:
    return {
        "id": attachment.id,
        "name": attachment.name,
        "contentType": attachment.content_type,
        "size": attachment.size,
        "width": attachment.width,
        "height": attachment.height,
        "thumbnail": attachment.thumbnail,
    }


def download(download: hellocode.Download) -> Json:
    try:
        text: Optional[str] = download.data.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    return {"contentType": download.content_type, "size": len(download.data), "text": text}


def messages(messages: list[hellocode.Message]) -> Json:
    return [message(m) for m in messages]


def chat(chat: hellocode.Chat) -> Json:
    return {
        "id": chat.id,
        "kind": chat.kind.value,
        "name": chat.name,
        "topic": chat.topic,
        "participants": list(chat.participants),
        "roles": {m.username: m.role.value for m in chat.members if m.role is not None},
        "last_seq": chat.last_seq,
    }


def chats(chats: list[hellocode.Chat]) -> Json:
    return [chat(c) for c in chats]


def user(user: hellocode.User) -> Json:
    return {
        "id": user.id,
        "username": user.username,
        "timezone": user.timezone,
        "languages": list(user.languages),
        "avatar": user.avatar,
    }


def users(users: list[hellocode.User]) -> Json:
    return [user(u) for u in users]


def language(language: hellocode.Language) -> Json:
    return {"id": language.id, "name": language.name}


def pending(pending: hellocode.PendingSend) -> Json:
    return {"client_id": pending.client_id, "chat": pending.chat_id, "content": pending.content}


def issued_bot_token(token: hellocode.IssuedBotToken) -> Json:
    return {"id": token.id, "name": token.name, "token": token.token}


def bot_token(token: hellocode.BotToken) -> Json:
    return {"id": token.id, "name": token.name, "revoked": token.revoked}


def invitation(invitation: hellocode.Invitation) -> Json:
    return {
        "id": invitation.id,
        "chat": invitation.chat_id,
        "chat_kind": invitation.kind.value,
        "name": invitation.name,
        "inviter": invitation.inviter,
        "invitee": invitation.invitee,
        "state": invitation.state.value,
    }


def invite_link(link: hellocode.InviteLink) -> Json:
    return {
        "id": link.id,
        "chat": link.chat_id,
        "created_by": link.created_by,
        "lifetime": int((link.expires_at - link.created_at).total_seconds()),
        "max_uses": link.max_uses,
        "uses": link.uses,
        "revoked": link.revoked,
    }


def issued_invite_link(issued: hellocode.IssuedInviteLink) -> Json:
    return {"link": invite_link(issued.link), "token": issued.token}


def push_settings(settings: hellocode.PushSettings) -> Json:
    return {
        "pushers": [
            {
                "app_id": p.app_id,
                "pushkey": p.pushkey,
                "url": p.url,
                "device_name": p.device_name,
                "lang": p.lang,
                "previews": p.previews,
            }
            for p in settings.pushers
        ],
        "muted_chats": list(settings.muted_chats),
    }


def _code(error: Optional[hellocode.HelloCodeError]) -> Optional[str]:
    return None if error is None else error.code


def state(state: hellocode.ConnectionState) -> Json:
    if state.kind == "connected":
        return {"state": "connected", "username": state.username}
    if state.kind == "reconnecting":
        return {"state": "reconnecting", "attempt": state.attempt, "error": _code(state.error)}
    if state.kind == "closed":
        return {"state": "closed", "error": _code(state.error)}
    return {"state": "unknown"}


def event(event: hellocode.Event) -> Json:
    kind: str
    body: dict[str, Json]
    if isinstance(event, hellocode.MessageEvent):
        kind, body = "message", message(event.message)
    elif isinstance(event, hellocode.Edited):
        kind, body = "edited", message(event.message)
    elif isinstance(event, hellocode.Deleted):
        kind, body = "deleted", {"chat": event.chat_id, "seq": event.seq}
    elif isinstance(event, hellocode.Typing):
        kind, body = "typing", {"chat": event.chat_id, "username": event.username}
    elif isinstance(event, hellocode.Read):
        kind = "read"
        body = {"chat": event.chat_id, "username": event.username, "seq": event.seq}
    elif isinstance(event, hellocode.Presence):
        kind, body = "presence", {"username": event.username, "online": event.online}
    elif isinstance(event, hellocode.Online):
        kind, body = "online", {"usernames": list(event.usernames)}
    elif isinstance(event, hellocode.ChatCreated):
        kind, body = "chat_created", chat(event.chat)
    elif isinstance(event, hellocode.ChatEvent):
        kind, body = "chat_event", message(event.message)
    elif isinstance(event, hellocode.ChatChanged):
        kind, body = "chat_changed", chat(event.chat)
    elif isinstance(event, hellocode.ChatDeleted):
        kind, body = "chat_deleted", {"chat": event.chat_id, "by": event.by}
    elif isinstance(event, hellocode.InvitationEvent):
        kind, body = "invitation", invitation(event.invitation)
    elif isinstance(event, hellocode.SendUpdate):
        kind = "send"
        body = {"client_id": event.client_id, "chat": event.chat_id, "state": event.state}
        if event.state == "sent" and event.message is not None:
            body["message"] = message(event.message)
        elif event.state == "failed":
            body["error"] = _code(event.error)
    elif isinstance(event, hellocode.ConnectionChanged):
        kind, body = "connection", state(event.state)
    else:
        kind, body = "unknown", {}
    body["kind"] = kind
    return body
