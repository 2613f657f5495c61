//! The storage conformance suite: the same tests for every backend.
//!
//! A backend module defines `async fn get_store() -> Option<Fixture>` (None: its service is
//! unavailable and the skip was reported) where `Fixture` has `storage()` and `finish()`, then
//! invokes `storage_conformance_tests!(get_store)`.

use std::collections::BTreeSet;
use std::sync::Arc;

use hellocode_core::Error;
use hellocode_core::model::{
    ChatChange, ChatId, ChatKind, EventKind, Message, NewChat, NewMessage, NewUser, ReadMark, Role,
    Seq, Timestamp, UserUpdate, deleted_author,
};
use hellocode_core::storage::{Items, Storage};

mod invitations;
pub use invitations::*;
mod media;
pub use media::*;
mod push;
pub use push::*;

macro_rules! storage_conformance_tests {
    ($get_store:ident) => {
        storage_conformance_tests!(@tests $get_store,
            languages_are_unique_case_insensitively,
            users_are_created_read_and_paged,
            users_are_found_by_language,
            user_profiles_update,
            deleted_users_leave_chats_but_keep_messages,
            contacts_are_a_set,
            chats_are_created_listed_and_deleted,
            members_can_be_added_and_removed,
            appends_number_messages_from_one,
            only_participants_read_and_post,
            client_ids_make_appends_idempotent,
            history_pages_newest_first_without_overlap,
            resume_reads_oldest_first,
            authors_edit_and_delete_their_messages,
            read_positions_only_move_forward,
            concurrent_appends_get_gap_free_sequence_numbers,
            concurrent_retries_store_one_message,
            bot_tokens_are_listed_and_revoked_by_their_owner,
            refusals_among_concurrent_appends_leave_the_others_intact,
            started_appends_are_numbered_in_the_order_started,
            a_name_registered_again_is_a_new_account,
            usernames_are_unique_by_case_and_look_alikes,
            a_password_change_moves_the_token_generation,
            lists_come_in_pages,
            groups_have_roles_and_their_rules,
            an_owner_leaving_hands_over_to_the_oldest_admin_else_the_oldest_member,
            direct_chats_refuse_membership_changes_but_may_be_left,
            edits_and_deletions_are_sequenced_events,
            a_removed_member_can_no_longer_read,
            chats_are_deleted_by_a_member_of_a_direct_chat_or_a_groups_owner,
            deleted_users_leave_each_chat_with_an_event,
            concurrent_changes_and_appends_share_one_gap_free_sequence,
            retried_commands_apply_once,
            concurrent_retries_of_a_change_apply_it_once,
            owners_and_admins_invite_and_make_links,
            invitations_are_pending_until_answered,
            invitations_go_with_their_chat_and_accounts,
            joining_settles_a_pending_invitation,
            invite_links_join_until_they_expire,
            invite_links_count_their_uses,
            racing_joins_for_the_last_use_one_wins,
            revoked_links_join_no_one,
            a_removed_member_cannot_invite,
            media_are_recorded_once_per_use,
            avatars_are_readable_by_every_user,
            attachments_are_readable_by_their_chats_members_only,
            the_first_readable_record_is_read,
            media_refusals,
            deleted_owners_show_as_deleted,
            concurrent_uploads_record_once,
            a_post_keeps_its_attachments_until_it_is_deleted,
            a_chats_attachment_is_found_in_that_chat_only,
            pushers_are_set_moved_and_removed,
            posts_notify_unmuted_members_pushers,
            the_push_queue_claims_retries_and_forgets,
        );
    };
    (@tests $get_store:ident, $($test:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $test() {
                let Some(fixture) = $get_store().await else { return };
                $crate::conformance::$test(fixture.storage()).await;
                fixture.finish().await;
            }
        )+
    };
}

fn at(millis: i64) -> Timestamp {
    Timestamp::from_unix_millis(1_700_000_000_000 + millis)
}

async fn user(storage: &dyn Storage, name: &str) {
    storage
        .create_user(NewUser::new(name, format!("{name}@example.org"), format!("hash-of-{name}")))
        .await
        .expect("create user");
}

async fn users(storage: &dyn Storage, names: &[&str]) {
    for name in names {
        user(storage, name).await;
    }
}

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// A chat of `members`: direct for two, else a group owned by the first.
async fn chat_of(storage: &dyn Storage, members: &[&str]) -> ChatId {
    let new = match members {
        [one, other] => NewChat::direct(one, other, at(0)),
        [owner, others @ ..] => NewChat::group(owner, others, at(0)),
        [] => panic!("a chat needs members"),
    };
    storage.create_chat(new).await.expect("create chat").chat.id
}

fn add(usernames: &[&str]) -> ChatChange {
    ChatChange::Add { usernames: names(usernames), max: 100 }
}

fn remove(username: &str) -> ChatChange {
    ChatChange::Remove { username: username.into() }
}

fn post(chat: ChatId, author: &str, content: &str, client_id: Option<&str>) -> NewMessage {
    NewMessage {
        chat_id: chat,
        author: author.into(),
        content: content.into(),
        client_id: client_id.map(Into::into),
        timestamp: at(1),
        attachments: Vec::new(),
    }
}

pub async fn languages_are_unique_case_insensitively(storage: Arc<dyn Storage>) {
    let rust = storage.add_language("Rust").await.expect("add");
    assert_eq!(rust.name, "Rust");
    let again = storage.add_language("rust").await.expect("add again");
    assert_eq!(again, rust, "adding an existing language returns it");
    storage.add_language("Go").await.expect("add");
    let all: Vec<String> =
        storage.languages().await.expect("list").into_iter().map(|l| l.name).collect();
    assert_eq!(all, ["Go", "Rust"]);
}

pub async fn users_are_created_read_and_paged(storage: Arc<dyn Storage>) {
    storage.add_language("Rust").await.expect("language");
    let mut new = NewUser::new("carol", "carol@example.org", "$argon2id$hash");
    new.timezone = "Europe/Paris".into();
    new.languages = names(&["rust"]);
    let carol = storage.create_user(new.clone()).await.expect("create");
    assert_eq!(carol.username, "carol");
    assert_eq!(carol.timezone, "Europe/Paris");
    assert_eq!(carol.languages, ["Rust"], "languages are stored under their canonical name");
    assert_eq!(carol.avatar, None);

    assert!(
        matches!(storage.create_user(new).await, Err(Error::UsernameTaken(name)) if name == "carol")
    );
    let mut unknown_language = NewUser::new("dave", "d@example.org", "h");
    unknown_language.languages = names(&["Cobol"]);
    assert!(matches!(
        storage.create_user(unknown_language).await,
        Err(Error::LanguageNotFound(name)) if name == "Cobol"
    ));
    assert_eq!(storage.user("dave").await.expect("read"), None, "a failed create stores nothing");

    let account = storage.account("carol").await.expect("read").expect("exists");
    assert_eq!(account.user, carol);
    assert_eq!(account.email, "carol@example.org");
    assert_eq!(account.password_hash, "$argon2id$hash");
    assert_eq!(storage.user("carol").await.expect("read"), Some(carol));
    assert_eq!(storage.user("nobody").await.expect("read"), None);
    assert!(storage.account("nobody").await.expect("read").is_none());

    users(&*storage, &["alice", "bob", "erin"]).await;
    let page: Vec<String> =
        storage.users(None, 2).await.expect("page").into_iter().map(|u| u.username).collect();
    assert_eq!(page, ["alice", "bob"]);
    let page: Vec<String> = storage
        .users(Some("bob"), 10)
        .await
        .expect("page")
        .into_iter()
        .map(|u| u.username)
        .collect();
    assert_eq!(page, ["carol", "erin"]);
}

pub async fn users_are_found_by_language(storage: Arc<dyn Storage>) {
    for language in ["Rust", "Go", "Python"] {
        storage.add_language(language).await.expect("language");
    }
    for (name, languages) in
        [("ann", vec!["Rust", "Go"]), ("ben", vec!["Go"]), ("cat", vec!["Rust"])]
    {
        let mut new = NewUser::new(name, "x@example.org", "h");
        new.languages = names(&languages);
        storage.create_user(new).await.expect("create");
    }
    let rustaceans: Vec<String> = storage
        .users_by_language("rust", None, 500)
        .await
        .expect("query")
        .into_iter()
        .map(|u| u.username)
        .collect();
    assert_eq!(rustaceans, ["ann", "cat"]);
    let gophers = storage.users_by_language("Go", None, 500).await.expect("query");
    assert_eq!(gophers.len(), 2);
    assert_eq!(gophers[0].languages, ["Go", "Rust"], "each user comes with all its languages");
    assert!(storage.users_by_language("Python", None, 500).await.expect("query").is_empty());
    assert!(storage.users_by_language("Cobol", None, 500).await.expect("query").is_empty());
}

pub async fn user_profiles_update(storage: Arc<dyn Storage>) {
    storage.add_language("Rust").await.expect("language");
    storage.add_language("Go").await.expect("language");
    user(&*storage, "alice").await;
    let updated = storage
        .update_user(
            "alice",
            UserUpdate {
                email: Some("new@example.org".into()),
                password_hash: Some("new-hash".into()),
                timezone: Some("Asia/Tokyo".into()),
                languages: Some(names(&["go", "Rust"])),
                avatar: Some(Some("avatars/alice.png".into())),
            },
        )
        .await
        .expect("update");
    assert_eq!(updated.timezone, "Asia/Tokyo");
    assert_eq!(updated.languages, ["Go", "Rust"]);
    assert_eq!(updated.avatar.as_deref(), Some("avatars/alice.png"));
    let account = storage.account("alice").await.expect("read").expect("exists");
    assert_eq!(account.email, "new@example.org");
    assert_eq!(account.password_hash, "new-hash");

    let unchanged = storage
        .update_user("alice", UserUpdate { avatar: Some(None), ..UserUpdate::default() })
        .await
        .expect("update");
    assert_eq!(unchanged.avatar, None, "Some(None) removes the avatar");
    assert_eq!(unchanged.timezone, "Asia/Tokyo", "None leaves a field alone");
    assert_eq!(unchanged.languages, ["Go", "Rust"]);

    let bad = UserUpdate { languages: Some(names(&["Cobol"])), ..UserUpdate::default() };
    assert!(matches!(storage.update_user("alice", bad).await, Err(Error::LanguageNotFound(_))));
    assert_eq!(
        storage.user("alice").await.expect("read").expect("exists").languages,
        ["Go", "Rust"],
        "a failed update changes nothing"
    );
    assert!(matches!(
        storage.update_user("nobody", UserUpdate::default()).await,
        Err(Error::UserNotFound(_))
    ));
}

