//! Invitations and invite links, on every backend: who may invite and make links, pending
//! invitations and their answers, links' expiry, uses and revocation, and the joins they make.

use std::sync::Arc;

use hellocode_core::Error;
use hellocode_core::model::{
    ChatChange, ChatChanged, ChatId, ChatKind, EventKind, InvitationState, NewChat, NewInviteLink,
    Role, Seq, Timestamp, invite_token_hash,
};
use hellocode_core::storage::Storage;

use super::{at, chat_of, describe, items, remove, roles, set_role, users};

/// The most members the tests allow.
const MAX: usize = 100;

/// The one answer for every dead or unknown link.
const NO_LINK: &str = "invite link not found or no longer valid";

/// A link whose token is `token`, made at `at(0)`.
fn link(token: &str, expires_at: Timestamp, max_uses: Option<u32>) -> NewInviteLink {
    NewInviteLink { token_hash: invite_token_hash(token), expires_at, max_uses, at: at(0) }
}

/// A group owned by `owner` with `admin` as admin and `members` as plain members.
async fn team(storage: &dyn Storage, owner: &str, admin: &str, members: &[&str]) -> ChatId {
    let mut others = vec![admin];
    others.extend_from_slice(members);
    let chat =
        storage.create_chat(NewChat::group(owner, &others, at(0))).await.expect("create").chat;
    storage
        .change_chat(chat.id, owner, set_role(admin, Role::Admin), at(0), None)
        .await
        .expect("role");
    chat.id
}

fn is_member(changed: &ChatChanged, name: &str) -> bool {
    changed.chat.participants.iter().any(|p| p.username == name && p.role == Some(Role::Member))
}

async fn last_seq(storage: &dyn Storage, chat: ChatId) -> Seq {
    storage.chat(chat).await.expect("read").expect("chat").last_seq
}

/// Owners and admins of a group invite and make links; a plain member, a non-member, a direct
/// chat, an unknown chat or user, and an invitee who is a member already are refused; neither
/// invitations nor links are items of the chat.
pub async fn owners_and_admins_invite_and_make_links(storage: Arc<dyn Storage>) {
    users(&*storage, &["olga", "ada", "bob", "eve", "zed", "dan"]).await;
    let chat = team(&*storage, "olga", "ada", &["bob"]).await;
    let direct = chat_of(&*storage, &["olga", "dan"]).await;
    let before = last_seq(&*storage, chat).await;

    let invited = storage.invite(chat, "olga", "eve", at(2)).await.expect("the owner invites");
    assert!(invited.created);
    let invitation = &invited.invitation;
    assert_eq!((invitation.chat_id, invitation.kind), (chat, ChatKind::Group));
    assert_eq!((invitation.inviter.as_str(), invitation.invitee.as_str()), ("olga", "eve"));
    assert_eq!((invitation.state, invitation.created_at), (InvitationState::Pending, at(2)));
    let by_admin = storage.invite(chat, "ada", "zed", at(3)).await.expect("an admin invites");
    assert!(by_admin.created);
    assert_ne!(by_admin.invitation.id, invitation.id);

    assert!(matches!(
        storage.invite(chat, "bob", "dan", at(4)).await,
        Err(Error::NotAllowed { .. })
    ));
    assert!(matches!(
        storage.invite(chat, "eve", "dan", at(4)).await,
        Err(Error::NotParticipant { .. })
    ));
    assert!(matches!(
        storage.invite(ChatId(999_999), "olga", "dan", at(4)).await,
        Err(Error::ChatNotFound(_))
    ));
    assert!(matches!(
        storage.invite(chat, "olga", "nobody", at(4)).await,
        Err(Error::UserNotFound(_))
    ));
    assert!(matches!(
        storage.invite(chat, "olga", "bob", at(4)).await,
        Err(Error::AlreadyMember { username, .. }) if username == "bob"
    ));
    assert!(matches!(
        storage.invite(direct, "olga", "eve", at(4)).await,
        Err(Error::DirectChat { .. })
    ));

    let expires = at(60_000);
    let owners = storage.create_invite_link(chat, "olga", link("t-owner", expires, None)).await;
    let owners = owners.expect("the owner makes a link");
    assert_eq!((owners.chat_id, owners.created_by.as_str()), (chat, "olga"));
    assert_eq!((owners.created_at, owners.expires_at), (at(0), expires));
    assert_eq!((owners.max_uses, owners.uses, owners.revoked), (None, 0, false));
    let admins = storage.create_invite_link(chat, "ada", link("t-admin", expires, Some(3))).await;
    let admins = admins.expect("an admin makes a link");
    assert_eq!((admins.created_by.as_str(), admins.max_uses), ("ada", Some(3)));
    assert!(matches!(
        storage.create_invite_link(chat, "bob", link("t-bob", expires, None)).await,
        Err(Error::NotAllowed { .. })
    ));
    assert!(matches!(
        storage.create_invite_link(chat, "eve", link("t-eve", expires, None)).await,
        Err(Error::NotParticipant { .. })
    ));
    assert!(matches!(
        storage.create_invite_link(direct, "olga", link("t-direct", expires, None)).await,
        Err(Error::DirectChat { .. })
    ));

    let listed = storage.invite_links(chat, "ada", None, 10).await.expect("an admin lists");
    assert_eq!(listed, [owners.clone(), admins.clone()]);
    let page = storage.invite_links(chat, "olga", Some(owners.id), 10).await.expect("a page");
    assert_eq!(page, [admins]);
    assert_eq!(storage.invite_links(chat, "olga", None, 1).await.expect("one"), [owners]);
    assert!(matches!(
        storage.invite_links(chat, "bob", None, 10).await,
        Err(Error::NotAllowed { .. })
    ));
    assert!(matches!(
        storage.invite_links(chat, "eve", None, 10).await,
        Err(Error::NotParticipant { .. })
    ));
    assert_eq!(last_seq(&*storage, chat).await, before, "neither is an item of the chat");
}

