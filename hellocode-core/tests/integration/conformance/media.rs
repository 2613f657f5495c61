//! Media, on every backend: records of uploads (once per owner, kind and chat), who may read
//! them (any user an avatar, a chat's members its attachments), what deleting an owner or a
//! chat does to them, and the refusals; and the media stores' bytes by address.

use std::sync::Arc;

use hellocode_core::Error;
use hellocode_core::model::{
    Attachment, ChatChange, ChatId, Media, MediaKind, NewChat, NewMedia, NewUser, Seq,
    deleted_author,
};
use hellocode_core::storage::{Items, MediaStore, Storage};

use super::{at, chat_of, post, remove, users};

/// An upload of content `id` by `owner`: an attachment of `chat`, else an avatar.
fn upload(id: &str, owner: &str, chat: Option<ChatId>) -> NewMedia {
    NewMedia {
        id: id.into(),
        kind: if chat.is_some() { MediaKind::Attachment } else { MediaKind::Avatar },
        owner: owner.into(),
        chat,
        name: format!("{id}.png"),
        content_type: "image/png".into(),
        size: 1234,
        width: Some(64),
        height: Some(48),
        thumbnail: Some(format!("{id}-thumb")),
        at: at(7),
    }
}

async fn readable(storage: &dyn Storage, id: &str, reader: &str) -> Option<Media> {
    storage.readable_media(id, reader, None).await.expect("read media")
}

/// A record reads back as it was added; adding it again (other name, other time) returns the
/// first; the same content in another chat, or as another kind, is another record.
pub async fn media_are_recorded_once_per_use(storage: Arc<dyn Storage>) {
    users(&*storage, &["ada", "bob"]).await;
    let chat = chat_of(&*storage, &["ada", "bob"]).await;
    let group = NewChat::group("ada", &["bob"], at(0));
    let other = storage.create_chat(group).await.expect("create").chat.id;

    let avatar = storage.add_media(upload("c0ffee", "ada", None)).await.expect("add avatar");
    assert_eq!(avatar, upload("c0ffee", "ada", None).into_media());
    let mut again = upload("c0ffee", "ada", None);
    again.name = "renamed.png".into();
    again.at = at(99);
    again.thumbnail = None;
    assert_eq!(storage.add_media(again).await.expect("add again"), avatar, "the first record");
    assert_eq!(readable(&*storage, "c0ffee", "bob").await, Some(avatar.clone()));

    let mut plain = upload("beef", "ada", Some(chat));
    (plain.width, plain.height, plain.thumbnail) = (None, None, None);
    plain.content_type = "text/plain".into();
    plain.size = 0;
    let attached = storage.add_media(plain.clone()).await.expect("add attachment");
    assert_eq!(attached, plain.clone().into_media(), "no image fields: none read back");
    assert_eq!(readable(&*storage, "beef", "bob").await, Some(attached.clone()));
    let mut renamed = plain.clone();
    renamed.name = "other.txt".into();
    assert_eq!(storage.add_media(renamed).await.expect("add again"), attached);

    // The same bytes shared in another chat, and by someone else, are records of their own.
    let mut elsewhere = plain.clone();
    (elsewhere.chat, elsewhere.name) = (Some(other), "elsewhere.txt".into());
    let second = storage.add_media(elsewhere.clone()).await.expect("add to another chat");
    assert_eq!(second, elsewhere.into_media());
    let mut by_bob = plain.clone();
    (by_bob.owner, by_bob.name) = ("bob".into(), "bobs.txt".into());
    assert_eq!(storage.add_media(by_bob.clone()).await.expect("add"), by_bob.into_media());
    let as_avatar = storage.add_media(upload("beef", "ada", None)).await.expect("add avatar");
    assert_eq!(as_avatar.kind, MediaKind::Avatar);
}

/// Any user reads an avatar, whether or not they share a chat with its owner; an unknown
/// reader or unknown content reads nothing.
pub async fn avatars_are_readable_by_every_user(storage: Arc<dyn Storage>) {
    users(&*storage, &["ada", "zed"]).await;
    let avatar = storage.add_media(upload("a1", "ada", None)).await.expect("add");
    assert_eq!(readable(&*storage, "a1", "ada").await, Some(avatar.clone()));
    assert_eq!(readable(&*storage, "a1", "zed").await, Some(avatar), "a stranger reads it");
    assert_eq!(readable(&*storage, "a1", "nobody").await, None, "not an unknown reader");
    assert_eq!(readable(&*storage, "a2", "ada").await, None, "unknown content");
}