pub async fn deleted_users_leave_chats_but_keep_messages(storage: Arc<dyn Storage>) {
    users(&*storage, &["alice", "bob", "carol"]).await;
    let chat = chat_of(&*storage, &["alice", "bob", "carol"]).await;
    storage.append_message(post(chat, "bob", "bye", None)).await.expect("post");
    storage.add_contact("alice", "bob").await.expect("contact");
    storage.delete_user("bob").await.expect("delete");

    assert_eq!(storage.user("bob").await.expect("read"), None);
    assert!(!storage.is_participant(chat, "bob").await.expect("check"));
    assert!(storage.contacts("alice").await.expect("contacts").is_empty());
    let history = storage.messages_before(chat, "alice", None, 10).await.expect("history");
    assert_eq!(history.len(), 1);
    assert_eq!(
        history[0].author, "bob (deleted)",
        "messages keep their author's name, marked so that no account can have it"
    );
    let readers: Vec<String> = storage
        .read_positions(chat)
        .await
        .expect("reads")
        .into_iter()
        .map(|r| r.username)
        .collect();
    assert_eq!(readers, ["alice", "carol"]);
    assert!(matches!(storage.delete_user("bob").await, Err(Error::UserNotFound(_))));
}

pub async fn contacts_are_a_set(storage: Arc<dyn Storage>) {
    users(&*storage, &["alice", "bob", "carol"]).await;
    storage.add_contact("alice", "carol").await.expect("add");
    storage.add_contact("alice", "bob").await.expect("add");
    storage.add_contact("alice", "bob").await.expect("adding twice is fine");
    assert_eq!(storage.contacts("alice").await.expect("list"), ["bob", "carol"]);
    assert!(storage.contacts("bob").await.expect("list").is_empty(), "contacts are one-way");
    storage.remove_contact("alice", "bob").await.expect("remove");
    storage.remove_contact("alice", "bob").await.expect("removing twice is fine");
    assert_eq!(storage.contacts("alice").await.expect("list"), ["carol"]);
    assert!(matches!(storage.add_contact("alice", "nobody").await, Err(Error::UserNotFound(_))));
    assert!(matches!(storage.contacts("nobody").await, Err(Error::UserNotFound(_))));
}

pub async fn chats_are_created_listed_and_deleted(storage: Arc<dyn Storage>) {
    users(&*storage, &["alice", "bob", "carol"]).await;
    let created =
        storage.create_chat(NewChat::direct("bob", "alice", at(5))).await.expect("create").chat;
    let members: Vec<&str> = created.participants.iter().map(|p| p.username.as_str()).collect();
    assert_eq!(members, ["alice", "bob"], "participants come ordered by username");
    assert_eq!(created.kind, ChatKind::Direct);
    assert!(created.participants.iter().all(|p| p.role.is_none()), "a direct chat has no roles");
    assert_eq!(created.last_seq, Seq(0));
    assert_eq!(created.created_at, at(5));
    assert_eq!(storage.chat(created.id).await.expect("read"), Some(created.clone()));

    let group = chat_of(&*storage, &["alice", "bob", "carol"]).await;
    let of_alice: Vec<ChatId> = storage
        .chats_of("alice", None, 500)
        .await
        .expect("list")
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(of_alice, [created.id, group]);
    let of_carol: Vec<ChatId> = storage
        .chats_of("carol", None, 500)
        .await
        .expect("list")
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(of_carol, [group]);
    assert!(storage.chats_of("nobody", None, 500).await.expect("list").is_empty());

    assert!(matches!(
        storage.create_chat(NewChat::group("alice", &["ghost"], at(6))).await,
        Err(Error::UserNotFound(name)) if name == "ghost"
    ));
    assert_eq!(
        storage.chats_of("alice", None, 500).await.expect("list").len(),
        2,
        "a failed create stores nothing"
    );

    assert!(storage.is_participant(group, "carol").await.expect("check"));
    assert!(!storage.is_participant(created.id, "carol").await.expect("check"));
    assert!(matches!(
        storage.is_participant(ChatId(999_999), "alice").await,
        Err(Error::ChatNotFound(_))
    ));

    storage.append_message(post(group, "alice", "hi", None)).await.expect("post");
    let members = storage.delete_chat(group, "alice").await.expect("delete");
    assert_eq!(members, names(&["alice", "bob", "carol"]));
    assert_eq!(storage.chat(group).await.expect("read"), None);
    assert!(matches!(storage.delete_chat(group, "alice").await, Err(Error::ChatNotFound(_))));
    assert!(matches!(
        storage.messages_before(group, "alice", None, 10).await,
        Err(Error::ChatNotFound(_))
    ));
}

/// (Was `participants_can_be_replaced`, through `set_participants`.) A group's owner adds and
/// removes members; the chat's items count the events.
pub async fn members_can_be_added_and_removed(storage: Arc<dyn Storage>) {
    users(&*storage, &["alice", "bob", "carol"]).await;
    let chat = chat_of(&*storage, &["alice", "bob", "carol"]).await;
    storage.change_chat(chat, "alice", remove("carol"), at(1), None).await.expect("remove");
    storage.append_message(post(chat, "alice", "one", None)).await.expect("post");
    storage.mark_read(chat, "alice", Seq(2)).await.expect("read");
    storage.change_chat(chat, "alice", add(&["carol"]), at(2), None).await.expect("add");
    let updated =
        storage.change_chat(chat, "alice", remove("bob"), at(3), None).await.expect("remove");
    let members: Vec<&str> =
        updated.chat.participants.iter().map(|p| p.username.as_str()).collect();
    assert_eq!(members, ["alice", "carol"]);
    assert_eq!(updated.chat.last_seq, Seq(4), "remove, post, join, remove");
    assert_eq!(updated.gone, ["bob"]);
    assert!(!storage.is_participant(chat, "bob").await.expect("check"));
    let reads = storage.read_positions(chat).await.expect("reads");
    assert_eq!(reads[0].seq, Seq(2), "a staying participant keeps its read position");
    assert!(matches!(
        storage.change_chat(chat, "alice", add(&["ghost"]), at(4), None).await,
        Err(Error::UserNotFound(_))
    ));
    assert_eq!(storage.chat(chat).await.expect("read"), Some(updated.chat), "nothing stored");
    assert!(matches!(
        storage.change_chat(ChatId(999_999), "alice", add(&["bob"]), at(4), None).await,
        Err(Error::ChatNotFound(_))
    ));
}

pub async fn appends_number_messages_from_one(storage: Arc<dyn Storage>) {
    users(&*storage, &["alice", "bob"]).await;
    let chat = chat_of(&*storage, &["alice", "bob"]).await;
    let other = chat_of(&*storage, &["alice", "bob"]).await;
    let first = storage.append_message(post(chat, "alice", "hi", None)).await.expect("post");
    assert!(first.created);
    let m = &first.message;
    assert_eq!(
        (m.chat_id, m.seq, m.author.as_str(), m.content.as_str()),
        (chat, Seq(1), "alice", "hi")
    );
    assert_eq!(m.timestamp, at(1));
    assert_eq!((m.client_id.clone(), m.edited_at, m.deleted), (None, None, false));
    let second = storage.append_message(post(chat, "bob", "hello", None)).await.expect("post");
    assert_eq!(second.message.seq, Seq(2));
    assert_ne!(second.message.id, first.message.id);
    let elsewhere = storage.append_message(post(other, "bob", "x", None)).await.expect("post");
    assert_eq!(elsewhere.message.seq, Seq(1), "sequence numbers are per chat");
    assert_eq!(storage.chat(chat).await.expect("read").expect("exists").last_seq, Seq(2));

    let stored = storage.messages_before(chat, "bob", None, 10).await.expect("history");
    assert_eq!(stored[1], first.message, "what append returns is what is stored");
}

pub async fn only_participants_read_and_post(storage: Arc<dyn Storage>) {
    users(&*storage, &["alice", "bob", "mallory"]).await;
    let chat = chat_of(&*storage, &["alice", "bob"]).await;
    storage.append_message(post(chat, "alice", "secret", None)).await.expect("post");
    let refused = |result: Result<_, Error>| matches!(result, Err(Error::NotParticipant { username, .. }) if username == "mallory");
    assert!(refused(storage.append_message(post(chat, "mallory", "hi", None)).await.map(|_| ())));
    assert!(refused(
        storage.append_message(post(chat, "mallory", "hi", Some("c1"))).await.map(|_| ())
    ));
    assert!(refused(storage.messages_before(chat, "mallory", None, 10).await.map(|_| ())));
    assert!(refused(
        storage.messages_after(chat, "mallory", Seq(0), 10, Items::All).await.map(|_| ())
    ));
    assert!(refused(storage.mark_read(chat, "mallory", Seq(1)).await.map(|_| ())));
    assert!(refused(storage.require_participant(chat, "mallory").await));
    assert!(refused(
        storage.edit_message(chat, Seq(1), "mallory", "x", at(2), None).await.map(|_| ())
    ));
    assert!(refused(
        storage.delete_message(chat, Seq(1), "mallory", at(2), None).await.map(|_| ())
    ));
    assert_eq!(storage.chat(chat).await.expect("read").expect("exists").last_seq, Seq(1));
    assert!(matches!(
        storage.append_message(post(ChatId(999_999), "alice", "hi", None)).await,
        Err(Error::ChatNotFound(_))
    ));
}

pub async fn client_ids_make_appends_idempotent(storage: Arc<dyn Storage>) {
    users(&*storage, &["alice", "bob"]).await;
    let chat = chat_of(&*storage, &["alice", "bob"]).await;
    let other = chat_of(&*storage, &["alice", "bob"]).await;
    let first =
        storage.append_message(post(chat, "alice", "once", Some("c-1"))).await.expect("post");
    assert!(first.created);
    assert_eq!(first.message.client_id.as_deref(), Some("c-1"));
    let retry =
        storage.append_message(post(chat, "alice", "once", Some("c-1"))).await.expect("retry");
    assert!(!retry.created);
    assert_eq!(retry.message, first.message);
    let by_bob =
        storage.append_message(post(chat, "bob", "mine", Some("c-1"))).await.expect("post");
    assert!(by_bob.created, "client ids are per author");
    let in_other =
        storage.append_message(post(other, "alice", "x", Some("c-1"))).await.expect("post");
    assert!(in_other.created, "client ids are per chat");
    assert_eq!(
        storage.messages_after(chat, "alice", Seq(0), 10, Items::All).await.expect("read").len(),
        2
    );
}

pub async fn history_pages_newest_first_without_overlap(storage: Arc<dyn Storage>) {
    users(&*storage, &["alice", "bob"]).await;
    let chat = chat_of(&*storage, &["alice", "bob"]).await;
    assert!(storage.messages_before(chat, "alice", None, 10).await.expect("empty").is_empty());
    for i in 1..=25 {
        storage.append_message(post(chat, "alice", &format!("m{i}"), None)).await.expect("post");
    }
    let newest = storage.messages_before(chat, "bob", None, 10).await.expect("page");
    let seqs: Vec<i64> = newest.iter().map(|m| m.seq.0).collect();
    assert_eq!(seqs, (16..=25).rev().collect::<Vec<_>>());
    assert_eq!(newest[0].content, "m25");

    let mut seen = Vec::new();
    let mut before = None;
    loop {
        let page = storage.messages_before(chat, "bob", before, 7).await.expect("page");
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 7);
        before = page.last().map(|m| m.seq);
        seen.extend(page.into_iter().map(|m| m.seq.0));
    }
    assert_eq!(seen, (1..=25).rev().collect::<Vec<_>>(), "paging visits every message once");
    assert!(storage.messages_before(chat, "bob", Some(Seq(1)), 10).await.expect("page").is_empty());
}