/// An invitation is pending until its invitee accepts (joining with a `join` event of theirs)
/// or declines it, or its inviter, an owner or an admin cancels it; it is answered once, by
/// its invitee only; the invitee is not a member, and reads nothing, before.
pub async fn invitations_are_pending_until_answered(storage: Arc<dyn Storage>) {
    users(&*storage, &["olga", "ada", "bob", "eve", "zed", "dan"]).await;
    let chat = team(&*storage, "olga", "ada", &["bob"]).await;
    storage
        .change_chat(chat, "olga", describe(Some("Crabs"), None), at(1), None)
        .await
        .expect("name");

    let first = storage.invite(chat, "ada", "eve", at(5)).await.expect("invite");
    let again = storage.invite(chat, "olga", "eve", at(6)).await.expect("invite again");
    assert!(!again.created, "a pending invitation is returned as it is");
    assert_eq!(again.invitation, first.invitation);
    let id = first.invitation.id;
    let listed = storage.invitations_of("eve", None, 10).await.expect("list");
    assert_eq!(listed, std::slice::from_ref(&first.invitation));
    assert_eq!(listed[0].name.as_deref(), Some("Crabs"));
    assert!(storage.invitations_of("zed", None, 10).await.expect("list").is_empty());
    assert_eq!(storage.invitation(id).await.expect("read"), Some(first.invitation.clone()));

    // The invitee is not a member yet, and reads nothing.
    assert!(!storage.is_participant(chat, "eve").await.expect("check"));
    assert!(matches!(
        storage.messages_before(chat, "eve", None, 10).await,
        Err(Error::NotParticipant { .. })
    ));
    // Only the invitee answers; anyone else is told there is no such invitation.
    for by in ["zed", "olga", "ada"] {
        assert!(matches!(
            storage.accept_invitation(id, by, MAX, at(7)).await,
            Err(Error::InvitationNotFound(found)) if found == id
        ));
        assert!(matches!(
            storage.decline_invitation(id, by, at(7)).await,
            Err(Error::InvitationNotFound(_))
        ));
    }

    let before = last_seq(&*storage, chat).await;
    let joined = storage.accept_invitation(id, "eve", MAX, at(8)).await.expect("accept");
    assert_eq!(
        (joined.added.as_slice(), joined.gone.is_empty(), joined.deleted),
        (["eve".to_owned()].as_slice(), true, false)
    );
    assert!(is_member(&joined, "eve"), "{:?}", joined.chat);
    assert_eq!(joined.events.len(), 1);
    let event = &joined.events[0];
    assert_eq!(
        (event.kind, event.seq, event.timestamp),
        (EventKind::Join, Seq(before.0 + 1), at(8))
    );
    assert_eq!((event.author.as_str(), event.member.as_deref()), ("eve", Some("eve")));
    assert_eq!(event.role, Some(Role::Member));
    assert_eq!(joined.chat.last_seq, event.seq);
    assert_eq!(items(&*storage, chat, "eve").await.last(), Some(event), "stored as returned");
    assert!(storage.invitations_of("eve", None, 10).await.expect("list").is_empty());
    let settled = storage.invitation(id).await.expect("read").expect("kept");
    assert_eq!(settled.state, InvitationState::Accepted);

    // Answered once: the same answer again (a retry whose reply was lost) is answered as it
    // stands, records nothing; another answer is refused.
    let again = storage.accept_invitation(id, "eve", MAX, at(9)).await.expect("accepted again");
    assert!(again.replayed && again.events.is_empty(), "{again:?}");
    assert_eq!(again.chat.last_seq, event.seq, "nothing more recorded");
    assert!(matches!(
        storage.decline_invitation(id, "eve", at(9)).await,
        Err(Error::InvitationNotFound(_))
    ));
    assert!(matches!(
        storage.cancel_invitation(id, "olga", at(9)).await,
        Err(Error::InvitationNotFound(_))
    ));
    assert!(matches!(
        storage.invite(chat, "olga", "eve", at(9)).await,
        Err(Error::AlreadyMember { .. })
    ));
    assert_eq!(last_seq(&*storage, chat).await, event.seq, "nothing more was recorded");

    // Declining.
    let declined = storage.invite(chat, "olga", "zed", at(10)).await.expect("invite").invitation;
    let answer = storage.decline_invitation(declined.id, "zed", at(11)).await.expect("decline");
    assert_eq!(answer.state, InvitationState::Declined);
    assert_eq!(answer.id, declined.id);
    assert!(storage.invitations_of("zed", None, 10).await.expect("list").is_empty());
    assert!(matches!(
        storage.accept_invitation(declined.id, "zed", MAX, at(12)).await,
        Err(Error::InvitationNotFound(_))
    ));
    assert!(!storage.is_participant(chat, "zed").await.expect("check"));

    // Cancelling: the inviter, the owner or another admin; not a plain member, an outsider or
    // the invitee.
    for (inviter, canceller) in [("ada", "ada"), ("ada", "olga"), ("olga", "ada")] {
        let made = storage.invite(chat, inviter, "zed", at(13)).await.expect("invite");
        assert!(made.created, "a new invitation once the last was declined or cancelled");
        let id = made.invitation.id;
        assert!(matches!(
            storage.cancel_invitation(id, "bob", at(14)).await,
            Err(Error::NotAllowed { .. })
        ));
        for outsider in ["dan", "zed"] {
            assert!(matches!(
                storage.cancel_invitation(id, outsider, at(14)).await,
                Err(Error::InvitationNotFound(_))
            ));
        }
        let cancelled = storage.cancel_invitation(id, canceller, at(15)).await.expect("cancel");
        assert_eq!(cancelled.state, InvitationState::Cancelled);
        assert!(matches!(
            storage.accept_invitation(id, "zed", MAX, at(16)).await,
            Err(Error::InvitationNotFound(_))
        ));
    }
    assert!(storage.invitations_of("zed", None, 10).await.expect("list").is_empty());
    assert_eq!(last_seq(&*storage, chat).await, event.seq, "only the accepted one recorded");

    // Pages, by id.
    let chats = [
        team(&*storage, "olga", "ada", &[]).await,
        team(&*storage, "olga", "ada", &[]).await,
        team(&*storage, "olga", "ada", &[]).await,
    ];
    let mut ids = Vec::new();
    for chat in chats {
        ids.push(storage.invite(chat, "olga", "dan", at(20)).await.expect("invite").invitation.id);
    }
    let page = |after, limit| storage.invitations_of("dan", after, limit);
    let first_two: Vec<i64> = page(None, 2).await.expect("page").iter().map(|i| i.id).collect();
    assert_eq!(first_two, ids[..2]);
    let rest: Vec<i64> = page(Some(ids[1]), 2).await.expect("page").iter().map(|i| i.id).collect();
    assert_eq!(rest, ids[2..]);
}

