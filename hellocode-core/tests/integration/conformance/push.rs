//! Push notifications, on every backend: pushers (one per app and key across users, at most
//! MAX_PUSHERS_PER_USER each, gone with their account), mutes (members only, gone with the
//! membership), whom a post notifies with what unread count, and the queue (claims hide a
//! notification until their lease ends, failures reschedule, a removed or rejected pusher
//! takes its queue with it).

use std::collections::BTreeSet;
use std::sync::Arc;

use hellocode_core::Error;
use hellocode_core::model::{
    ChatChange, ChatId, MAX_PUSHERS_PER_USER, NewPush, NewPusher, PushTarget, Seq,
};
use hellocode_core::storage::Storage;

use super::{at, chat_of, names, post, remove, users};

fn pusher(app: &str, key: &str) -> NewPusher {
    NewPusher {
        app_id: app.into(),
        pushkey: key.into(),
        url: "http://127.0.0.1:5000/_matrix/push/v1/notify".into(),
        device_name: format!("{key}'s device"),
        lang: "en".into(),
        previews: true,
        at: at(3),
    }
}

fn push(app: &str, key: &str, body: &str, due: i64) -> NewPush {
    NewPush { app_id: app.into(), pushkey: key.into(), body: body.into(), due: at(due) }
}

fn keys(targets: &[PushTarget]) -> Vec<(String, String, u64)> {
    targets.iter().map(|t| (t.username.clone(), t.pusher.pushkey.clone(), t.unread)).collect()
}

async fn pushkeys(storage: &dyn Storage, user: &str) -> Vec<String> {
    let settings = storage.push_settings(user).await.expect("settings");
    settings.pushers.into_iter().map(|p| p.pushkey).collect()
}

/// A pusher reads back as set; setting it again changes it; the same key set by another user
/// moves to them; removal is idempotent and only the owner's; the cap refuses one more; a
/// deleted account's pushers go.
pub async fn pushers_are_set_moved_and_removed(storage: Arc<dyn Storage>) {
    users(&*storage, &["ada", "bob"]).await;
    storage.set_pusher("ada", pusher("app", "k1")).await.expect("set");
    let settings = storage.push_settings("ada").await.expect("settings");
    assert_eq!(settings.pushers, vec![pusher("app", "k1").into_pusher()]);
    assert!(settings.muted_chats.is_empty());

    let mut changed = pusher("app", "k1");
    changed.previews = false;
    changed.url = "https://push.example.org/_matrix/push/v1/notify".into();
    storage.set_pusher("ada", changed.clone()).await.expect("change");
    let settings = storage.push_settings("ada").await.expect("settings");
    assert_eq!(settings.pushers, vec![changed.into_pusher()], "changed in place, not added");

    storage.remove_pusher("bob", "app", "k1").await.expect("not bob's: nothing");
    assert_eq!(pushkeys(&*storage, "ada").await, ["k1"]);
    storage.set_pusher("bob", pusher("app", "k1")).await.expect("the device changed hands");
    assert!(pushkeys(&*storage, "ada").await.is_empty());
    assert_eq!(pushkeys(&*storage, "bob").await, ["k1"]);
    storage.remove_pusher("bob", "app", "k1").await.expect("remove");
    storage.remove_pusher("bob", "app", "k1").await.expect("again: nothing to remove");
    assert!(pushkeys(&*storage, "bob").await.is_empty());

    for n in 0..MAX_PUSHERS_PER_USER {
        storage.set_pusher("ada", pusher("app", &format!("key-{n:02}"))).await.expect("set");
    }
    let refused = storage.set_pusher("ada", pusher("app", "one-more")).await;
    assert!(matches!(refused, Err(Error::TooManyPushers { .. })), "{refused:?}");
    storage.set_pusher("ada", pusher("app", "key-00")).await.expect("changing one is no new one");
    assert_eq!(pushkeys(&*storage, "ada").await.len(), MAX_PUSHERS_PER_USER);
    let unknown = storage.set_pusher("nobody", pusher("app", "k9")).await;
    assert!(matches!(unknown, Err(Error::UserNotFound(_))), "{unknown:?}");

    storage.delete_user("ada").await.expect("delete");
    storage.set_pusher("bob", pusher("app", "key-00")).await.expect("the key is free again");
    assert_eq!(pushkeys(&*storage, "bob").await, ["key-00"]);
}

