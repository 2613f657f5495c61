//! Invitations and invite links driven directly: decoding, checks, the storage operations they
//! become, and the replies and events of each outcome.

use super::*;
use crate::model::{
    Chat, ChatChanged, ChatKind, EventKind, Invitation, InvitationState, InviteLink, Invited,
    Message, Participant, Role, Seq, invite_token_hash,
};
use crate::protocol::decode;

fn now() -> Timestamp {
    Timestamp::from_unix_millis(1_700_000_000_000)
}

fn alice(scope: Scope) -> Session {
    let mut session = Session::new(scope, Limits::default());
    session.authenticate(Identity::new("alice"));
    session
}

fn decide(session: &mut Session, text: &str) -> Decision {
    session.handle(decode(text, &Limits::default()).expect("valid frame"), now())
}

fn pending(decision: Decision) -> Pending {
    match decision {
        Decision::Store(pending) => pending,
        other => panic!("expected a storage operation, got {other:?}"),
    }
}

fn op(text: &str) -> StorageOp {
    pending(decide(&mut alice(Scope::AllChats), text)).op
}

/// Decide `text`, then complete it with `result`.
fn run(session: &mut Session, text: &str, result: Result<StorageOutcome, crate::Error>) -> Output {
    let pending = pending(decide(session, text));
    session.complete(pending, result)
}