/// An invitation goes with its chat (deleted, or left by its last member) and with its
/// inviter's or invitee's account: answering it is refused as for any unknown invitation. An
/// invite link goes with its chat and its creator's account.
pub async fn invitations_go_with_their_chat_and_accounts(storage: Arc<dyn Storage>) {
    users(&*storage, &["olga", "ada", "bob", "eve"]).await;
    let chat = team(&*storage, "olga", "ada", &["bob"]).await;
    let invited = storage.invite(chat, "olga", "eve", at(1)).await.expect("invite").invitation;
    storage.create_invite_link(chat, "olga", link("t-gone", at(60_000), None)).await.expect("link");
    storage.delete_chat(chat, "olga").await.expect("delete");
    let hash = invite_token_hash("t-gone");
    assert_eq!(storage.invite_link_chat(&hash).await.expect("read"), None, "gone with its chat");
    let joined = storage.join_by_link(&hash, "eve", MAX, at(2)).await;
    assert_eq!(joined.expect_err("no chat").to_string(), NO_LINK);
    assert!(matches!(
        storage.accept_invitation(invited.id, "eve", MAX, at(2)).await,
        Err(Error::InvitationNotFound(_))
    ));
    assert!(matches!(
        storage.decline_invitation(invited.id, "eve", at(2)).await,
        Err(Error::InvitationNotFound(_))
    ));
    assert_eq!(storage.invitation(invited.id).await.expect("read"), None);
    assert!(storage.invitations_of("eve", None, 10).await.expect("list").is_empty());

    let alone = storage.create_chat(NewChat::group("olga", &[], at(3))).await.expect("create").chat;
    let invited = storage.invite(alone.id, "olga", "eve", at(4)).await.expect("invite");
    let left = storage.change_chat(alone.id, "olga", ChatChange::Leave, at(5), None).await;
    assert!(left.expect("leave").deleted, "the last one out deletes the chat");
    assert!(matches!(
        storage.accept_invitation(invited.invitation.id, "eve", MAX, at(6)).await,
        Err(Error::InvitationNotFound(_))
    ));

    let chat = team(&*storage, "olga", "ada", &[]).await;
    let by_ada = storage.invite(chat, "ada", "eve", at(7)).await.expect("invite").invitation;
    let for_bob = storage.invite(chat, "olga", "bob", at(7)).await.expect("invite").invitation;
    let made = storage.create_invite_link(chat, "ada", link("t-ada", at(60_000), None)).await;
    made.expect("link");
    storage.delete_user("ada").await.expect("delete the inviter");
    let hash = invite_token_hash("t-ada");
    assert_eq!(storage.invite_link_chat(&hash).await.expect("read"), None, "gone with ada");
    assert!(storage.invite_links(chat, "olga", None, 10).await.expect("list").is_empty());
    storage.delete_user("bob").await.expect("delete the invitee");
    assert_eq!(storage.invitation(by_ada.id).await.expect("read"), None);
    assert_eq!(storage.invitation(for_bob.id).await.expect("read"), None);
    assert!(storage.invitations_of("eve", None, 10).await.expect("list").is_empty());
}