pub async fn resume_reads_oldest_first(storage: Arc<dyn Storage>) {
    users(&*storage, &["alice", "bob"]).await;
    let chat = chat_of(&*storage, &["alice", "bob"]).await;
    for i in 1..=12 {
        storage.append_message(post(chat, "bob", &format!("m{i}"), None)).await.expect("post");
    }
    let after: Vec<i64> = storage
        .messages_after(chat, "alice", Seq(4), 5, Items::All)
        .await
        .expect("read")
        .iter()
        .map(|m| m.seq.0)
        .collect();
    assert_eq!(after, [5, 6, 7, 8, 9]);
    let tail: Vec<i64> = storage
        .messages_after(chat, "alice", Seq(9), 100, Items::All)
        .await
        .expect("read")
        .iter()
        .map(|m| m.seq.0)
        .collect();
    assert_eq!(tail, [10, 11, 12]);
    assert!(
        storage
            .messages_after(chat, "alice", Seq(12), 100, Items::All)
            .await
            .expect("read")
            .is_empty()
    );
}

pub async fn authors_edit_and_delete_their_messages(storage: Arc<dyn Storage>) {
    users(&*storage, &["alice", "bob"]).await;
    let chat = chat_of(&*storage, &["alice", "bob"]).await;
    storage.append_message(post(chat, "alice", "tpyo", None)).await.expect("post");
    storage.append_message(post(chat, "bob", "reply", None)).await.expect("post");

    let edited = storage
        .edit_message(chat, Seq(1), "alice", "typo", at(10), None)
        .await
        .expect("edit")
        .message;
    assert_eq!(
        (edited.content.as_str(), edited.edited_at, edited.seq),
        ("typo", Some(at(10)), Seq(1))
    );
    assert!(matches!(
        storage.edit_message(chat, Seq(2), "alice", "mine now", at(11), None).await,
        Err(Error::NotAuthor { .. })
    ));
    assert!(matches!(
        storage.edit_message(chat, Seq(9), "alice", "x", at(11), None).await,
        Err(Error::MessageNotFound { .. })
    ));
    assert!(matches!(
        storage.delete_message(chat, Seq(2), "alice", at(11), None).await,
        Err(Error::NotAuthor { .. })
    ));

    let deleted =
        storage.delete_message(chat, Seq(1), "alice", at(12), None).await.expect("delete").message;
    assert!(deleted.deleted);
    assert_eq!(deleted.content, "");
    assert_eq!(deleted.seq, Seq(1), "a deleted message keeps its place");
    let again =
        storage.delete_message(chat, Seq(1), "alice", at(13), None).await.expect("delete twice");
    assert_eq!(again.message, deleted, "deleting twice changes nothing");
    assert_eq!(again.event, None, "and records nothing");
    assert!(matches!(
        storage.edit_message(chat, Seq(1), "alice", "back", at(14), None).await,
        Err(Error::MessageDeleted { .. })
    ));
    let history = storage.messages_before(chat, "bob", None, 10).await.expect("history");
    assert_eq!(history[1], deleted, "history shows the deleted message as deleted");
    assert_eq!(history[0].content, "reply");
}

pub async fn read_positions_only_move_forward(storage: Arc<dyn Storage>) {
    users(&*storage, &["alice", "bob"]).await;
    let chat = chat_of(&*storage, &["alice", "bob"]).await;
    for _ in 0..5 {
        storage.append_message(post(chat, "alice", "x", None)).await.expect("post");
    }
    let start = storage.read_positions(chat).await.expect("reads");
    assert_eq!(
        start.iter().map(|r| (r.username.as_str(), r.seq.0)).collect::<Vec<_>>(),
        [("alice", 0), ("bob", 0)]
    );
    let mark = |seq, moved| ReadMark { seq: Seq(seq), moved };
    assert_eq!(storage.mark_read(chat, "bob", Seq(3)).await.expect("read"), mark(3, true));
    assert_eq!(
        storage.mark_read(chat, "bob", Seq(2)).await.expect("read"),
        mark(3, false),
        "never moves back"
    );
    assert_eq!(storage.mark_read(chat, "bob", Seq(3)).await.expect("read"), mark(3, false));
    assert_eq!(storage.mark_read(chat, "bob", Seq(5)).await.expect("read"), mark(5, true));
    assert!(matches!(
        storage.mark_read(chat, "bob", Seq(6)).await,
        Err(Error::ReadBeyondEnd { .. })
    ));
    let reads = storage.read_positions(chat).await.expect("reads");
    assert_eq!(
        reads.iter().map(|r| (r.username.as_str(), r.seq.0)).collect::<Vec<_>>(),
        [("alice", 0), ("bob", 5)]
    );
    assert!(matches!(storage.read_positions(ChatId(999_999)).await, Err(Error::ChatNotFound(_))));
}

pub async fn concurrent_appends_get_gap_free_sequence_numbers(storage: Arc<dyn Storage>) {
    const WRITERS: usize = 8;
    const EACH: usize = 25;
    let authors: Vec<String> = (0..WRITERS).map(|i| format!("writer{i}")).collect();
    for author in &authors {
        user(&*storage, author).await;
    }
    let members: Vec<&str> = authors.iter().map(String::as_str).collect();
    let chat = chat_of(&*storage, &members).await;

    let tasks: Vec<_> = authors
        .iter()
        .map(|author| {
            let storage = storage.clone();
            let author = author.clone();
            tokio::spawn(async move {
                let mut seqs = Vec::new();
                for i in 0..EACH {
                    let text = format!("{author}-{i}");
                    let appended = storage
                        .append_message(post(chat, &author, &text, None))
                        .await
                        .expect("append");
                    seqs.push(appended.message.seq.0);
                }
                seqs
            })
        })
        .collect();
    let mut all = Vec::new();
    for task in tasks {
        let seqs = task.await.expect("writer task");
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "one writer's messages keep their order");
        all.extend(seqs);
    }
    all.sort_unstable();
    assert_eq!(all, (1..=(WRITERS * EACH) as i64).collect::<Vec<_>>(), "1..=n, no gap, no repeat");

    let stored =
        storage.messages_after(chat, "writer0", Seq(0), 1_000, Items::All).await.expect("read");
    let seqs: Vec<i64> = stored.iter().map(|m| m.seq.0).collect();
    assert_eq!(seqs, (1..=(WRITERS * EACH) as i64).collect::<Vec<_>>());
    let contents: BTreeSet<&str> = stored.iter().map(|m| m.content.as_str()).collect();
    assert_eq!(contents.len(), WRITERS * EACH, "every message stored once");
}

pub async fn concurrent_retries_store_one_message(storage: Arc<dyn Storage>) {
    users(&*storage, &["alice", "bob"]).await;
    let chat = chat_of(&*storage, &["alice", "bob"]).await;
    for round in 0..5 {
        let client_id = format!("retry-{round}");
        let tasks: Vec<_> = (0..6)
            .map(|_| {
                let storage = storage.clone();
                let client_id = client_id.clone();
                tokio::spawn(async move {
                    storage
                        .append_message(post(chat, "alice", "only once", Some(&client_id)))
                        .await
                        .expect("append")
                })
            })
            .collect();
        let mut results = Vec::new();
        for task in tasks {
            results.push(task.await.expect("task"));
        }
        assert_eq!(results.iter().filter(|r| r.created).count(), 1, "exactly one retry creates");
        assert!(
            results.iter().all(|r| r.message == results[0].message),
            "all see the same message"
        );
    }
    let stored = storage.messages_after(chat, "bob", Seq(0), 100, Items::All).await.expect("read");
    assert_eq!(stored.iter().map(|m| m.seq.0).collect::<Vec<_>>(), [1, 2, 3, 4, 5]);
}

pub async fn bot_tokens_are_listed_and_revoked_by_their_owner(storage: Arc<dyn Storage>) {
    users(&*storage, &["alice", "bob"]).await;
    let first = storage.create_bot_token("alice", "matchmaker", at(1)).await.expect("create");
    let second = storage.create_bot_token("alice", "echo", at(2)).await.expect("create");
    assert_eq!(
        (first.username.as_str(), first.name.as_str(), first.revoked),
        ("alice", "matchmaker", false)
    );
    assert_eq!(first.created_at, at(1));
    assert_ne!(first.id, second.id);
    assert_eq!(storage.bot_tokens("alice").await.expect("list"), [first.clone(), second.clone()]);
    assert!(storage.bot_tokens("bob").await.expect("list").is_empty());
    assert_eq!(storage.bot_token(first.id).await.expect("read"), Some(first.clone()));

    assert!(
        matches!(storage.revoke_bot_token("bob", first.id).await, Err(Error::BotTokenNotFound(_))),
        "only the owner revokes"
    );
    storage.revoke_bot_token("alice", first.id).await.expect("revoke");
    assert!(storage.bot_token(first.id).await.expect("read").expect("kept").revoked);
    assert!(!storage.bot_token(second.id).await.expect("read").expect("kept").revoked);
    assert!(matches!(
        storage.create_bot_token("nobody", "x", at(3)).await,
        Err(Error::UserNotFound(_))
    ));

    storage.delete_user("alice").await.expect("delete");
    assert_eq!(
        storage.bot_token(second.id).await.expect("read"),
        None,
        "tokens go with their user"
    );
}

pub async fn refusals_among_concurrent_appends_leave_the_others_intact(storage: Arc<dyn Storage>) {
    users(&*storage, &["alice", "bob", "mallory"]).await;
    let chats =
        [chat_of(&*storage, &["alice", "bob"]).await, chat_of(&*storage, &["alice", "bob"]).await];
    // Valid appends, refused appends (outsider, missing chat) and retries, all at once, so that
    // backends which batch appends get them in the same batches.
    let mut tasks = Vec::new();
    for i in 0..60 {
        let storage = storage.clone();
        let chat = chats[(i / 4) % 2];
        tasks.push(tokio::spawn(async move {
            let message = match i % 4 {
                0 => post(chat, "mallory", "let me in", None),
                1 => post(ChatId(999_999), "alice", "nowhere", None),
                2 => post(chat, "bob", "retry", Some("same-key")),
                _ => post(chat, "alice", &format!("m{i}"), None),
            };
            (i % 4, storage.append_message(message).await)
        }));
    }
    let mut created = 0;
    for task in tasks {
        match task.await.expect("task") {
            (0, result) => {
                assert!(matches!(result, Err(Error::NotParticipant { .. })), "{result:?}")
            }
            (1, result) => assert!(matches!(result, Err(Error::ChatNotFound(_))), "{result:?}"),
            (_, result) => created += usize::from(result.expect("a valid append succeeds").created),
        }
    }
    // Per chat: 8 or 7 of alice's messages, and bob's key stored once.
    let mut stored = 0;
    for chat in chats {
        let messages =
            storage.messages_after(chat, "alice", Seq(0), 100, Items::All).await.expect("read");
        let seqs: Vec<i64> = messages.iter().map(|m| m.seq.0).collect();
        assert_eq!(
            seqs,
            (1..=messages.len() as i64).collect::<Vec<_>>(),
            "gap-free despite refusals"
        );
        assert_eq!(
            messages.iter().filter(|m| m.client_id.as_deref() == Some("same-key")).count(),
            1
        );
        assert_eq!(
            storage.chat(chat).await.expect("read").expect("exists").last_seq,
            Seq(messages.len() as i64)
        );
        stored += messages.len();
    }
    assert_eq!(stored, created, "every created append is stored, nothing else");
    assert_eq!(stored, 15 + 2, "15 of alice's and one keyed message per chat");
}