/// Members mute and unmute; a non-member cannot; leaving ends the mute; muted members and
/// those with no pusher are no targets; unread counts others' live posts past the position.
pub async fn posts_notify_unmuted_members_pushers(storage: Arc<dyn Storage>) {
    users(&*storage, &["ada", "bob", "cy", "dee"]).await;
    let group = chat_of(&*storage, &["ada", "bob", "cy"]).await;
    storage.set_pusher("bob", pusher("app", "bob-phone")).await.expect("set");
    storage.set_pusher("bob", pusher("app", "bob-tablet")).await.expect("set");
    storage.set_pusher("cy", pusher("app", "cy-phone")).await.expect("set");

    let refused = storage.mute_chat(group, "dee", true).await;
    assert!(matches!(refused, Err(Error::NotParticipant { .. })), "{refused:?}");
    let missing = storage.mute_chat(ChatId(999_999), "ada", true).await;
    assert!(matches!(missing, Err(Error::ChatNotFound(_))), "{missing:?}");

    for text in ["one", "two", "three"] {
        storage.append_message(post(group, "ada", text, None)).await.expect("post");
    }
    storage.append_message(post(group, "bob", "mine", None)).await.expect("post");
    storage.mark_read(group, "bob", Seq(1)).await.expect("read");
    let everyone = names(&["ada", "bob", "cy", "dee"]);
    let targets = storage.push_targets(group, &everyone, Seq(4)).await.expect("targets");
    assert_eq!(
        keys(&targets),
        [
            ("bob".to_owned(), "bob-phone".to_owned(), 2),
            ("bob".to_owned(), "bob-tablet".to_owned(), 2),
            ("cy".to_owned(), "cy-phone".to_owned(), 4),
        ],
        "bob has read one of ada's three and wrote one; cy read nothing; ada and dee have no pusher"
    );
    assert_eq!(targets[0].pusher, pusher("app", "bob-phone").into_pusher());
    let only_cy = storage.push_targets(group, &names(&["cy"]), Seq(4)).await.expect("targets");
    assert_eq!(keys(&only_cy), [("cy".to_owned(), "cy-phone".to_owned(), 4)]);
    let as_of_two = storage.push_targets(group, &names(&["cy"]), Seq(2)).await.expect("targets");
    assert_eq!(keys(&as_of_two), [("cy".to_owned(), "cy-phone".to_owned(), 2)], "as of post 2");

    storage.mute_chat(group, "cy", true).await.expect("mute");
    assert_eq!(storage.push_settings("cy").await.expect("settings").muted_chats, [group]);
    let targets = storage.push_targets(group, &everyone, Seq(4)).await.expect("targets");
    assert!(keys(&targets).iter().all(|(user, _, _)| user == "bob"), "cy muted it");
    storage.mute_chat(group, "cy", false).await.expect("unmute");
    assert!(storage.push_settings("cy").await.expect("settings").muted_chats.is_empty());

    storage.mute_chat(group, "cy", true).await.expect("mute");
    storage.change_chat(group, "ada", remove("cy"), at(9), None).await.expect("remove cy");
    storage
        .change_chat(
            group,
            "ada",
            ChatChange::Add { usernames: names(&["cy"]), max: 100 },
            at(10),
            None,
        )
        .await
        .expect("add cy back");
    assert!(
        storage.push_settings("cy").await.expect("settings").muted_chats.is_empty(),
        "a mute ends with the membership"
    );
    let targets = storage.push_targets(group, &names(&["cy"]), Seq(4)).await.expect("targets");
    assert_eq!(targets.len(), 1, "cy is notified again");
}

/// Claims return due notifications oldest first, with their pusher's URL, and hide them until
/// the lease ends; failures reschedule; sent ones go; removing or rejecting a pusher takes its
/// queue; a notification for a pusher that no longer exists is not queued.
pub async fn the_push_queue_claims_retries_and_forgets(storage: Arc<dyn Storage>) {
    users(&*storage, &["ada", "bob"]).await;
    storage.set_pusher("bob", pusher("app", "k1")).await.expect("set");
    storage.set_pusher("bob", pusher("app", "k2")).await.expect("set");
    storage
        .queue_pushes(vec![
            push("app", "k1", "second", 20),
            push("app", "k1", "first", 10),
            push("app", "k2", "later", 500),
            push("app", "gone", "for nobody", 10),
        ])
        .await
        .expect("queue");
    assert_eq!(storage.queued_pushes().await.expect("count"), 3, "none for an unknown pusher");

    let claimed = storage.claim_pushes(at(100), at(1_000), 10).await.expect("claim");
    let bodies: Vec<&str> = claimed.iter().map(|c| c.body.as_str()).collect();
    assert_eq!(bodies, ["first", "second"], "due ones, oldest due first");
    assert_eq!(claimed[0].url, pusher("app", "k1").url);
    assert_eq!((claimed[0].app_id.as_str(), claimed[0].pushkey.as_str()), ("app", "k1"));
    assert_eq!(claimed[0].attempts, 0);
    assert!(
        storage.claim_pushes(at(200), at(1_000), 10).await.expect("claim").is_empty(),
        "claimed ones are hidden until their lease ends"
    );

    storage.push_sent(&[claimed[0].id]).await.expect("sent");
    storage.push_sent(&[]).await.expect("nothing sent");
    storage.push_failed(claimed[1].id, 1, at(600)).await.expect("failed");
    let again = storage.claim_pushes(at(700), at(2_000), 10).await.expect("claim");
    let bodies: Vec<(&str, u32)> = again.iter().map(|c| (c.body.as_str(), c.attempts)).collect();
    assert_eq!(bodies, [("later", 0), ("second", 1)], "the failed one is due again");
    let limited = storage.claim_pushes(at(5_000), at(6_000), 1).await.expect("claim");
    assert_eq!(limited.len(), 1, "at most the limit");

    storage.reject_pushkey("app", "k1").await.expect("reject");
    assert_eq!(pushkeys(&*storage, "bob").await, ["k2"]);
    storage.remove_pusher("bob", "app", "k2").await.expect("remove");
    assert_eq!(storage.queued_pushes().await.expect("count"), 0, "their queues went with them");
    let found: BTreeSet<String> = storage
        .claim_pushes(at(9_000), at(10_000), 10)
        .await
        .expect("claim")
        .into_iter()
        .map(|c| c.body)
        .collect();
    assert!(found.is_empty());
}