/// Whoever joins a chat, however (added, by a link), has their pending invitation settled, so
/// that it cannot bring them back once they are removed.
pub async fn joining_settles_a_pending_invitation(storage: Arc<dyn Storage>) {
    users(&*storage, &["olga", "ada", "eve"]).await;
    let chat = team(&*storage, "olga", "ada", &[]).await;
    let invited = storage.invite(chat, "ada", "eve", at(1)).await.expect("invite").invitation;
    let add = ChatChange::Add { usernames: vec!["eve".into()], max: MAX };
    storage.change_chat(chat, "olga", add, at(2), None).await.expect("add");
    let settled = storage.invitation(invited.id).await.expect("read").expect("kept");
    assert_eq!(settled.state, InvitationState::Accepted);
    assert!(storage.invitations_of("eve", None, 10).await.expect("list").is_empty());
    storage.change_chat(chat, "olga", remove("eve"), at(3), None).await.expect("remove");
    assert!(matches!(
        storage.accept_invitation(invited.id, "eve", MAX, at(4)).await,
        Err(Error::InvitationNotFound(_))
    ));
    assert!(!storage.is_participant(chat, "eve").await.expect("check"), "removed stays removed");

    let again = storage.invite(chat, "ada", "eve", at(5)).await.expect("invite").invitation;
    storage
        .create_invite_link(chat, "olga", link("t-settle", at(60_000), None))
        .await
        .expect("link");
    storage.join_by_link(&invite_token_hash("t-settle"), "eve", MAX, at(6)).await.expect("join");
    let settled = storage.invitation(again.id).await.expect("read").expect("kept");
    assert_eq!(settled.state, InvitationState::Accepted);
}