/// An attachment is read by its chat's members only: not by others, not by a member once they
/// left or were removed, by no one once the chat is deleted (its records go with it).
pub async fn attachments_are_readable_by_their_chats_members_only(storage: Arc<dyn Storage>) {
    users(&*storage, &["olga", "bob", "cy", "eve"]).await;
    let chat = chat_of(&*storage, &["olga", "bob", "cy"]).await;
    let file = storage.add_media(upload("f1", "bob", Some(chat))).await.expect("add");
    for member in ["olga", "bob", "cy"] {
        assert_eq!(readable(&*storage, "f1", member).await, Some(file.clone()), "{member}");
    }
    assert_eq!(readable(&*storage, "f1", "eve").await, None, "not a member");

    storage.change_chat(chat, "cy", ChatChange::Leave, at(8), None).await.expect("leave");
    assert_eq!(readable(&*storage, "f1", "cy").await, None, "not after leaving");
    storage.change_chat(chat, "olga", remove("bob"), at(9), None).await.expect("remove");
    assert_eq!(readable(&*storage, "f1", "bob").await, None, "not its owner once removed");
    assert_eq!(readable(&*storage, "f1", "olga").await, Some(file), "the others still do");

    storage.delete_chat(chat, "olga").await.expect("delete chat");
    assert_eq!(readable(&*storage, "f1", "olga").await, None, "not once the chat is gone");
    let result = storage.add_media(upload("f1", "olga", Some(chat))).await;
    assert!(matches!(result, Err(Error::ChatNotFound(id)) if id == chat), "{result:?}");

    // A chat its last member leaves is deleted too, and its attachments with it.
    let alone =
        storage.create_chat(NewChat::group("eve", &[], at(0))).await.expect("create").chat.id;
    storage.add_media(upload("f2", "eve", Some(alone))).await.expect("add");
    storage.change_chat(alone, "eve", ChatChange::Leave, at(8), None).await.expect("leave");
    assert_eq!(storage.chat(alone).await.expect("read"), None);
    let avatar = storage.add_media(upload("f2", "eve", None)).await.expect("the bytes again");
    assert_eq!(readable(&*storage, "f2", "olga").await, Some(avatar), "only the avatar is left");
}

/// Of several readable records of one content, the one recorded first; each reader gets the
/// first they may read.
pub async fn the_first_readable_record_is_read(storage: Arc<dyn Storage>) {
    users(&*storage, &["ada", "bob", "cy"]).await;
    let first = chat_of(&*storage, &["ada", "bob"]).await;
    let second = chat_of(&*storage, &["ada", "cy"]).await;
    let in_first = storage.add_media(upload("x", "ada", Some(first))).await.expect("add");
    let in_second = storage.add_media(upload("x", "ada", Some(second))).await.expect("add");
    assert_eq!(readable(&*storage, "x", "ada").await, Some(in_first.clone()));
    assert_eq!(readable(&*storage, "x", "bob").await, Some(in_first));
    assert_eq!(readable(&*storage, "x", "cy").await, Some(in_second));
    let avatar = storage.add_media(upload("x", "cy", None)).await.expect("add");
    assert_eq!(readable(&*storage, "x", "cy").await.map(|m| m.chat), Some(Some(second)));
    let stranger = NewUser::new("dan", "dan@example.org", "h");
    storage.create_user(stranger).await.expect("user");
    assert_eq!(readable(&*storage, "x", "dan").await, Some(avatar), "a stranger reads the avatar");
}