/// `start_append` promises a chat's appends are numbered in the order they were started, even
/// when their commits are shared; more appends than one batch holds, spread over many chats and
/// authors, with refusals and repeated keys among them.
pub async fn started_appends_are_numbered_in_the_order_started(storage: Arc<dyn Storage>) {
    const CHATS: usize = 40;
    const APPENDS: usize = 2_600;
    let authors = ["ann", "ben", "cat"];
    users(&*storage, &authors).await;
    user(&*storage, "eve").await;
    let mut chats = Vec::new();
    for _ in 0..CHATS {
        chats.push(chat_of(&*storage, &authors).await);
    }
    // Append i goes to chat i % CHATS by author i % 3, except: every 13th is an outsider's,
    // and the one after a keyed append repeats it (same chat, author and key).
    let place = |i: usize| (i % CHATS, authors[i % 3]);
    let mut tickets = Vec::with_capacity(APPENDS);
    for i in 0..APPENDS {
        let (chat, author) = place(i);
        let message = match i % 13 {
            5 => post(chats[chat], "eve", "refused", None),
            7 => post(chats[chat], author, "keyed", Some(&format!("key-{i}"))),
            8 => {
                let (chat, author) = place(i - 1);
                post(chats[chat], author, "keyed", Some(&format!("key-{}", i - 1)))
            }
            _ => post(chats[chat], author, &format!("{i}"), None),
        };
        tickets.push(storage.start_append(message).await);
    }
    let mut seqs_by_chat: Vec<Vec<i64>> = vec![Vec::new(); CHATS];
    let mut previous = None;
    for (i, ticket) in tickets.into_iter().enumerate() {
        let result = ticket.await;
        match i % 13 {
            5 => assert!(matches!(result, Err(Error::NotParticipant { .. })), "{result:?}"),
            8 => {
                let appended = result.expect("a repeated key is answered");
                assert!(!appended.created, "the second use of a key stores nothing");
                assert_eq!(Some(appended.message), previous, "it is the first one's message");
            }
            _ => {
                let appended = result.expect("append");
                assert!(appended.created);
                seqs_by_chat[place(i).0].push(appended.message.seq.0);
                previous = Some(appended.message);
            }
        }
    }
    for (chat, seqs) in chats.iter().zip(seqs_by_chat) {
        assert_eq!(
            seqs,
            (1..=seqs.len() as i64).collect::<Vec<_>>(),
            "numbered 1, 2, … in the order started"
        );
        let stored =
            storage.messages_after(*chat, "ann", Seq(0), 1_000, Items::All).await.expect("read");
        assert_eq!(stored.len(), seqs.len(), "stored exactly what was created");
    }
}

/// What [`write_for_reopen`] wrote, to compare after reopening.
pub struct Written {
    chat: ChatId,
    messages: Vec<hellocode_core::model::Message>,
}

/// Write a bit of everything before the store is closed and reopened.
pub async fn write_for_reopen(storage: &dyn Storage) -> Written {
    storage.add_language("Rust").await.expect("language");
    let mut alice = NewUser::new("alice", "alice@example.org", "hash");
    alice.languages = names(&["Rust"]);
    storage.create_user(alice).await.expect("user");
    user(storage, "bob").await;
    let chat = chat_of(storage, &["alice", "bob"]).await;
    for i in 0..3 {
        let key = format!("k{i}");
        storage
            .append_message(post(chat, "alice", &format!("m{i}"), Some(&key)))
            .await
            .expect("post");
    }
    storage.mark_read(chat, "bob", Seq(2)).await.expect("read");
    let messages = storage.messages_after(chat, "bob", Seq(0), 10, Items::All).await.expect("read");
    Written { chat, messages }
}

/// Everything written is there, and new appends continue the sequence and the idempotency.
pub async fn check_after_reopen(storage: &dyn Storage, written: Written) {
    let chat = written.chat;
    assert_eq!(
        storage.messages_after(chat, "bob", Seq(0), 10, Items::All).await.expect("read"),
        written.messages
    );
    assert_eq!(
        storage.users_by_language("rust", None, 500).await.expect("query")[0].username,
        "alice"
    );
    assert_eq!(storage.read_positions(chat).await.expect("reads")[1].seq, Seq(2));
    let retry = storage.append_message(post(chat, "alice", "m0", Some("k0"))).await.expect("retry");
    assert!(!retry.created, "client ids survive a restart");
    let next = storage.append_message(post(chat, "bob", "after", None)).await.expect("post");
    assert_eq!(next.message.seq, Seq(4));
}

/// Defect 2 of issue 13: a name registered again is another account. The new owner is not the
/// author of the old account's messages, cannot edit them, and does not collide with their
/// client ids; ids are never reused.
pub async fn a_name_registered_again_is_a_new_account(storage: Arc<dyn Storage>) {
    users(&*storage, &["alice", "carol"]).await;
    let old_id = storage.account("carol").await.expect("read").expect("carol").user.id;
    // A group (a direct chat never gains members), so that alice can add the new carol.
    let chat = storage
        .create_chat(NewChat::group("alice", &["carol"], at(0)))
        .await
        .expect("create chat")
        .chat
        .id;
    storage.append_message(post(chat, "carol", "old", Some("k-1"))).await.expect("post");
    storage.delete_user("carol").await.expect("delete");
    assert_eq!(storage.account_by_id(old_id).await.expect("read"), None);
    assert_eq!(storage.token_holder(old_id).await.expect("read"), None, "a token dies with it");

    user(&*storage, "carol").await;
    let new = storage.account("carol").await.expect("read").expect("carol again");
    assert!(new.user.id > old_id, "ids are never reused: {} after {old_id}", new.user.id);
    assert_eq!(storage.account_by_id(new.user.id).await.expect("read"), Some(new.clone()));
    let holder = storage.token_holder(new.user.id).await.expect("read").expect("the new carol");
    assert_eq!(holder.username, "carol");
    storage.change_chat(chat, "alice", add(&["carol"]), at(4), None).await.expect("rejoin");

    let history = storage.messages_before(chat, "alice", None, 10).await.expect("history");
    assert_eq!(history[0].author, deleted_author("carol"));
    assert_ne!(history[0].author, "carol", "the new carol is not the author of the old one's");
    assert!(matches!(
        storage.edit_message(chat, Seq(1), "carol", "mine now", at(5), None).await,
        Err(Error::NotAuthor { .. })
    ));
    assert!(matches!(
        storage.delete_message(chat, Seq(1), "carol", at(5), None).await,
        Err(Error::NotAuthor { .. })
    ));
    let fresh =
        storage.append_message(post(chat, "carol", "new", Some("k-1"))).await.expect("post");
    assert!(fresh.created, "client ids belong to the account, not the name");
    // Seq 2 is the old carol's leave event, 3 the new one's join.
    assert_eq!((fresh.message.seq, fresh.message.author.as_str()), (Seq(4), "carol"));
    let edited =
        storage.edit_message(chat, Seq(4), "carol", "newer", at(6), None).await.expect("edit");
    assert_eq!(edited.message.content, "newer");
}

/// Issue 13, defect 7: `Carol`, `carol` and a Cyrillic look-alike are one name.
pub async fn usernames_are_unique_by_case_and_look_alikes(storage: Arc<dyn Storage>) {
    user(&*storage, "Carol").await;
    for taken in ["carol", "CAROL", "\u{441}\u{430}rol"] {
        let result = storage.create_user(NewUser::new(taken, "x@example.org", "hash")).await;
        assert!(matches!(result, Err(Error::UsernameTaken(_))), "{taken:?}: {result:?}");
    }
    user(&*storage, "caroline").await;
    assert!(storage.user("Carol").await.expect("read").is_some(), "the first one keeps its name");
    assert!(storage.user("carol").await.expect("read").is_none());
}

/// Changing the password moves the account's token generation (login tokens of older
/// generations are refused by the server); other changes do not.
pub async fn a_password_change_moves_the_token_generation(storage: Arc<dyn Storage>) {
    user(&*storage, "alice").await;
    let generation = |storage: Arc<dyn Storage>| async move {
        storage.account("alice").await.expect("read").expect("alice").token_generation
    };
    let first = generation(storage.clone()).await;
    let email = UserUpdate { email: Some("new@example.org".into()), ..UserUpdate::default() };
    storage.update_user("alice", email).await.expect("update");
    assert_eq!(generation(storage.clone()).await, first);
    let password = UserUpdate { password_hash: Some("new-hash".into()), ..UserUpdate::default() };
    storage.update_user("alice", password).await.expect("update");
    let second = generation(storage.clone()).await;
    assert!(second > first, "{second} after {first}");
    let id = storage.account("alice").await.expect("read").expect("alice").user.id;
    let by_id = storage.account_by_id(id).await.expect("read").expect("alice");
    assert_eq!((by_id.token_generation, by_id.password_hash.as_str()), (second, "new-hash"));
    let holder = storage.token_holder(id).await.expect("read").expect("alice");
    assert_eq!((holder.username.as_str(), holder.token_generation), ("alice", second));
}

/// Chats for [`a_refused_append_fails_alone`]: the first is the one a test holds locked.
pub async fn batch_chats(storage: &dyn Storage) -> Vec<ChatId> {
    users(storage, &["alice", "bob"]).await;
    let mut chats = Vec::new();
    for _ in 0..6 {
        chats.push(chat_of(storage, &["alice", "bob"]).await);
    }
    chats
}