/// A link joins anyone who is not a member, as a member with a `join` event of theirs, until
/// its expiry (given as a time: no sleeping); past it, it is refused as an unknown token is.
pub async fn invite_links_join_until_they_expire(storage: Arc<dyn Storage>) {
    users(&*storage, &["olga", "ada", "eve", "zed"]).await;
    let chat = team(&*storage, "olga", "ada", &[]).await;
    let hash = invite_token_hash("t-expiry");
    let made = storage.create_invite_link(chat, "ada", link("t-expiry", at(1_000), None)).await;
    let made = made.expect("link");
    assert_eq!(storage.invite_link_chat(&hash).await.expect("read"), Some(chat));
    assert_eq!(storage.invite_link_chat(&invite_token_hash("other")).await.expect("read"), None);

    let before = last_seq(&*storage, chat).await;
    let joined = storage.join_by_link(&hash, "eve", MAX, at(999)).await.expect("join in time");
    assert_eq!(joined.added, ["eve"]);
    assert!(is_member(&joined, "eve"));
    let event = &joined.events[0];
    assert_eq!(
        (event.kind, event.seq, event.timestamp),
        (EventKind::Join, Seq(before.0 + 1), at(999))
    );
    assert_eq!(
        (event.author.as_str(), event.member.as_deref(), event.role),
        ("eve", Some("eve"), Some(Role::Member))
    );
    assert!(storage.is_participant(chat, "eve").await.expect("check"));

    for when in [at(1_000), at(50_000)] {
        let expired = storage.join_by_link(&hash, "zed", MAX, when).await;
        let err = expired.expect_err("expired");
        assert!(matches!(err, Error::InviteLinkNotFound), "{err:?}");
        assert_eq!(err.to_string(), NO_LINK);
    }
    let unknown =
        storage.join_by_link(&invite_token_hash("no such token"), "zed", MAX, at(1)).await;
    assert_eq!(unknown.expect_err("unknown").to_string(), NO_LINK);
    assert!(!storage.is_participant(chat, "zed").await.expect("check"));

    // A member does not join twice: a repeat (a retry whose reply was lost) is answered with
    // the chat, records nothing and counts no use.
    let repeat = storage.join_by_link(&hash, "eve", MAX, at(2)).await.expect("a repeat");
    assert!(repeat.replayed && repeat.events.is_empty(), "{repeat:?}");
    let listed = storage.invite_links(chat, "olga", None, 10).await.expect("list");
    assert_eq!(listed, [hellocode_core::model::InviteLink { uses: 1, ..made }]);
    assert_eq!(last_seq(&*storage, chat).await, event.seq, "one join recorded");
}

