//! A gap in a chat's events filled from storage: the items another node published but this
//! node never heard (lost between the nodes, or too late), as the events that carried them.
//!
//! Storage has every item in order, so the frames are rebuilt from it: a post as
//! `new_message`, an edit as `message_edited` (with the post as it now is), a deletion as
//! `message_deleted`, any other event as `chat_changed` (with the chat as it now is, told also to
//! a member it removed).

use hellocode_core::model::{ChatId, EventKind, Message, Seq};
use hellocode_core::protocol::ServerFrame;
use hellocode_core::session::Publish;
use hellocode_core::storage::{Items, Storage};

use super::BrokerEvent;

/// The events of `chat`'s items `from..=to`, in order. Fewer than asked when storage has
/// fewer (the chat was deleted, say): the caller then gives the rest up.
pub(crate) async fn from_storage(
    storage: &dyn Storage,
    chat: ChatId,
    from: Seq,
    to: Seq,
) -> hellocode_core::Result<Vec<BrokerEvent>> {
    let Some(current) = storage.chat(chat).await? else { return Ok(Vec::new()) };
    // Any member may read the chat's items; the events go to every member anyway.
    let Some(reader) = current.participants.first().map(|p| p.username.clone()) else {
        return Ok(Vec::new());
    };
    let count = u32::try_from(to.0 - from.0 + 1).unwrap_or(0);
    let items = storage.messages_after(chat, &reader, Seq(from.0 - 1), count, Items::All).await?;
    let mut events = Vec::with_capacity(items.len());
    for item in items.into_iter().filter(|item| item.seq <= to) {
        let frame = match item.kind {
            EventKind::Message => ServerFrame::NewMessage { message: item },
            EventKind::Edit => {
                let Some(post) = post(storage, chat, &reader, item.target).await? else { break };
                ServerFrame::MessageEdited { message: post, event: Some(item) }
            }
            EventKind::Delete => {
                let Some(seq) = item.target else { break };
                ServerFrame::MessageDeleted { chat_id: chat, seq, event: Some(item) }
            }
            _ => {
                let gone = item.member.clone().filter(|member| !current.has_participant(member));
                let frame = ServerFrame::ChatChanged { chat: current.clone(), events: vec![item] };
                let mut publish = Publish::to_chat(chat, frame);
                publish.also.extend(gone);
                events.push(BrokerEvent::Chat(Box::new(publish)));
                continue;
            }
        };
        events.push(BrokerEvent::Chat(Box::new(Publish::to_chat(chat, frame))));
    }
    Ok(events)
}

/// Post `target` of `chat` as it now is.
async fn post(
    storage: &dyn Storage,
    chat: ChatId,
    reader: &str,
    target: Option<Seq>,
) -> hellocode_core::Result<Option<Message>> {
    let Some(target) = target else { return Ok(None) };
    let found = storage.messages_after(chat, reader, Seq(target.0 - 1), 1, Items::All).await?;
    Ok(found.into_iter().next().filter(|post| post.seq == target))
}

#[cfg(test)]
mod tests {
    use hellocode_core::model::{ChatChange, ChatKind, NewChat, NewMessage, NewUser, Timestamp};
    use hellocode_core::storage::MemoryStorage;

    use super::*;

    /// What an event is, in short: the frame's name, its items, and who else is told.
    fn summary(event: &BrokerEvent) -> (String, Vec<i64>, Vec<String>) {
        let BrokerEvent::Chat(publish) = event else { panic!("not a chat event: {event:?}") };
        let seqs = match &publish.frame {
            ServerFrame::NewMessage { message } => vec![message.seq.0],
            ServerFrame::MessageEdited { message, event } => {
                assert_eq!(message.content, "better", "the post as it now is");
                vec![message.seq.0, event.as_ref().map_or(0, |event| event.seq.0)]
            }
            ServerFrame::MessageDeleted { seq, event, .. } => {
                vec![seq.0, event.as_ref().map_or(0, |event| event.seq.0)]
            }
            ServerFrame::ChatChanged { events, chat } => {
                assert!(!chat.has_participant("carol"), "the chat as it now is");
                events.iter().map(|event| event.seq.0).collect()
            }
            other => panic!("unexpected {other:?}"),
        };
        (publish.frame.name().to_owned(), seqs, publish.also.clone())
    }

    #[tokio::test]
    async fn every_kind_of_item_becomes_the_event_that_carried_it() {
        let storage = MemoryStorage::new();
        for name in ["ada", "bob", "carol"] {
            storage.create_user(NewUser::new(name, format!("{name}@x.org"), "h")).await.unwrap();
        }
        let at = Timestamp::from_unix_millis(0);
        let members = vec!["ada".into(), "bob".into(), "carol".into()];
        let new = NewChat {
            creator: "ada".into(),
            members,
            kind: ChatKind::Group,
            name: Some("Crabs".into()),
            topic: None,
            at,
            client_id: None,
        };
        let chat = storage.create_chat(new).await.unwrap().chat.id;
        let base = storage.chat(chat).await.unwrap().unwrap().last_seq.0;
        let say = |content: &str| NewMessage {
            chat_id: chat,
            author: "ada".into(),
            content: content.into(),
            client_id: None,
            timestamp: at,
            attachments: Vec::new(),
        };
        storage.append_message(say("one")).await.unwrap(); // base + 1
        storage.append_message(say("two")).await.unwrap(); // base + 2
        storage.edit_message(chat, Seq(base + 1), "ada", "better", at, None).await.unwrap();
        storage.delete_message(chat, Seq(base + 2), "ada", at, None).await.unwrap();
        let remove = ChatChange::Remove { username: "carol".into() };
        storage.change_chat(chat, "ada", remove, at, None).await.unwrap(); // base + 5

        let events = from_storage(&storage, chat, Seq(base + 1), Seq(base + 5)).await.unwrap();
        let seen: Vec<_> = events.iter().map(summary).collect();
        let none = Vec::<String>::new;
        assert_eq!(
            seen,
            [
                ("new_message".to_owned(), vec![base + 1], none()),
                ("new_message".to_owned(), vec![base + 2], none()),
                ("message_edited".to_owned(), vec![base + 1, base + 3], none()),
                ("message_deleted".to_owned(), vec![base + 2, base + 4], none()),
                ("chat_changed".to_owned(), vec![base + 5], vec!["carol".to_owned()]),
            ]
        );
        // Only what was asked; and nothing for a chat that is not there.
        let two = from_storage(&storage, chat, Seq(base + 2), Seq(base + 3)).await.unwrap();
        assert_eq!(two.len(), 2);
        assert!(from_storage(&storage, ChatId(999), Seq(1), Seq(3)).await.unwrap().is_empty());
    }
}