/// Defect 1 of issue 13: one append the database refuses (`poison`, which bypasses the edge
/// validation) must not fail the others of its group-commit batch. The test holds a write on
/// `chats[0]` (`release` ends it) so that every append queued meanwhile shares a batch.
pub async fn a_refused_append_fails_alone(
    storage: &dyn Storage,
    chats: &[ChatId],
    poison: &str,
    release: impl std::future::Future<Output = ()>,
) {
    let blocked = storage.start_append(post(chats[0], "alice", "first", None)).await;
    let mut tickets = Vec::new();
    for (n, chat) in chats[1..].iter().enumerate() {
        for i in 0..3 {
            let content = if n == 2 && i == 1 { poison.to_owned() } else { format!("m{n}-{i}") };
            let author = if i % 2 == 0 { "alice" } else { "bob" };
            tickets.push((
                *chat,
                content.clone(),
                storage.start_append(post(*chat, author, &content, None)).await,
            ));
        }
    }
    release.await;
    blocked.await.expect("the held append commits");
    let mut stored: std::collections::HashMap<ChatId, Vec<i64>> = Default::default();
    let mut refused = 0;
    for (chat, content, ticket) in tickets {
        match ticket.await {
            Ok(appended) => stored.entry(chat).or_default().push(appended.message.seq.0),
            Err(err) => {
                assert_eq!(content, poison, "only the poisoned append fails: {err}");
                refused += 1;
            }
        }
    }
    assert_eq!(refused, 1, "the poisoned append gets its error");
    for chat in &chats[1..] {
        let expected: Vec<i64> = if *chat == chats[3] { vec![1, 2] } else { vec![1, 2, 3] };
        assert_eq!(stored.get(chat), Some(&expected), "chat {chat}: gap-free numbers");
        let history =
            storage.messages_after(*chat, "alice", Seq(0), 10, Items::All).await.expect("history");
        assert_eq!(history.iter().map(|m| m.seq.0).collect::<Vec<_>>(), expected);
        // The chat goes on from where it is, with no hole left by the refused one.
        let next = storage.append_message(post(*chat, "alice", "after", None)).await.expect("next");
        assert_eq!(next.message.seq.0, expected.len() as i64 + 1);
    }
}

/// Chats of a user, users by language and languages come in pages (`after` exclusive, by id or
/// name), and `chat_partners` names everyone who shares a chat with the user.
pub async fn lists_come_in_pages(storage: Arc<dyn Storage>) {
    users(&*storage, &["alice", "bob", "carol", "dave"]).await;
    let mut chats = Vec::new();
    for others in [&["bob"][..], &["carol"], &["bob", "carol"], &["bob"], &["carol"]] {
        let mut members = vec!["alice"];
        members.extend_from_slice(others);
        chats.push(chat_of(&*storage, &members).await);
    }
    let page =
        |list: Vec<hellocode_core::model::Chat>| list.into_iter().map(|c| c.id).collect::<Vec<_>>();
    assert_eq!(page(storage.chats_of("alice", None, 2).await.expect("page")), chats[..2]);
    assert_eq!(
        page(storage.chats_of("alice", Some(chats[1]), 2).await.expect("page")),
        chats[2..4]
    );
    assert_eq!(page(storage.chats_of("alice", Some(chats[3]), 2).await.expect("page")), chats[4..]);
    assert!(storage.chats_of("alice", Some(chats[4]), 2).await.expect("page").is_empty());
    let first = storage.chats_of("alice", None, 1).await.expect("page");
    assert_eq!(first[0].participants.len(), 2, "participants come with the page");
    assert_eq!(storage.chat_partners("alice").await.expect("partners"), names(&["bob", "carol"]));
    assert!(storage.chat_partners("dave").await.expect("partners").is_empty());

    for name in ["Rust", "Go", "Zig"] {
        storage.add_language(name).await.expect("add");
    }
    let update = |languages: &[&str]| UserUpdate {
        languages: Some(names(languages)),
        ..UserUpdate::default()
    };
    for user in ["alice", "bob", "carol"] {
        storage.update_user(user, update(&["Rust", "Go"])).await.expect("update");
    }
    let usernames = |list: Vec<hellocode_core::model::User>| {
        list.into_iter().map(|u| u.username).collect::<Vec<_>>()
    };
    let first = storage.users_by_language("rust", None, 2).await.expect("page");
    assert_eq!(first[0].languages, names(&["Go", "Rust"]), "languages come with the page");
    assert_eq!(usernames(first), names(&["alice", "bob"]));
    assert_eq!(
        usernames(storage.users_by_language("rust", Some("bob"), 2).await.expect("page")),
        names(&["carol"])
    );
    let languages = storage.languages_after(None, 2).await.expect("page");
    let next = storage.languages_after(Some(&languages[1].name), 500).await.expect("page");
    let all: Vec<String> = languages.iter().chain(&next).map(|l| l.name.clone()).collect();
    let expected: Vec<String> =
        storage.languages().await.expect("all").into_iter().map(|l| l.name).collect();
    assert_eq!(all, expected, "two pages make the whole list, in order");
}

// ---- groups, roles and sequenced events ----

/// The participants of `chat` with their roles, by username.
async fn roles(storage: &dyn Storage, chat: ChatId) -> Vec<(String, Option<Role>)> {
    let chat = storage.chat(chat).await.expect("read").expect("chat exists");
    chat.participants.into_iter().map(|p| (p.username, p.role)).collect()
}

fn role_list(list: &[(&str, Role)]) -> Vec<(String, Option<Role>)> {
    list.iter().map(|(name, role)| ((*name).to_owned(), Some(*role))).collect()
}

/// Every item of `chat`, as `reader` reads it.
async fn items(storage: &dyn Storage, chat: ChatId, reader: &str) -> Vec<Message> {
    storage.messages_after(chat, reader, Seq(0), 10_000, Items::All).await.expect("read items")
}

fn set_role(username: &str, role: Role) -> ChatChange {
    ChatChange::SetRole { username: username.into(), role }
}

fn describe(name: Option<&str>, topic: Option<&str>) -> ChatChange {
    ChatChange::Describe { name: name.map(Into::into), topic: topic.map(Into::into) }
}

/// A group's creator owns it; an admin adds and removes plain members; a plain member and a
/// non-member are refused and nothing is stored; an owner renames, sets the topic and hands
/// ownership over.
pub async fn groups_have_roles_and_their_rules(storage: Arc<dyn Storage>) {
    users(&*storage, &["olga", "ada", "bob", "cy", "dan", "eve"]).await;
    let created = storage
        .create_chat(NewChat::group("olga", &["bob", "ada", "cy"], at(0)))
        .await
        .expect("create")
        .chat;
    let chat = created.id;
    assert_eq!(
        (created.kind, created.name.clone(), created.last_seq),
        (ChatKind::Group, None, Seq(0))
    );
    assert_eq!(
        roles(&*storage, chat).await,
        role_list(&[
            ("ada", Role::Member),
            ("bob", Role::Member),
            ("cy", Role::Member),
            ("olga", Role::Owner)
        ]),
        "the creator owns the group, the others are members; no event for the creation"
    );

    let made = storage.change_chat(chat, "olga", set_role("ada", Role::Admin), at(1), None).await;
    let made = made.expect("the owner gives roles");
    assert_eq!(made.chat.role_of("ada"), Some(Role::Admin));
    let event = &made.events[..];
    assert_eq!(event.len(), 1);
    assert_eq!(
        (event[0].kind, event[0].seq, event[0].author.as_str()),
        (EventKind::Role, Seq(1), "olga")
    );
    assert_eq!((event[0].member.as_deref(), event[0].role), (Some("ada"), Some(Role::Admin)));

    // An admin adds and removes plain members.
    let added = storage.change_chat(chat, "ada", add(&["dan", "bob"]), at(2), None).await;
    let added = added.expect("an admin adds");
    assert_eq!(added.added, ["dan"], "those already in are ignored");
    assert_eq!(added.events.len(), 1);
    let join = &added.events[0];
    assert_eq!((join.kind, join.seq, join.author.as_str()), (EventKind::Join, Seq(2), "ada"));
    assert_eq!((join.member.as_deref(), join.role), (Some("dan"), Some(Role::Member)));
    assert_eq!(added.chat.role_of("dan"), Some(Role::Member));
    let removed = storage.change_chat(chat, "ada", remove("dan"), at(3), None).await;
    let removed = removed.expect("an admin removes a plain member");
    assert_eq!(removed.gone, ["dan"]);
    assert_eq!((removed.events[0].kind, removed.events[0].seq), (EventKind::Remove, Seq(3)));
    assert_eq!(removed.events[0].member.as_deref(), Some("dan"));
    assert!(!removed.chat.has_participant("dan"));

    // Refusals store nothing.
    storage
        .change_chat(chat, "olga", set_role("cy", Role::Admin), at(4), None)
        .await
        .expect("admin");
    let before = storage.chat(chat).await.expect("read").expect("chat");
    let before_items = items(&*storage, chat, "olga").await;
    assert_eq!(before.last_seq, Seq(4));
    let refusals = [
        ("ada", remove("cy"), "an admin removes plain members only"),
        ("ada", remove("olga"), "an admin does not remove the owner"),
        ("ada", set_role("bob", Role::Admin), "only the owner gives roles"),
        ("bob", add(&["eve"]), "a plain member does not add"),
        ("bob", remove("cy"), "a plain member does not remove"),
        ("bob", describe(Some("mine"), None), "a plain member does not rename"),
        ("bob", set_role("bob", Role::Owner), "a plain member does not take ownership"),
        ("olga", set_role("olga", Role::Member), "the owner hands ownership over, not away"),
    ];
    for (by, change, why) in refusals {
        let result = storage.change_chat(chat, by, change, at(5), None).await;
        assert!(matches!(result, Err(Error::NotAllowed { .. })), "{why}: {result:?}");
    }
    for change in [add(&["dan"]), remove("bob"), ChatChange::Leave, describe(Some("x"), None)] {
        let result = storage.change_chat(chat, "eve", change, at(5), None).await;
        assert!(matches!(result, Err(Error::NotParticipant { .. })), "non-member: {result:?}");
    }
    let result = storage.change_chat(chat, "olga", remove("eve"), at(5), None).await;
    assert!(matches!(result, Err(Error::NotMember { .. })), "{result:?}");
    let result = storage.change_chat(chat, "olga", add(&["dan", "ghost"]), at(5), None).await;
    assert!(matches!(result, Err(Error::UserNotFound(_))), "{result:?}");
    let full = ChatChange::Add { usernames: names(&["dan", "eve"]), max: 5 };
    let result = storage.change_chat(chat, "olga", full, at(5), None).await;
    assert!(matches!(result, Err(Error::TooManyParticipants { .. })), "{result:?}");
    assert_eq!(storage.chat(chat).await.expect("read"), Some(before), "nothing stored");
    assert_eq!(items(&*storage, chat, "olga").await, before_items, "no event recorded");

    // Describe renames and sets the topic (one event each); an empty text clears one.
    let described = storage
        .change_chat(chat, "ada", describe(Some("Rustaceans"), Some("borrowck")), at(6), None)
        .await
        .expect("an admin renames");
    assert_eq!(described.chat.name.as_deref(), Some("Rustaceans"));
    assert_eq!(described.chat.topic.as_deref(), Some("borrowck"));
    let kinds: Vec<(EventKind, &str, Seq)> =
        described.events.iter().map(|e| (e.kind, e.content.as_str(), e.seq)).collect();
    assert_eq!(
        kinds,
        [(EventKind::Rename, "Rustaceans", Seq(5)), (EventKind::Topic, "borrowck", Seq(6))]
    );
    let same =
        storage.change_chat(chat, "olga", describe(Some("Rustaceans"), None), at(7), None).await;
    assert!(same.expect("no change").events.is_empty(), "nothing changed, nothing recorded");
    let cleared = storage.change_chat(chat, "olga", describe(None, Some("")), at(7), None).await;
    let cleared = cleared.expect("clear the topic");
    assert_eq!(
        (cleared.chat.name.as_deref(), cleared.chat.topic.as_deref()),
        (Some("Rustaceans"), None)
    );
    assert_eq!(
        (cleared.events[0].kind, cleared.events[0].content.as_str()),
        (EventKind::Topic, "")
    );

    // Making someone owner hands ownership over: the old owner becomes an admin.
    let handed = storage.change_chat(chat, "olga", set_role("bob", Role::Owner), at(8), None).await;
    let handed = handed.expect("hand over");
    let events: Vec<(EventKind, Option<&str>, Option<Role>)> =
        handed.events.iter().map(|e| (e.kind, e.member.as_deref(), e.role)).collect();
    assert_eq!(
        events,
        [
            (EventKind::Role, Some("bob"), Some(Role::Owner)),
            (EventKind::Role, Some("olga"), Some(Role::Admin))
        ]
    );
    assert_eq!(
        roles(&*storage, chat).await,
        role_list(&[
            ("ada", Role::Admin),
            ("bob", Role::Owner),
            ("cy", Role::Admin),
            ("olga", Role::Admin)
        ])
    );
    let result =
        storage.change_chat(chat, "olga", set_role("ada", Role::Member), at(9), None).await;
    assert!(matches!(result, Err(Error::NotAllowed { .. })), "olga is no longer owner");
    assert_eq!(handed.chat.last_seq, Seq(9));
    let seqs: Vec<i64> = items(&*storage, chat, "bob").await.iter().map(|m| m.seq.0).collect();
    assert_eq!(seqs, (1..=9).collect::<Vec<_>>(), "every change took the next seq");
}