/// A link with a use limit joins that many users; then it is refused as an unknown token is.
/// A chat at its member limit is refused without counting a use.
pub async fn invite_links_count_their_uses(storage: Arc<dyn Storage>) {
    users(&*storage, &["olga", "ada", "u1", "u2", "u3"]).await;
    let chat = team(&*storage, "olga", "ada", &[]).await;
    let hash = invite_token_hash("t-uses");
    storage
        .create_invite_link(chat, "olga", link("t-uses", at(60_000), Some(2)))
        .await
        .expect("link");
    // Room for one more only: u1 joins, u2 is refused (and uses nothing), then u2 fits.
    let full = storage.join_by_link(&hash, "u2", 2, at(1)).await;
    assert!(matches!(full, Err(Error::TooManyParticipants { .. })), "{full:?}");
    for name in ["u1", "u2"] {
        storage.join_by_link(&hash, name, MAX, at(2)).await.expect("join");
    }
    let used_up = storage.join_by_link(&hash, "u3", MAX, at(3)).await;
    assert_eq!(used_up.expect_err("used up").to_string(), NO_LINK);
    let listed = storage.invite_links(chat, "olga", None, 10).await.expect("list");
    assert_eq!((listed[0].uses, listed[0].max_uses), (2, Some(2)));
    let members: Vec<String> =
        roles(&*storage, chat).await.into_iter().map(|(name, _)| name).collect();
    assert_eq!(members, ["ada", "olga", "u1", "u2"]);
}

/// Joins racing for a link's last uses: exactly as many win as it allows, the others are
/// refused, and the winners' join events share the chat's gap-free sequence.
pub async fn racing_joins_for_the_last_use_one_wins(storage: Arc<dyn Storage>) {
    const RACERS: usize = 8;
    const USES: u32 = 3;
    let racers: Vec<String> = (0..RACERS).map(|i| format!("r{i}")).collect();
    users(&*storage, &["olga", "ada"]).await;
    for name in &racers {
        super::user(&*storage, name).await;
    }
    let chat = team(&*storage, "olga", "ada", &[]).await;
    let hash = invite_token_hash("t-race");
    let made =
        storage.create_invite_link(chat, "olga", link("t-race", at(60_000), Some(USES))).await;
    made.expect("link");
    let before = last_seq(&*storage, chat).await;
    let start = Arc::new(tokio::sync::Barrier::new(RACERS));
    let tasks: Vec<_> = racers
        .iter()
        .map(|name| {
            let (storage, hash, name, start) =
                (storage.clone(), hash.clone(), name.clone(), start.clone());
            tokio::spawn(async move {
                start.wait().await;
                storage.join_by_link(&hash, &name, MAX, at(1)).await
            })
        })
        .collect();
    let mut seqs = Vec::new();
    let mut refused = 0;
    for task in tasks {
        match task.await.expect("task") {
            Ok(joined) => seqs.push(joined.events[0].seq.0),
            Err(Error::InviteLinkNotFound) => refused += 1,
            Err(err) => panic!("unexpected: {err}"),
        }
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (before.0 + 1..=before.0 + i64::from(USES)).collect::<Vec<_>>());
    assert_eq!(refused, RACERS - USES as usize);
    let listed = storage.invite_links(chat, "olga", None, 10).await.expect("list");
    assert_eq!(listed[0].uses, USES);
    assert_eq!(roles(&*storage, chat).await.len(), 2 + USES as usize);
}