/// Refusals, each storing nothing: an unknown owner, an attachment of a chat its owner is not
/// in or of no chat at all, an unknown chat, an avatar with a chat.
pub async fn media_refusals(storage: Arc<dyn Storage>) {
    users(&*storage, &["ada", "bob", "eve"]).await;
    let chat = chat_of(&*storage, &["ada", "bob"]).await;

    let result = storage.add_media(upload("r1", "nobody", None)).await;
    assert!(matches!(&result, Err(Error::UserNotFound(name)) if name == "nobody"), "{result:?}");
    let result = storage.add_media(upload("r1", "nobody", Some(chat))).await;
    assert!(matches!(&result, Err(Error::UserNotFound(name)) if name == "nobody"), "{result:?}");
    let result = storage.add_media(upload("r1", "eve", Some(chat))).await;
    assert!(
        matches!(&result, Err(Error::NotParticipant { chat: c, username }) if *c == chat && username == "eve"),
        "{result:?}"
    );
    let result = storage.add_media(upload("r1", "ada", Some(ChatId(9_999)))).await;
    assert!(matches!(result, Err(Error::ChatNotFound(ChatId(9_999)))), "{result:?}");

    let mut avatar_in_chat = upload("r1", "ada", None);
    avatar_in_chat.chat = Some(chat);
    let result = storage.add_media(avatar_in_chat).await;
    assert!(
        matches!(&result, Err(Error::InvalidMedia { kind: MediaKind::Avatar, .. })),
        "{result:?}"
    );
    let mut attachment_nowhere = upload("r1", "ada", Some(chat));
    attachment_nowhere.chat = None;
    let result = storage.add_media(attachment_nowhere).await;
    assert!(
        matches!(&result, Err(Error::InvalidMedia { kind: MediaKind::Attachment, .. })),
        "{result:?}"
    );
    let mut huge = upload("r1", "ada", None);
    huge.size = u64::MAX;
    let result = storage.add_media(huge).await;
    assert!(matches!(&result, Err(Error::InvalidMedia { .. })), "{result:?}");

    for reader in ["ada", "bob", "eve"] {
        assert_eq!(readable(&*storage, "r1", reader).await, None, "a refusal stores nothing");
    }
}

/// A deleted owner's uploads stay (its chats' members still read its attachments, everyone its
/// avatar), the owner shown as [`deleted_author`]; an account that registers the name again
/// records its own.
pub async fn deleted_owners_show_as_deleted(storage: Arc<dyn Storage>) {
    users(&*storage, &["ada", "bob"]).await;
    let chat = chat_of(&*storage, &["ada", "bob"]).await;
    let avatar = storage.add_media(upload("d1", "ada", None)).await.expect("add");
    let file = storage.add_media(upload("d2", "ada", Some(chat))).await.expect("add");
    storage.delete_user("ada").await.expect("delete");

    let shown = deleted_author("ada");
    let read = readable(&*storage, "d1", "bob").await.expect("the avatar stays");
    assert_eq!(read, Media { owner: shown.clone(), ..avatar.clone() });
    let read = readable(&*storage, "d2", "bob").await.expect("the attachment stays");
    assert_eq!(read, Media { owner: shown.clone(), ..file });
    assert_eq!(readable(&*storage, "d1", "ada").await, None, "no reader of that name now");

    storage.create_user(NewUser::new("ada", "ada@example.org", "h")).await.expect("again");
    let own = storage.add_media(upload("d1", "ada", None)).await.expect("add");
    assert_eq!(own.owner, "ada", "a record of the new account, not the deleted one's");
    let read = readable(&*storage, "d1", "bob").await.expect("read");
    assert_eq!(read.owner, shown, "the first record is still the deleted account's");
}

/// Uploads of one file racing each other record it once.
pub async fn concurrent_uploads_record_once(storage: Arc<dyn Storage>) {
    users(&*storage, &["ada", "bob"]).await;
    let chat = chat_of(&*storage, &["ada", "bob"]).await;
    let mut tasks = Vec::new();
    for i in 0..8 {
        let storage = storage.clone();
        tasks.push(tokio::spawn(async move {
            let mut new = upload("race", "ada", Some(chat));
            new.name = format!("try-{i}.png");
            storage.add_media(new).await.expect("add")
        }));
    }
    let mut records = Vec::new();
    for task in tasks {
        records.push(task.await.expect("task"));
    }
    assert!(records.iter().all(|record| *record == records[0]), "{records:?}");
    assert_eq!(readable(&*storage, "race", "bob").await.as_ref(), Some(&records[0]));
}