/// When the owner leaves, the oldest admin (by when they joined, not by name) becomes owner;
/// with no admin, the oldest member.
pub async fn an_owner_leaving_hands_over_to_the_oldest_admin_else_the_oldest_member(
    storage: Arc<dyn Storage>,
) {
    users(&*storage, &["olga", "zoe", "amy", "ben", "abe"]).await;
    // zoe joins first; ben, then abe, become admins (abe comes first by name, but joined last).
    let chat =
        storage.create_chat(NewChat::group("olga", &["zoe"], at(0))).await.expect("create").chat.id;
    storage.change_chat(chat, "olga", add(&["amy", "ben"]), at(10), None).await.expect("add");
    storage.change_chat(chat, "olga", add(&["abe"]), at(20), None).await.expect("add");
    for admin in ["abe", "ben"] {
        storage
            .change_chat(chat, "olga", set_role(admin, Role::Admin), at(30), None)
            .await
            .expect("role");
    }
    let left =
        storage.change_chat(chat, "olga", ChatChange::Leave, at(40), None).await.expect("leave");
    assert_eq!(left.gone, ["olga"]);
    let events: Vec<(EventKind, &str, Option<&str>, Option<Role>)> = left
        .events
        .iter()
        .map(|e| (e.kind, e.author.as_str(), e.member.as_deref(), e.role))
        .collect();
    assert_eq!(
        events,
        [
            (EventKind::Leave, "olga", Some("olga"), None),
            (EventKind::Role, "olga", Some("ben"), Some(Role::Owner))
        ],
        "the oldest admin takes over"
    );
    assert_eq!(left.chat.role_of("ben"), Some(Role::Owner));
    assert_eq!(left.chat.role_of("abe"), Some(Role::Admin));
    assert!(!left.chat.has_participant("olga"));

    // ben leaves in turn: abe is the only admin left.
    let left =
        storage.change_chat(chat, "ben", ChatChange::Leave, at(50), None).await.expect("leave");
    assert_eq!(left.chat.role_of("abe"), Some(Role::Owner));
    // abe leaves: no admin; zoe joined first (amy comes first by name, but joined later).
    let left =
        storage.change_chat(chat, "abe", ChatChange::Leave, at(60), None).await.expect("leave");
    assert_eq!(left.events[1].member.as_deref(), Some("zoe"), "the oldest member takes over");
    assert_eq!(
        roles(&*storage, chat).await,
        role_list(&[("amy", Role::Member), ("zoe", Role::Owner)])
    );
    // A member leaving hands nothing over.
    let left =
        storage.change_chat(chat, "amy", ChatChange::Leave, at(70), None).await.expect("leave");
    assert_eq!(left.events.len(), 1);
    assert_eq!(roles(&*storage, chat).await, role_list(&[("zoe", Role::Owner)]));
    // A plain member may remove themselves: that is leaving.
    users(&*storage, &["al"]).await;
    storage.change_chat(chat, "zoe", add(&["al"]), at(80), None).await.expect("add");
    let gone =
        storage.change_chat(chat, "al", remove("al"), at(90), None).await.expect("self-removal");
    assert_eq!(gone.events[0].kind, EventKind::Leave);
    assert!(!gone.deleted);
    // The last one out deletes the chat: no one could ever read it again.
    let last =
        storage.change_chat(chat, "zoe", ChatChange::Leave, at(100), None).await.expect("leave");
    assert!(last.deleted, "{last:?}");
    assert!(last.events.is_empty() && last.chat.participants.is_empty(), "{last:?}");
    assert_eq!(storage.chat(chat).await.expect("read"), None, "the chat is gone");
}

/// A direct chat has two members and no roles, name or topic: it refuses to gain or lose
/// members, be renamed or give roles (`DirectChat`, nothing stored), but either member may
/// leave.
pub async fn direct_chats_refuse_membership_changes_but_may_be_left(storage: Arc<dyn Storage>) {
    users(&*storage, &["alice", "bob", "carol"]).await;
    let created =
        storage.create_chat(NewChat::direct("alice", "bob", at(0))).await.expect("create").chat;
    let chat = created.id;
    assert_eq!(created.kind, ChatKind::Direct);
    assert_eq!((created.role_of("alice"), created.role_of("bob")), (None, None));
    for (by, change) in [
        ("alice", add(&["carol"])),
        ("alice", remove("bob")),
        ("bob", describe(Some("us"), None)),
        ("bob", describe(None, Some("topic"))),
        ("alice", set_role("bob", Role::Admin)),
        ("alice", set_role("alice", Role::Owner)),
    ] {
        let result = storage.change_chat(chat, by, change.clone(), at(1), None).await;
        assert!(matches!(result, Err(Error::DirectChat { .. })), "{change:?}: {result:?}");
    }
    assert_eq!(storage.chat(chat).await.expect("read"), Some(created), "nothing stored");
    storage.append_message(post(chat, "alice", "hi", None)).await.expect("post");
    let left =
        storage.change_chat(chat, "bob", ChatChange::Leave, at(2), None).await.expect("leave");
    assert_eq!(left.gone, ["bob"]);
    assert_eq!(left.events.len(), 1, "no handover in a direct chat");
    let event = &left.events[0];
    assert_eq!(
        (event.kind, event.seq, event.member.as_deref(), event.role),
        (EventKind::Leave, Seq(2), Some("bob"), None)
    );
    assert_eq!(roles(&*storage, chat).await, [("alice".to_owned(), None)]);
    assert!(matches!(
        storage.messages_before(chat, "bob", None, 10).await,
        Err(Error::NotParticipant { .. })
    ));
}

/// Edits and deletions take the chat's next seq and name their post (`target`); history shows
/// posts only, each as it now is; resume returns every item in seq order, gap-free, or posts
/// only; an event is never a post to edit or delete.
pub async fn edits_and_deletions_are_sequenced_events(storage: Arc<dyn Storage>) {
    users(&*storage, &["alice", "bob"]).await;
    let chat = chat_of(&*storage, &["alice", "bob"]).await;
    storage.append_message(post(chat, "alice", "tpyo", None)).await.expect("post");
    storage.append_message(post(chat, "bob", "reply", None)).await.expect("post");

    let edited =
        storage.edit_message(chat, Seq(1), "alice", "typo", at(10), None).await.expect("edit");
    let event = edited.event.expect("an edit records an event");
    assert_eq!(
        (event.kind, event.seq, event.target, event.author.as_str(), event.content.as_str()),
        (EventKind::Edit, Seq(3), Some(Seq(1)), "alice", "typo")
    );
    assert_eq!((event.chat_id, event.timestamp, event.member.clone()), (chat, at(10), None));
    assert_eq!(edited.message.seq, Seq(1), "the post keeps its place");

    // Refused revisions record nothing.
    assert!(matches!(
        storage.edit_message(chat, Seq(2), "alice", "mine now", at(11), None).await,
        Err(Error::NotAuthor { .. })
    ));
    for seq in [Seq(3), Seq(0), Seq(99)] {
        let result = storage.edit_message(chat, seq, "alice", "x", at(11), None).await;
        assert!(matches!(result, Err(Error::MessageNotFound { .. })), "{seq}: {result:?}");
        let result = storage.delete_message(chat, seq, "alice", at(11), None).await;
        assert!(matches!(result, Err(Error::MessageNotFound { .. })), "{seq}: {result:?}");
    }
    assert_eq!(storage.chat(chat).await.expect("read").expect("chat").last_seq, Seq(3));

    let deleted =
        storage.delete_message(chat, Seq(1), "alice", at(12), None).await.expect("delete");
    let event = deleted.event.expect("a deletion records an event");
    assert_eq!(
        (event.kind, event.seq, event.target, event.content.as_str()),
        (EventKind::Delete, Seq(4), Some(Seq(1)), "")
    );
    let again = storage.delete_message(chat, Seq(1), "alice", at(13), None).await.expect("again");
    assert_eq!(again.event, None, "deleting twice records nothing");
    storage.append_message(post(chat, "bob", "later", None)).await.expect("post");
    assert_eq!(storage.chat(chat).await.expect("read").expect("chat").last_seq, Seq(5));

    let history = storage.messages_before(chat, "bob", None, 10).await.expect("history");
    let posts: Vec<(i64, &str, bool)> =
        history.iter().map(|m| (m.seq.0, m.content.as_str(), m.deleted)).collect();
    assert_eq!(posts, [(5, "later", false), (2, "reply", false), (1, "", true)]);
    assert!(history.iter().all(|m| m.kind == EventKind::Message));
    let page = storage.messages_before(chat, "bob", Some(Seq(5)), 1).await.expect("page");
    assert_eq!(page[0].seq, Seq(2), "a page skips the events below it");

    let all = items(&*storage, chat, "bob").await;
    let kinds: Vec<(i64, EventKind)> = all.iter().map(|m| (m.seq.0, m.kind)).collect();
    assert_eq!(
        kinds,
        [
            (1, EventKind::Message),
            (2, EventKind::Message),
            (3, EventKind::Edit),
            (4, EventKind::Delete),
            (5, EventKind::Message)
        ]
    );
    assert!(all[0].deleted, "a post is read as it now is");
    assert_eq!(all[2].content, "typo", "an edit event keeps the text it set");
    let posts = storage.messages_after(chat, "bob", Seq(0), 10, Items::Posts).await.expect("posts");
    assert_eq!(posts.iter().map(|m| m.seq.0).collect::<Vec<_>>(), [1, 2, 5]);
    let middle = storage.messages_after(chat, "bob", Seq(2), 2, Items::All).await.expect("page");
    assert_eq!(middle.iter().map(|m| m.seq.0).collect::<Vec<_>>(), [3, 4]);
    let posts = storage.messages_after(chat, "bob", Seq(2), 1, Items::Posts).await.expect("page");
    assert_eq!(posts.iter().map(|m| m.seq.0).collect::<Vec<_>>(), [5]);
    assert_eq!(
        storage.mark_read(chat, "bob", Seq(5)).await.expect("read"),
        ReadMark { seq: Seq(5), moved: true },
        "read positions count events"
    );
}