fn refusal(decision: Decision) -> (ErrorCode, String) {
    match decision {
        Decision::Reply(Output {
            reply: Some(ServerFrame::Error { code, message, .. }),
            publish,
        }) => {
            assert!(publish.is_empty());
            (code, message)
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn invitation(state: InvitationState) -> Invitation {
    Invitation {
        id: 12,
        chat_id: ChatId(9),
        kind: ChatKind::Group,
        name: Some("Crabs".into()),
        inviter: "alice".into(),
        invitee: "bob".into(),
        state,
        created_at: now(),
    }
}

fn link() -> InviteLink {
    InviteLink {
        id: 3,
        chat_id: ChatId(9),
        created_by: "alice".into(),
        created_at: now(),
        expires_at: Timestamp::from_unix_millis(now().unix_millis() + 3_600_000),
        max_uses: Some(10),
        uses: 0,
        revoked: false,
    }
}

fn group_with(names: &[(&str, Role)]) -> Chat {
    Chat {
        id: ChatId(9),
        kind: ChatKind::Group,
        name: Some("Crabs".into()),
        topic: None,
        participants: names
            .iter()
            .map(|(name, role)| Participant { username: (*name).into(), role: Some(*role) })
            .collect(),
        last_seq: Seq(5),
        created_at: now(),
    }
}

fn join_event(member: &str) -> Message {
    Message {
        id: 50,
        chat_id: ChatId(9),
        seq: Seq(5),
        author: member.into(),
        content: String::new(),
        timestamp: now(),
        client_id: None,
        edited_at: None,
        deleted: false,
        kind: EventKind::Join,
        target: None,
        member: Some(member.into()),
        role: Some(Role::Member),
        attachments: Vec::new(),
    }
}

#[test]
fn invitation_commands_become_operations_of_the_caller() {
    let max = Limits::default().max_participants;
    assert_eq!(
        op(r#"{"command":"invite","chatId":"9","username":"bob"}"#),
        StorageOp::Invite { chat: ChatId(9), by: "alice".into(), invitee: "bob".into(), at: now() }
    );
    assert_eq!(
        op(r#"{"command":"list_invitations"}"#),
        StorageOp::ListInvitations {
            username: "alice".into(),
            after: None,
            limit: crate::protocol::MAX_LIST_PAGE
        }
    );
    assert_eq!(
        op(r#"{"command":"list_invitations","after":12,"limit":2}"#),
        StorageOp::ListInvitations { username: "alice".into(), after: Some(12), limit: 2 }
    );
    assert_eq!(
        op(r#"{"command":"accept_invitation","invitationId":12}"#),
        StorageOp::AcceptInvitation { invitation: 12, by: "alice".into(), max, at: now() }
    );
    assert_eq!(
        op(r#"{"command":"decline_invitation","invitation_id":12}"#),
        StorageOp::DeclineInvitation { invitation: 12, by: "alice".into(), at: now() }
    );
    assert_eq!(
        op(r#"{"command":"cancel_invitation","invitationId":12}"#),
        StorageOp::CancelInvitation { invitation: 12, by: "alice".into(), at: now() }
    );
    assert_eq!(
        op(r#"{"command":"list_invite_links","chatId":9}"#),
        StorageOp::ListInviteLinks {
            chat: ChatId(9),
            by: "alice".into(),
            after: None,
            limit: crate::protocol::MAX_LIST_PAGE
        }
    );
    assert_eq!(
        op(r#"{"command":"revoke_invite_link","chatId":9,"linkId":3}"#),
        StorageOp::RevokeInviteLink { chat: ChatId(9), by: "alice".into(), link: 3 }
    );
    // A connection bound to chat 9 may leave chatId out, and may not name another chat; the
    // commands about the caller's own invitations and links work on any connection.
    let mut bound = alice(Scope::Chat(ChatId(9)));
    let invite = pending(decide(&mut bound, r#"{"command":"invite","username":"bob"}"#)).op;
    assert!(matches!(invite, StorageOp::Invite { chat: ChatId(9), .. }));
    let (code, _) =
        refusal(decide(&mut bound, r#"{"command":"invite","chatId":8,"username":"b"}"#));
    assert_eq!(code, ErrorCode::WrongChat);
    let accept = decide(&mut bound, r#"{"command":"accept_invitation","invitationId":12}"#);
    assert!(matches!(pending(accept).op, StorageOp::AcceptInvitation { .. }));
    let join = decide(&mut bound, r#"{"command":"join_by_link","token":"t"}"#);
    assert!(matches!(pending(join).op, StorageOp::JoinByLink { .. }));
}

#[test]
fn a_link_token_reaches_storage_only_as_its_hash() {
    let text = r#"{"command":"join_by_link","id":1,"token":"  s3cret-token  "}"#;
    let pending = pending(decide(&mut alice(Scope::AllChats), text));
    assert_eq!(
        pending.op,
        StorageOp::JoinByLink {
            token_hash: invite_token_hash("s3cret-token"),
            by: "alice".into(),
            max: Limits::default().max_participants,
            at: now(),
        },
        "trimmed, then hashed"
    );
    assert!(!format!("{pending:?}").contains("s3cret"), "no debug form shows the token");
}

#[test]
fn create_invite_link_asks_the_driver_for_a_token_and_shows_it_once() {
    let mut session = alice(Scope::AllChats);
    let text =
        r#"{"command":"create_invite_link","id":4,"chatId":9,"expiresIn":3600,"maxUses":10}"#;
    let Decision::IssueInviteLink(request) = decide(&mut session, text) else {
        panic!("the session has no randomness: the driver draws the token")
    };
    let hour_later = Timestamp::from_unix_millis(now().unix_millis() + 3_600_000);
    assert_eq!(
        request,
        InviteLinkRequest {
            id: Some(4.into()),
            chat: ChatId(9),
            by: "alice".into(),
            expires_at: hour_later,
            max_uses: Some(10),
            at: now(),
        }
    );
    let pending = session.invite_link_token(request, "the-secret".into());
    let StorageOp::CreateInviteLink { chat, by, link: new } = pending.op() else {
        panic!("a link to record: {pending:?}")
    };
    assert_eq!((*chat, by.as_str()), (ChatId(9), "alice"));
    assert_eq!(new.token_hash, invite_token_hash("the-secret"), "storage gets the hash");
    assert_eq!((new.expires_at, new.max_uses, new.at), (hour_later, Some(10), now()));
    assert!(!format!("{pending:?}").contains("the-secret"), "no debug form shows the token");

    let out = session.complete(pending, Ok(StorageOutcome::InviteLink(link())));
    assert_eq!(
        out.reply,
        Some(ServerFrame::InviteLink {
            id: Some(4.into()),
            link: link(),
            token: "the-secret".into()
        })
    );
    assert!(out.publish.is_empty(), "the token goes to its creator only");

    // A refusal says nothing of the token.
    let Decision::IssueInviteLink(request) = decide(&mut session, text) else { panic!("issue") };
    let pending = session.invite_link_token(request, "another".into());
    let refused = crate::Error::NotParticipant { chat: ChatId(9), username: "alice".into() };
    let out = session.complete(pending, Err(refused));
    assert!(matches!(out.reply, Some(ServerFrame::Error { code: ErrorCode::Forbidden, .. })));
    assert!(!format!("{out:?}").contains("another"));
}

#[test]
fn link_lifetimes_default_to_a_week_and_stop_at_thirty_days() {
    let request = |text: &str| match decide(&mut alice(Scope::AllChats), text) {
        Decision::IssueInviteLink(request) => request,
        other => panic!("expected a link request, got {other:?}"),
    };
    let week = request(r#"{"command":"create_invite_link","chatId":9}"#);
    assert_eq!(week.expires_at.unix_millis() - now().unix_millis(), 7 * 24 * 3600 * 1000);
    assert_eq!(week.max_uses, None);
    let month = request(r#"{"command":"create_invite_link","chatId":9,"expiresIn":2592000}"#);
    assert_eq!(month.expires_at.unix_millis() - now().unix_millis(), 30 * 24 * 3600 * 1000);
    for (text, code) in [
        (
            r#"{"command":"create_invite_link","chatId":9,"expiresIn":2592001}"#,
            ErrorCode::InvalidField,
        ),
        (r#"{"command":"create_invite_link","chatId":9,"expiresIn":0}"#, ErrorCode::InvalidField),
        (r#"{"command":"create_invite_link","chatId":9,"maxUses":0}"#, ErrorCode::InvalidField),
        (r#"{"command":"create_invite_link"}"#, ErrorCode::MissingField),
    ] {
        assert_eq!(refusal(decide(&mut alice(Scope::AllChats), text)).0, code, "{text}");
    }
    let mut bound = alice(Scope::Chat(ChatId(9)));
    let other = r#"{"command":"create_invite_link","chatId":8}"#;
    assert_eq!(refusal(decide(&mut bound, other)).0, ErrorCode::WrongChat);
    assert!(matches!(
        decide(&mut bound, r#"{"command":"create_invite_link"}"#),
        Decision::IssueInviteLink(InviteLinkRequest { chat: ChatId(9), .. })
    ));
}

#[test]
fn malformed_invitation_commands_are_refused_before_storage() {
    let long_token = "t".repeat(crate::text::MAX_TOKEN_CHARS + 1);
    let long_token = format!(r#"{{"command":"join_by_link","token":"{long_token}"}}"#);
    for (text, code) in [
        (r#"{"command":"invite","chatId":9,"username":""}"#, ErrorCode::InvalidField),
        (r#"{"command":"invite","chatId":9,"username":"a\u0000b"}"#, ErrorCode::InvalidField),
        (r#"{"command":"invite","username":"bob"}"#, ErrorCode::MissingField),
        (r#"{"command":"invite","chatId":9}"#, ErrorCode::MissingField),
        (r#"{"command":"join_by_link","token":"   "}"#, ErrorCode::InvalidField),
        (r#"{"command":"join_by_link","token":"a\u0000b"}"#, ErrorCode::InvalidField),
        (long_token.as_str(), ErrorCode::InvalidField),
        (r#"{"command":"join_by_link"}"#, ErrorCode::MissingField),
        (r#"{"command":"accept_invitation"}"#, ErrorCode::MissingField),
        (r#"{"command":"accept_invitation","invitationId":"x"}"#, ErrorCode::InvalidField),
        (r#"{"command":"list_invitations","limit":0}"#, ErrorCode::InvalidField),
        (r#"{"command":"list_invite_links","chatId":9,"limit":0}"#, ErrorCode::InvalidField),
        (r#"{"command":"revoke_invite_link","chatId":9}"#, ErrorCode::MissingField),
        (r#"{"command":"create_invite_link","chatId":9,"maxUses":-1}"#, ErrorCode::InvalidField),
    ] {
        let decided = decode(text, &Limits::default())
            .map(|frame| alice(Scope::AllChats).handle(frame, now()));
        let got = match decided {
            Ok(decision) => refusal(decision).0,
            Err(err) => err.code(),
        };
        assert_eq!(got, code, "{text}");
    }
    // Not before authentication.
    let mut anonymous = Session::new(Scope::AllChats, Limits::default());
    let (code, _) = refusal(decide(&mut anonymous, r#"{"command":"join_by_link","token":"t"}"#));
    assert_eq!(code, ErrorCode::NotAuthenticated);
}

#[test]
fn an_invitation_is_announced_to_every_connection_of_the_invitee_once() {
    let mut session = alice(Scope::AllChats);
    let text = r#"{"command":"invite","id":2,"chatId":9,"username":"bob"}"#;
    let made = invitation(InvitationState::Pending);
    let out = run(
        &mut session,
        text,
        Ok(StorageOutcome::Invited(Invited { invitation: made.clone(), created: true })),
    );
    assert_eq!(
        out.reply,
        Some(ServerFrame::Invitation { id: Some(2.into()), invitation: made.clone() })
    );
    let announced = Publish::to_users(
        ChatId(9),
        ServerFrame::Invitation { id: None, invitation: made.clone() },
        vec!["bob".into()],
    );
    assert_eq!(out.publish, std::slice::from_ref(&announced));
    assert_eq!((announced.to, announced.also), (Some(Vec::new()), vec!["bob".to_owned()]));

    // The same pending invitation again: the reply, nothing announced a second time.
    let out = run(
        &mut session,
        text,
        Ok(StorageOutcome::Invited(Invited { invitation: made.clone(), created: false })),
    );
    assert!(matches!(out.reply, Some(ServerFrame::Invitation { .. })));
    assert!(out.publish.is_empty());

    // Listing replies to the caller only.
    let text = r#"{"command":"list_invitations","id":3}"#;
    let out = run(&mut session, text, Ok(StorageOutcome::Invitations(vec![made])));
    assert!(out.publish.is_empty());
    assert!(
        matches!(out.reply, Some(ServerFrame::Invitations { invitations, .. }) if invitations.len() == 1)
    );
}

#[test]
fn accepting_or_joining_tells_the_joiner_and_the_members() {
    let joined = group_with(&[("alice", Role::Owner), ("bob", Role::Member)]);
    for text in [
        r#"{"command":"accept_invitation","id":5,"invitationId":12}"#,
        r#"{"command":"join_by_link","id":5,"token":"t"}"#,
    ] {
        let mut bob = Session::new(Scope::AllChats, Limits::default());
        bob.authenticate(Identity::new("bob"));
        let changed = ChatChanged {
            chat: joined.clone(),
            events: vec![join_event("bob")],
            gone: Vec::new(),
            added: vec!["bob".into()],
            deleted: false,
            replayed: false,
        };
        let out = run(&mut bob, text, Ok(StorageOutcome::Changed(changed)));
        assert_eq!(out.reply, Some(ServerFrame::Chat { id: Some(5.into()), chat: joined.clone() }));
        assert_eq!(
            out.publish,
            [
                Publish::to_some(
                    ChatId(9),
                    ServerFrame::ChatCreated { chat: joined.clone() },
                    vec!["bob".into()]
                ),
                Publish::to_chat(
                    ChatId(9),
                    ServerFrame::ChatChanged {
                        chat: joined.clone(),
                        events: vec![join_event("bob")]
                    }
                ),
            ],
            "{text}"
        );
    }
}

#[test]
fn declining_cancelling_and_revoking_answer_ok_and_a_cancellation_reaches_the_invitee() {
    let mut session = alice(Scope::AllChats);
    let text = r#"{"command":"decline_invitation","id":6,"invitationId":12}"#;
    let declined = StorageOutcome::Invitation(invitation(InvitationState::Declined));
    let out = run(&mut session, text, Ok(declined));
    assert_eq!(out, Output::reply(ServerFrame::Ok { id: Some(6.into()) }));

    let text = r#"{"command":"cancel_invitation","id":7,"invitationId":12}"#;
    let cancelled = invitation(InvitationState::Cancelled);
    let outcome = StorageOutcome::Invitation(cancelled.clone());
    let out = run(&mut session, text, Ok(outcome));
    assert_eq!(out.reply, Some(ServerFrame::Ok { id: Some(7.into()) }));
    assert_eq!(
        out.publish,
        [Publish::to_users(
            ChatId(9),
            ServerFrame::Invitation { id: None, invitation: cancelled },
            vec!["bob".into()]
        )]
    );

    let text = r#"{"command":"revoke_invite_link","id":8,"chatId":9,"linkId":3}"#;
    let out = run(&mut session, text, Ok(StorageOutcome::Done));
    assert_eq!(out, Output::reply(ServerFrame::Ok { id: Some(8.into()) }));
    // Without an id, nothing to say (as for every `ok`).
    let text = r#"{"command":"revoke_invite_link","chatId":9,"linkId":3}"#;
    let out = run(&mut session, text, Ok(StorageOutcome::Done));
    assert_eq!(out, Output::default());

    let text = r#"{"command":"list_invite_links","id":9,"chatId":9}"#;
    let outcome = StorageOutcome::InviteLinks(vec![link()]);
    let out = run(&mut session, text, Ok(outcome));
    assert_eq!(
        out,
        Output::reply(ServerFrame::InviteLinks {
            id: Some(9.into()),
            chat_id: ChatId(9),
            links: vec![link()]
        })
    );
}

#[test]
fn a_dead_link_and_a_foreign_invitation_are_refused_without_a_word_of_the_chat() {
    let mut session = alice(Scope::AllChats);
    let text = r#"{"command":"join_by_link","id":1,"token":"revoked"}"#;
    let out = run(&mut session, text, Err(crate::Error::InviteLinkNotFound));
    assert_eq!(
        out.reply,
        Some(ServerFrame::error(
            Some(1.into()),
            ErrorCode::NotFound,
            "invite link not found or no longer valid"
        ))
    );
    assert!(out.publish.is_empty());
    let text = r#"{"command":"accept_invitation","id":2,"invitationId":12}"#;
    let out = run(&mut session, text, Err(crate::Error::InvitationNotFound(12)));
    assert_eq!(
        out.reply,
        Some(ServerFrame::error(
            Some(2.into()),
            ErrorCode::NotFound,
            "invitation 12 not found or no longer pending"
        ))
    );
}