/// A media store keeps the first bytes put under an address, reads them back whole (any byte,
/// none at all), and has nothing under an address never put.
pub async fn media_stores_keep_bytes_by_address(store: &dyn MediaStore) {
    let bytes: Arc<[u8]> = (0..=255_u8).chain([0, 0, 255]).collect::<Vec<u8>>().into();
    store.put("ab12", bytes.clone()).await.expect("put");
    store.put("ab12", bytes.clone()).await.expect("put again");
    store.put("ab12", b"other".to_vec().into()).await.expect("put under a stored address");
    assert_eq!(store.get("ab12").await.expect("get"), Some(bytes), "the first bytes stay");
    store.put("empty", Vec::new().into()).await.expect("put nothing");
    assert_eq!(store.get("empty").await.expect("get").as_deref(), Some(&[][..]));
    assert_eq!(store.get("cd34").await.expect("get"), None);
}

/// A post stores the attachments it was given as they were described, returns them in every
/// read (the append, history, resume), and loses them when it is deleted.
pub async fn a_post_keeps_its_attachments_until_it_is_deleted(storage: Arc<dyn Storage>) {
    users(&*storage, &["ada", "bob"]).await;
    let chat = chat_of(&*storage, &["ada", "bob"]).await;
    let shot = storage.add_media(upload("5107", "ada", Some(chat))).await.expect("add");
    let mut plain = upload("7e47", "bob", Some(chat));
    (plain.width, plain.height, plain.thumbnail) = (None, None, None);
    let notes = storage.add_media(plain).await.expect("add");
    let mut message = post(chat, "ada", "", Some("with-files"));
    message.attachments = vec![Attachment::from_media(&shot), Attachment::from_media(&notes)];
    let appended = storage.append_message(message.clone()).await.expect("append");
    assert_eq!(appended.message.attachments, message.attachments);
    let again = storage.append_message(message.clone()).await.expect("retry");
    assert_eq!(again.message, appended.message, "a retry returns it as stored");
    let plain_post = storage.append_message(post(chat, "bob", "no files", None)).await;
    assert!(plain_post.expect("append").message.attachments.is_empty());

    let page = storage.messages_before(chat, "bob", None, 10).await.expect("history");
    let stored = page.iter().find(|m| m.seq == appended.message.seq).expect("in history");
    assert_eq!(stored.attachments, message.attachments);
    let items = storage.messages_after(chat, "bob", Seq(0), 10, Items::All).await.expect("resume");
    let stored = items.iter().find(|m| m.seq == appended.message.seq).expect("in resume");
    assert_eq!(stored.attachments, message.attachments);

    let seq = appended.message.seq;
    let deleted = storage.delete_message(chat, seq, "ada", at(9), None).await.expect("delete");
    assert!(deleted.message.attachments.is_empty(), "a deleted post carries nothing");
    let items = storage.messages_after(chat, "bob", Seq(0), 10, Items::All).await.expect("resume");
    let stored = items.iter().find(|m| m.seq == seq).expect("still in the chat");
    assert!(stored.deleted && stored.attachments.is_empty());
}

/// Looking content up in one chat finds that chat's record only, even when the same bytes were
/// uploaded to another chat first.
pub async fn a_chats_attachment_is_found_in_that_chat_only(storage: Arc<dyn Storage>) {
    users(&*storage, &["ada", "bob"]).await;
    let first = chat_of(&*storage, &["ada", "bob"]).await;
    let group = NewChat::group("ada", &["bob"], at(0));
    let second = storage.create_chat(group).await.expect("create").chat.id;
    storage.add_media(upload("f11e", "ada", Some(first))).await.expect("add");
    storage.add_media(upload("a7a7", "ada", None)).await.expect("avatar");
    let in_second = |id: &'static str| {
        let storage = storage.clone();
        async move { storage.readable_media(id, "bob", Some(second)).await.expect("read") }
    };
    assert_eq!(in_second("f11e").await, None, "uploaded to the first chat only");
    assert_eq!(in_second("a7a7").await, None, "an avatar is no attachment");
    let again = storage.add_media(upload("f11e", "ada", Some(second))).await.expect("add");
    assert_eq!(in_second("f11e").await, Some(again));
    let in_first = storage.readable_media("f11e", "bob", Some(first)).await.expect("read");
    assert_eq!(in_first.and_then(|media| media.chat), Some(first));
}