/// A removed member no longer reads, posts, revises or marks read, and is no one's chat
/// partner there; the others read the removal.
pub async fn a_removed_member_can_no_longer_read(storage: Arc<dyn Storage>) {
    users(&*storage, &["olga", "bob", "cy"]).await;
    let chat = chat_of(&*storage, &["olga", "bob", "cy"]).await;
    storage.append_message(post(chat, "bob", "hello", None)).await.expect("post");
    storage.mark_read(chat, "bob", Seq(1)).await.expect("read");
    storage.change_chat(chat, "olga", remove("bob"), at(5), None).await.expect("remove");
    let refused = |result: Result<(), Error>| matches!(result, Err(Error::NotParticipant { username, .. }) if username == "bob");
    assert!(refused(storage.messages_before(chat, "bob", None, 10).await.map(|_| ())));
    assert!(refused(storage.messages_after(chat, "bob", Seq(0), 10, Items::All).await.map(|_| ())));
    assert!(refused(
        storage.messages_after(chat, "bob", Seq(0), 10, Items::Posts).await.map(|_| ())
    ));
    assert!(refused(storage.append_message(post(chat, "bob", "still?", None)).await.map(|_| ())));
    assert!(refused(storage.edit_message(chat, Seq(1), "bob", "x", at(6), None).await.map(|_| ())));
    assert!(refused(storage.delete_message(chat, Seq(1), "bob", at(6), None).await.map(|_| ())));
    assert!(refused(storage.mark_read(chat, "bob", Seq(1)).await.map(|_| ())));
    assert!(refused(
        storage.change_chat(chat, "bob", ChatChange::Leave, at(6), None).await.map(|_| ())
    ));
    assert!(!storage.is_participant(chat, "bob").await.expect("check"));
    assert!(storage.chat_partners("bob").await.expect("partners").is_empty());
    let readers: Vec<String> = storage
        .read_positions(chat)
        .await
        .expect("reads")
        .into_iter()
        .map(|r| r.username)
        .collect();
    assert_eq!(readers, ["cy", "olga"], "the read position goes with the membership");
    let all = items(&*storage, chat, "cy").await;
    let seen: Vec<(EventKind, &str, Option<&str>)> =
        all.iter().map(|m| (m.kind, m.author.as_str(), m.member.as_deref())).collect();
    assert_eq!(seen, [(EventKind::Message, "bob", None), (EventKind::Remove, "olga", Some("bob"))]);
}

/// Either member deletes a direct chat, only the owner a group; deletion returns the members,
/// and the chat is gone.
pub async fn chats_are_deleted_by_a_member_of_a_direct_chat_or_a_groups_owner(
    storage: Arc<dyn Storage>,
) {
    users(&*storage, &["alice", "bob", "olga", "ada", "eve"]).await;
    for by in ["alice", "bob"] {
        let chat = chat_of(&*storage, &["alice", "bob"]).await;
        storage.append_message(post(chat, "alice", "hi", None)).await.expect("post");
        let result = storage.delete_chat(chat, "eve").await;
        assert!(matches!(result, Err(Error::NotParticipant { .. })), "{result:?}");
        assert_eq!(storage.delete_chat(chat, by).await.expect("delete"), names(&["alice", "bob"]));
        assert_eq!(storage.chat(chat).await.expect("read"), None);
        assert!(matches!(storage.delete_chat(chat, by).await, Err(Error::ChatNotFound(_))));
        assert!(matches!(
            storage.messages_after(chat, "alice", Seq(0), 10, Items::All).await,
            Err(Error::ChatNotFound(_))
        ));
        assert!(matches!(
            storage.change_chat(chat, "alice", ChatChange::Leave, at(1), None).await,
            Err(Error::ChatNotFound(_))
        ));
        assert!(matches!(
            storage.append_message(post(chat, "alice", "hi", None)).await,
            Err(Error::ChatNotFound(_))
        ));
    }
    let group = chat_of(&*storage, &["olga", "ada", "bob"]).await;
    storage
        .change_chat(group, "olga", set_role("ada", Role::Admin), at(1), None)
        .await
        .expect("role");
    storage.append_message(post(group, "bob", "hi", None)).await.expect("post");
    for (by, refusal) in [("ada", "an admin"), ("bob", "a member")] {
        let result = storage.delete_chat(group, by).await;
        assert!(matches!(result, Err(Error::NotAllowed { .. })), "{refusal}: {result:?}");
    }
    assert!(matches!(storage.delete_chat(group, "eve").await, Err(Error::NotParticipant { .. })));
    assert_eq!(items(&*storage, group, "bob").await.len(), 2, "a refused deletion deletes nothing");
    assert_eq!(
        storage.delete_chat(group, "olga").await.expect("the owner deletes"),
        names(&["ada", "bob", "olga"])
    );
    assert_eq!(storage.chat(group).await.expect("read"), None);
    assert!(storage.chats_of("bob", None, 10).await.expect("list").is_empty());
}

/// Deleting a user records a `leave` event in each chat they were in, authored by and naming
/// their deleted name; a group they owned gets a new owner (its oldest admin).
pub async fn deleted_users_leave_each_chat_with_an_event(storage: Arc<dyn Storage>) {
    users(&*storage, &["olga", "ada", "bob", "cy"]).await;
    let owned = chat_of(&*storage, &["olga", "bob", "ada"]).await;
    storage
        .change_chat(owned, "olga", set_role("ada", Role::Admin), at(1), None)
        .await
        .expect("role");
    storage.append_message(post(owned, "olga", "mine", None)).await.expect("post");
    let direct = chat_of(&*storage, &["olga", "cy"]).await;
    let other = chat_of(&*storage, &["bob", "olga", "cy"]).await;
    let untouched = chat_of(&*storage, &["bob", "cy"]).await;

    storage.delete_user("olga").await.expect("delete");
    let gone = deleted_author("olga");
    let events = |all: &[Message]| {
        all.iter().map(|m| (m.kind, m.author.clone(), m.member.clone(), m.role)).collect::<Vec<_>>()
    };
    let owned_items = items(&*storage, owned, "bob").await;
    assert_eq!(owned_items.iter().map(|m| m.seq.0).collect::<Vec<_>>(), [1, 2, 3, 4]);
    assert_eq!(owned_items[1].author, gone, "their posts stay, under the deleted name");
    assert_eq!(
        events(&owned_items[2..]),
        [
            (EventKind::Leave, gone.clone(), Some(gone.clone()), None),
            (EventKind::Role, gone.clone(), Some("ada".to_owned()), Some(Role::Owner))
        ],
        "the owner's group records the leave and hands over to the oldest admin"
    );
    assert_eq!(
        roles(&*storage, owned).await,
        role_list(&[("ada", Role::Owner), ("bob", Role::Member)])
    );
    for chat in [direct, other] {
        let all = items(&*storage, chat, "cy").await;
        assert_eq!(all.len(), 1, "one event, no handover: {all:?}");
        assert_eq!(
            (all[0].kind, all[0].seq, all[0].author.clone(), all[0].member.clone()),
            (EventKind::Leave, Seq(1), gone.clone(), Some(gone.clone()))
        );
        assert!(!storage.chat(chat).await.expect("read").expect("chat").has_participant("olga"));
    }
    assert_eq!(
        storage.chat(other).await.expect("read").expect("chat").role_of("bob"),
        Some(Role::Owner)
    );
    assert!(items(&*storage, untouched, "cy").await.is_empty(), "other chats record nothing");
}

/// Appends (`start_append`), membership changes, renames and edits of one chat from many tasks
/// at once share one sequence: the stored items are 1..=N, gap-free and unique, and each
/// operation's seq is among them. A post started before its author's removal either lands
/// before the removal or is refused: never after it.
pub async fn concurrent_changes_and_appends_share_one_gap_free_sequence(storage: Arc<dyn Storage>) {
    const TASKS: usize = 8;
    const OPS: usize = 20;
    let admins: Vec<String> = (0..TASKS).map(|i| format!("w{i}")).collect();
    let guests: Vec<String> = (0..TASKS).map(|i| format!("x{i}")).collect();
    user(&*storage, "boss").await;
    for name in admins.iter().chain(&guests) {
        user(&*storage, name).await;
    }
    let members: Vec<&str> = admins.iter().map(String::as_str).collect();
    let chat =
        storage.create_chat(NewChat::group("boss", &members, at(0))).await.expect("create").chat.id;
    for admin in &admins {
        storage
            .change_chat(chat, "boss", set_role(admin, Role::Admin), at(1), None)
            .await
            .expect("role");
    }
    let tasks: Vec<_> = (0..TASKS)
        .map(|i| {
            let storage = storage.clone();
            let (me, guest) = (admins[i].clone(), guests[i].clone());
            tokio::spawn(async move {
                let mut seqs = Vec::new();
                let mut mine = Seq(0);
                let mut guest_post = None;
                for j in 0..OPS {
                    let when = at(10 + j as i64);
                    match j % 5 {
                        0 => {
                            let ticket = storage
                                .start_append(post(chat, &me, &format!("{me}-{j}"), None))
                                .await;
                            mine = ticket.await.expect("append").message.seq;
                            seqs.push(mine.0);
                        }
                        1 => {
                            let edited =
                                storage.edit_message(chat, mine, &me, "edited", when, None).await;
                            seqs.push(edited.expect("edit").event.expect("event").seq.0);
                        }
                        2 => {
                            let topic = describe(None, Some(&format!("{me}-{j}")));
                            let changed = storage.change_chat(chat, &me, topic, when, None).await;
                            seqs.push(changed.expect("describe").events[0].seq.0);
                        }
                        3 => {
                            let changed =
                                storage.change_chat(chat, &me, add(&[&guest]), when, None).await;
                            seqs.push(changed.expect("add").events[0].seq.0);
                            // The guest's post is queued, and the removal asked for, before it
                            // is known whether the post is committed.
                            let text = format!("{guest}-{j}");
                            guest_post =
                                Some(storage.start_append(post(chat, &guest, &text, None)).await);
                        }
                        _ => {
                            let changed =
                                storage.change_chat(chat, &me, remove(&guest), when, None).await;
                            let removal = changed.expect("remove").events[0].seq.0;
                            seqs.push(removal);
                            let ticket = guest_post.take().expect("queued in the step before");
                            match ticket.await {
                                Ok(appended) => {
                                    assert!(
                                        appended.message.seq.0 < removal,
                                        "a post after its author's removal: {} > {removal}",
                                        appended.message.seq.0
                                    );
                                    seqs.push(appended.message.seq.0);
                                }
                                Err(Error::NotParticipant { .. }) => {}
                                Err(err) => panic!("unexpected: {err}"),
                            }
                        }
                    }
                }
                seqs
            })
        })
        .collect();
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.expect("task"));
    }
    all.extend(1..=TASKS as i64);
    all.sort_unstable();
    let n = all.len() as i64;
    assert!(n >= (TASKS * OPS + TASKS) as i64);
    assert_eq!(all, (1..=n).collect::<Vec<_>>(), "every operation's seq, unique and gap-free");
    let stored = items(&*storage, chat, "boss").await;
    assert_eq!(stored.iter().map(|m| m.seq.0).collect::<Vec<_>>(), all, "1..=N stored");
    assert_eq!(storage.chat(chat).await.expect("read").expect("chat").last_seq, Seq(n));
    // Replaying the events, every post's author was a member when it was stored.
    let mut present: BTreeSet<String> = admins.iter().cloned().collect();
    present.insert("boss".into());
    for item in &stored {
        match item.kind {
            EventKind::Join => {
                present.insert(item.member.clone().expect("member"));
            }
            EventKind::Remove | EventKind::Leave => {
                present.remove(item.member.as_deref().expect("member"));
            }
            EventKind::Message => assert!(
                present.contains(&item.author),
                "seq {}: {} posted while not a member",
                item.seq,
                item.author
            ),
            _ => {}
        }
    }
}

