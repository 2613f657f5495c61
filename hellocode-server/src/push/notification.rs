//! The request body a push gateway gets for one post and one device, in the shape of Matrix's
//! push gateway API (`POST /_matrix/push/v1/notify`), so that Sygnal relays it unchanged.

use hellocode_core::model::{Message, PushTarget};
use serde_json::{Value, json};

/// The longest preview sent, in characters: gateways and phones cut far shorter anyway (APNs
/// takes 4 KiB in all).
const MAX_PREVIEW_CHARS: usize = 1024;

/// The notification of `message` for `target`'s device.
pub(super) fn body(message: &Message, target: &PushTarget) -> String {
    let pusher = &target.pusher;
    let mut notification = json!({
        "event_id": format!("{}:{}", message.chat_id, message.seq),
        "room_id": message.chat_id.to_string(),
        "type": "m.room.message",
        "sender": message.author,
        "prio": "high",
        "counts": { "unread": target.unread },
        "devices": [{
            "app_id": pusher.app_id,
            "pushkey": pusher.pushkey,
            "pushkey_ts": pusher.created_at.unix_millis() / 1000,
            "data": {},
            "tweaks": {},
        }],
    });
    if let Some(name) = &target.room_name {
        notification["room_name"] = Value::from(name.as_str());
    }
    if pusher.previews {
        let body: String = message.content.chars().take(MAX_PREVIEW_CHARS).collect();
        let mut content = json!({ "msgtype": "m.text", "body": body });
        if !message.attachments.is_empty() {
            let names: Vec<&str> = message.attachments.iter().map(|a| a.name.as_str()).collect();
            content["attachments"] = Value::from(names);
        }
        notification["content"] = content;
    }
    json!({ "notification": notification }).to_string()
}

#[cfg(test)]
mod tests {
    use hellocode_core::model::{Attachment, ChatId, EventKind, Pusher, Seq, Timestamp};

    use super::*;

    fn message(content: &str) -> Message {
        Message {
            id: 9,
            chat_id: ChatId(7),
            seq: Seq(121),
            author: "alice".into(),
            content: content.into(),
            timestamp: Timestamp::from_unix_millis(1_700_000_000_000),
            client_id: None,
            edited_at: None,
            deleted: false,
            kind: EventKind::default(),
            target: None,
            member: None,
            role: None,
            attachments: Vec::new(),
        }
    }

    fn target(previews: bool, room_name: Option<&str>) -> PushTarget {
        PushTarget {
            username: "bob".into(),
            pusher: Pusher {
                app_id: "org.example.chat".into(),
                pushkey: "fcm-token".into(),
                url: "http://127.0.0.1:5000/_matrix/push/v1/notify".into(),
                device_name: "phone".into(),
                lang: "en".into(),
                previews,
                created_at: Timestamp::from_unix_millis(1_700_000_000_500),
            },
            unread: 3,
            room_name: room_name.map(str::to_owned),
        }
    }

    #[test]
    fn a_notification_has_the_matrix_gateway_shape() {
        let sent: Value =
            serde_json::from_str(&body(&message("hi bob"), &target(true, Some("rustaceans"))))
                .expect("json");
        assert_eq!(
            sent,
            json!({"notification": {
                "event_id": "7:121", "room_id": "7", "type": "m.room.message", "sender": "alice",
                "room_name": "rustaceans", "prio": "high",
                "content": {"msgtype": "m.text", "body": "hi bob"},
                "counts": {"unread": 3},
                "devices": [{"app_id": "org.example.chat", "pushkey": "fcm-token",
                             "pushkey_ts": 1_700_000_000, "data": {}, "tweaks": {}}],
            }})
        );
    }

    #[test]
    fn without_previews_there_is_no_content_and_a_direct_chat_has_no_name() {
        let sent: Value =
            serde_json::from_str(&body(&message("secret"), &target(false, None))).expect("json");
        let notification = &sent["notification"];
        assert!(notification.get("content").is_none(), "{sent}");
        assert!(notification.get("room_name").is_none(), "{sent}");
        assert!(!sent.to_string().contains("secret"));
        assert_eq!(notification["sender"], "alice");
    }

    #[test]
    fn attachments_are_named_and_long_text_is_cut() {
        let mut post = message(&"x".repeat(5000));
        post.attachments = vec![Attachment { name: "trace.png".into(), ..Attachment::named("ab") }];
        let sent: Value = serde_json::from_str(&body(&post, &target(true, None))).expect("json");
        let content = &sent["notification"]["content"];
        assert_eq!(content["attachments"], json!(["trace.png"]));
        assert_eq!(content["body"].as_str().map(str::len), Some(MAX_PREVIEW_CHARS));
    }
}