/// An owner or admin revokes a link (again: no change); a plain member, an outsider, a link of
/// another chat or an unknown one are refused; a revoked link joins no one.
pub async fn revoked_links_join_no_one(storage: Arc<dyn Storage>) {
    users(&*storage, &["olga", "ada", "bob", "eve", "zed"]).await;
    let chat = team(&*storage, "olga", "ada", &["bob"]).await;
    let other = team(&*storage, "olga", "ada", &[]).await;
    let hash = invite_token_hash("t-revoke");
    let made = storage.create_invite_link(chat, "olga", link("t-revoke", at(60_000), None)).await;
    let made = made.expect("link");
    let elsewhere = storage.create_invite_link(other, "olga", link("t-other", at(60_000), None));
    let elsewhere = elsewhere.await.expect("link");

    assert!(matches!(
        storage.revoke_invite_link(chat, "bob", made.id).await,
        Err(Error::NotAllowed { .. })
    ));
    assert!(matches!(
        storage.revoke_invite_link(chat, "eve", made.id).await,
        Err(Error::NotParticipant { .. })
    ));
    for id in [elsewhere.id, 999_999] {
        assert!(matches!(
            storage.revoke_invite_link(chat, "olga", id).await,
            Err(Error::InviteLinkNotFound)
        ));
    }
    storage.revoke_invite_link(chat, "ada", made.id).await.expect("an admin revokes");
    storage.revoke_invite_link(chat, "olga", made.id).await.expect("again: nothing changes");
    let revoked = storage.join_by_link(&hash, "zed", MAX, at(1)).await;
    assert_eq!(revoked.expect_err("revoked").to_string(), NO_LINK);
    assert!(!storage.is_participant(chat, "zed").await.expect("check"));
    let listed = storage.invite_links(chat, "olga", None, 10).await.expect("list");
    assert_eq!((listed[0].revoked, listed[0].uses), (true, 0));
    let untouched = storage.invite_links(other, "olga", None, 10).await.expect("list");
    assert!(!untouched[0].revoked, "another chat's link is not touched");
    storage.join_by_link(&invite_token_hash("t-other"), "zed", MAX, at(1)).await.expect("join");
}

/// A member removed (or no longer an admin) invites no one and manages no links; an invitation
/// made before stands, and its inviter may still withdraw it.
pub async fn a_removed_member_cannot_invite(storage: Arc<dyn Storage>) {
    users(&*storage, &["olga", "ada", "cy", "eve", "zed"]).await;
    let chat = team(&*storage, "olga", "ada", &["cy"]).await;
    storage
        .change_chat(chat, "olga", set_role("cy", Role::Admin), at(1), None)
        .await
        .expect("role");
    let made = storage.invite(chat, "ada", "eve", at(2)).await.expect("invite").invitation;
    let link_id = storage
        .create_invite_link(chat, "ada", link("t-removed", at(60_000), None))
        .await
        .expect("link")
        .id;
    storage.change_chat(chat, "olga", remove("ada"), at(3), None).await.expect("remove");
    storage
        .change_chat(chat, "olga", set_role("cy", Role::Member), at(3), None)
        .await
        .expect("demote");

    assert!(matches!(
        storage.invite(chat, "ada", "zed", at(4)).await,
        Err(Error::NotParticipant { .. })
    ));
    assert!(matches!(
        storage.invite(chat, "cy", "zed", at(4)).await,
        Err(Error::NotAllowed { .. })
    ));
    assert!(matches!(
        storage.create_invite_link(chat, "ada", link("t-again", at(60_000), None)).await,
        Err(Error::NotParticipant { .. })
    ));
    assert!(matches!(
        storage.invite_links(chat, "ada", None, 10).await,
        Err(Error::NotParticipant { .. })
    ));
    assert!(matches!(
        storage.revoke_invite_link(chat, "ada", link_id).await,
        Err(Error::NotParticipant { .. })
    ));
    assert!(storage.invitations_of("zed", None, 10).await.expect("list").is_empty());
    let listed = storage.invitations_of("eve", None, 10).await.expect("list");
    assert_eq!(listed, std::slice::from_ref(&made));
    let withdrawn = storage.cancel_invitation(made.id, "ada", at(5)).await.expect("withdraw");
    assert_eq!(withdrawn.state, InvitationState::Cancelled);
}