/// Every mutating operation takes an idempotency key: a retry under a key already stored
/// applies nothing and answers as things now are; a key reused for another command is refused.
pub async fn retried_commands_apply_once(storage: Arc<dyn Storage>) {
    users(&*storage, &["alice", "bob", "carol", "dave"]).await;
    let keyed = |key: &str| NewChat {
        client_id: Some(key.to_owned()),
        ..NewChat::group("alice", &["bob"], at(0))
    };
    // A creation: the second answers the first's chat, and nothing else is created.
    let first = storage.create_chat(keyed("c-1")).await.expect("create");
    let again = storage.create_chat(keyed("c-1")).await.expect("retry");
    assert!(first.created && !again.created, "{again:?}");
    assert_eq!(again.chat.id, first.chat.id);
    assert_eq!(storage.chats_of("alice", None, 10).await.expect("chats").len(), 1);
    // Keys are the creator's: bob's "c-1" is his own.
    let bobs =
        NewChat { client_id: Some("c-1".into()), ..NewChat::group("bob", &["alice"], at(1)) };
    assert!(storage.create_chat(bobs).await.expect("bob's").created);
    let chat = first.chat.id;

    // A change: applied once, the retry stores no event.
    let added =
        storage.change_chat(chat, "alice", add(&["carol"]), at(2), Some("k-1")).await.expect("add");
    assert_eq!((added.events.len(), added.replayed), (1, false));
    let retried = storage
        .change_chat(chat, "alice", add(&["carol"]), at(3), Some("k-1"))
        .await
        .expect("retry");
    assert!(retried.replayed && retried.events.is_empty(), "{retried:?}");
    assert!(retried.chat.has_participant("carol"));
    assert_eq!(retried.chat.last_seq, added.chat.last_seq, "nothing more was stored");
    // The same key for another command is refused, and stores nothing.
    let reused =
        storage.change_chat(chat, "alice", describe(Some("x"), None), at(4), Some("k-1")).await;
    assert!(matches!(reused, Err(Error::ClientIdReused { .. })), "{reused:?}");
    // A change recording two events keeps its key on the first: a retry is still one change.
    let handed = set_role("carol", Role::Owner);
    let once = storage.change_chat(chat, "alice", handed.clone(), at(5), Some("h-1")).await;
    assert_eq!(once.expect("hand over").events.len(), 2);
    let twice =
        storage.change_chat(chat, "alice", handed, at(6), Some("h-1")).await.expect("again");
    assert!(twice.replayed);
    assert_eq!(roles(&*storage, chat).await[0], ("alice".to_owned(), Some(Role::Admin)));

    // Edits and deletions: the retry answers the post as it now is, with no event.
    let posted = storage.append_message(post(chat, "bob", "hi", None)).await.expect("post");
    let seq = posted.message.seq;
    let edited = storage.edit_message(chat, seq, "bob", "hello", at(7), Some("e-1")).await;
    assert!(edited.expect("edit").event.is_some());
    let again = storage.edit_message(chat, seq, "bob", "HELLO", at(8), Some("e-1")).await;
    let again = again.expect("retried edit");
    assert_eq!((again.message.content.as_str(), again.event), ("hello", None), "applied once");
    let deleted = storage.delete_message(chat, seq, "bob", at(9), Some("d-1")).await;
    assert!(deleted.expect("delete").event.is_some());
    let again = storage.delete_message(chat, seq, "bob", at(10), Some("d-1")).await;
    assert_eq!(again.expect("retried delete").event, None);
    // A post under a key an edit used: refused, not mistaken for the post.
    let clash = storage.append_message(post(chat, "bob", "new", Some("e-1"))).await;
    assert!(matches!(clash, Err(Error::ClientIdReused { .. })), "{clash:?}");
    let before = storage.chat(chat).await.expect("read").expect("chat").last_seq;

    // Leaving: a retry is answered although the one who left is no longer a member...
    storage.change_chat(chat, "bob", ChatChange::Leave, at(11), Some("l-1")).await.expect("leave");
    let again = storage.change_chat(chat, "bob", ChatChange::Leave, at(12), Some("l-1")).await;
    assert!(again.expect("retried leave").replayed);
    // ...but any other retry of a member since removed learns nothing.
    storage.change_chat(chat, "carol", add(&["dave"]), at(13), None).await.expect("add dave");
    let promote = set_role("dave", Role::Admin);
    storage.change_chat(chat, "carol", promote, at(13), None).await.expect("promote dave");
    storage
        .change_chat(chat, "dave", describe(None, Some("t")), at(14), Some("t-1"))
        .await
        .expect("topic");
    storage.change_chat(chat, "carol", remove("dave"), at(15), None).await.expect("remove dave");
    let stale =
        storage.change_chat(chat, "dave", describe(None, Some("t")), at(16), Some("t-1")).await;
    assert!(matches!(stale, Err(Error::NotParticipant { .. })), "{stale:?}");
    // Nor does a key of theirs used for another command tell them anything (fuzz finding:
    // it was `ClientIdReused`), nor a repeat of removing themselves (it answered the chat).
    let other = set_role("bob", Role::Admin);
    let other = storage.change_chat(chat, "dave", other, at(17), Some("t-1")).await;
    assert!(matches!(other, Err(Error::NotParticipant { .. })), "{other:?}");
    storage.change_chat(chat, "carol", add(&["dave"]), at(18), None).await.expect("dave back");
    storage.change_chat(chat, "dave", remove("dave"), at(19), Some("self-1")).await.expect("self");
    let again = storage.change_chat(chat, "dave", remove("dave"), at(20), Some("self-1")).await;
    assert!(matches!(again, Err(Error::NotParticipant { .. })), "{again:?}");
    // A removal of someone else's key does not swallow a leave (fuzz finding).
    storage.change_chat(chat, "carol", add(&["dave"]), at(21), None).await.expect("dave again");
    storage
        .change_chat(chat, "carol", set_role("dave", Role::Admin), at(22), None)
        .await
        .expect("admin");
    storage.change_chat(chat, "carol", add(&["bob"]), at(23), None).await.expect("bob back");
    storage
        .change_chat(chat, "dave", remove("bob"), at(24), Some("r-1"))
        .await
        .expect("remove bob");
    let swallowed = storage.change_chat(chat, "dave", remove("dave"), at(25), Some("r-1")).await;
    assert!(matches!(swallowed, Err(Error::ClientIdReused { .. })), "{swallowed:?}");
    assert!(storage.is_participant(chat, "dave").await.expect("check"), "nothing applied");
    // An update whose first run changed only the topic is a repeat, not another command.
    let rename = describe(Some("same"), None);
    storage.change_chat(chat, "carol", rename, at(26), None).await.expect("name");
    let both = describe(Some("same"), Some("new topic"));
    let first = storage.change_chat(chat, "carol", both.clone(), at(27), Some("u-1")).await;
    assert_eq!(first.expect("topic only").events.len(), 1);
    let again = storage.change_chat(chat, "carol", both, at(28), Some("u-1")).await;
    assert!(again.expect("a repeat").replayed);
    // A chat's creation repeated after its creator left shows them nothing.
    let made =
        NewChat { client_id: Some("c-9".into()), ..NewChat::group("bob", &["carol"], at(29)) };
    let made = storage.create_chat(made.clone()).await.expect("create").chat.id;
    storage.change_chat(made, "bob", ChatChange::Leave, at(30), None).await.expect("bob leaves");
    let again =
        NewChat { client_id: Some("c-9".into()), ..NewChat::group("bob", &["carol"], at(31)) };
    let again = storage.create_chat(again).await;
    assert!(matches!(again, Err(Error::NotParticipant { .. })), "{again:?}");
    let after = storage.chat(chat).await.expect("read").expect("chat").last_seq;
    assert_eq!(after.0, before.0 + 13, "thirteen changes, and no retry stored anything");
}

/// Two retries of one change racing (the original and its resend after a lost connection):
/// one applies, the other is answered as a replay; the chat records the change once.
pub async fn concurrent_retries_of_a_change_apply_it_once(storage: Arc<dyn Storage>) {
    users(&*storage, &["alice", "bob", "carol", "dave"]).await;
    let chat = chat_of(&*storage, &["alice", "bob", "dave"]).await;
    let tries = (0..8).map(|n| {
        let storage = storage.clone();
        tokio::spawn(async move {
            storage.change_chat(chat, "alice", add(&["carol"]), at(n), Some("race")).await
        })
    });
    let mut applied = 0;
    for task in tries.collect::<Vec<_>>() {
        let changed = task.await.expect("no panic").expect("change or replay");
        applied += usize::from(!changed.replayed);
    }
    assert_eq!(applied, 1, "exactly one of the racing retries applied the change");
    let stored = items(&*storage, chat, "alice").await;
    assert_eq!(stored.len(), 1, "one join event: {stored:?}");
}
