//! The chat commands (creation, membership, roles, renaming, deletion) and protocol versions,
//! driven directly: decoding, checks, and the replies and events of each outcome.

use super::*;
use crate::model::{
    Chat, ChatChange, ChatChanged, ChatKind, EventKind, Message, NewChat, Participant, Role, Seq,
};
use crate::protocol::decode;
use crate::storage::Items;

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

fn op(decision: Decision) -> StorageOp {
    match decision {
        Decision::Store(pending) => pending.op,
        other => panic!("expected a storage operation, got {other:?}"),
    }
}

fn refusal(decision: Decision) -> ErrorCode {
    match decision {
        Decision::Reply(Output { reply: Some(ServerFrame::Error { code, .. }), publish }) => {
            assert!(publish.is_empty());
            code
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn change(text: &str) -> ChatChange {
    match op(decide(&mut alice(Scope::AllChats), text)) {
        StorageOp::ChangeChat { chat: ChatId(7), by, change, .. } if by == "alice" => change,
        other => panic!("expected a change of chat 7 by alice, got {other:?}"),
    }
}

fn group(names: &[(&str, Role)]) -> Chat {
    Chat {
        id: ChatId(7),
        kind: ChatKind::Group,
        name: Some("Rustaceans".into()),
        topic: None,
        participants: names
            .iter()
            .map(|(name, role)| Participant { username: (*name).into(), role: Some(*role) })
            .collect(),
        last_seq: Seq(3),
        created_at: now(),
    }
}

fn event(seq: i64, kind: EventKind, member: &str) -> Message {
    Message {
        id: seq,
        chat_id: ChatId(7),
        seq: Seq(seq),
        author: "alice".into(),
        content: String::new(),
        timestamp: now(),
        client_id: None,
        edited_at: None,
        deleted: false,
        kind,
        target: None,
        member: Some(member.into()),
        role: None,
        attachments: Vec::new(),
    }
}

#[test]
fn two_people_without_a_name_make_a_direct_chat_anything_else_a_group() {
    let create = |text: &str| match op(decide(&mut alice(Scope::AllChats), text)) {
        StorageOp::CreateChat { chat } => chat,
        other => panic!("expected a creation, got {other:?}"),
    };
    let direct = create(r#"{"command":"create_chat","participants":["bob","alice","bob"]}"#);
    assert_eq!(
        direct,
        NewChat { kind: ChatKind::Direct, ..NewChat::direct("alice", "bob", now()) }
    );
    let named = create(r#"{"command":"create_chat","participants":["bob"],"name":"  Pair  "}"#);
    assert_eq!((named.kind, named.name.as_deref()), (ChatKind::Group, Some("Pair")));
    let three = create(r#"{"command":"create_chat","participants":["bob","carol"]}"#);
    assert_eq!((three.kind, three.creator.as_str()), (ChatKind::Group, "alice"));
    assert_eq!(three.members, ["alice", "bob", "carol"]);
    let code = refusal(decide(
        &mut alice(Scope::AllChats),
        r#"{"command":"create_chat","participants":["bob"],"name":"   "}"#,
    ));
    assert_eq!(code, ErrorCode::InvalidField, "a blank name");
    let code = refusal(decide(
        &mut alice(Scope::AllChats),
        r#"{"command":"create_chat","participants":["alice"]}"#,
    ));
    assert_eq!(code, ErrorCode::InvalidField, "a chat needs someone else");
}

#[test]
fn membership_commands_become_changes_of_the_chat() {
    assert_eq!(
        change(
            r#"{"command":"add_participants","chatId":"7","usernames":["carol","bob","carol"]}"#
        ),
        ChatChange::Add {
            usernames: vec!["bob".into(), "carol".into()],
            max: Limits::default().max_participants
        }
    );
    assert_eq!(
        change(r#"{"command":"remove_participant","chatId":7,"username":"bob"}"#),
        ChatChange::Remove { username: "bob".into() }
    );
    assert_eq!(change(r#"{"command":"leave_chat","chatId":7}"#), ChatChange::Leave);
    assert_eq!(
        change(r#"{"command":"set_role","chatId":7,"username":"bob","role":"admin"}"#),
        ChatChange::SetRole { username: "bob".into(), role: Role::Admin }
    );
    assert_eq!(
        change(r#"{"command":"update_chat","chatId":7,"name":" Crabs ","topic":""}"#),
        ChatChange::Describe { name: Some("Crabs".into()), topic: Some(String::new()) }
    );
    assert_eq!(
        op(decide(&mut alice(Scope::AllChats), r#"{"command":"delete_chat","chatId":7}"#)),
        StorageOp::DeleteChat { chat: ChatId(7), by: "alice".into() }
    );
    // A connection bound to chat 7 may leave chatId out, and may not name another chat.
    let bound = op(decide(&mut alice(Scope::Chat(ChatId(7))), r#"{"command":"leave_chat"}"#));
    assert!(matches!(bound, StorageOp::ChangeChat { chat: ChatId(7), .. }));
    for text in [
        r#"{"command":"leave_chat","chatId":8}"#,
        r#"{"command":"add_participants","chatId":8,"usernames":["bob"]}"#,
    ] {
        assert_eq!(refusal(decide(&mut alice(Scope::Chat(ChatId(7))), text)), ErrorCode::WrongChat);
    }
}

#[test]
fn malformed_chat_commands_are_refused_before_storage() {
    for (text, code) in [
        (r#"{"command":"update_chat","chatId":7}"#, ErrorCode::InvalidField),
        (r#"{"command":"remove_participant","chatId":7,"username":""}"#, ErrorCode::InvalidField),
        (
            r#"{"command":"set_role","chatId":7,"username":"bob","role":"king"}"#,
            ErrorCode::InvalidField,
        ),
        (r#"{"command":"add_participants","chatId":7,"usernames":[]}"#, ErrorCode::InvalidField),
        (r#"{"command":"leave_chat"}"#, ErrorCode::MissingField),
    ] {
        let decided = decode(text, &Limits::default())
            .map(|frame| alice(Scope::AllChats).handle(frame, now()));
        let got = match decided {
            Ok(decision) => refusal(decision),
            Err(err) => err.code(),
        };
        assert_eq!(got, code, "{text}");
    }
    let long = "x".repeat(65);
    let text = format!(r#"{{"command":"update_chat","chatId":7,"name":"{long}"}}"#);
    assert_eq!(refusal(decide(&mut alice(Scope::AllChats), &text)), ErrorCode::InvalidField);
}

#[test]
fn a_change_tells_the_members_those_added_and_those_it_removed() {
    let mut session = alice(Scope::AllChats);
    let text = r#"{"command":"add_participants","id":2,"chatId":7,"usernames":["carol"]}"#;
    let Decision::Store(pending) = decide(&mut session, text) else { panic!("store") };
    let after = group(&[("alice", Role::Owner), ("carol", Role::Member)]);
    let joined = event(4, EventKind::Join, "carol");
    let changed = ChatChanged {
        chat: after.clone(),
        events: vec![joined.clone()],
        gone: Vec::new(),
        added: vec!["carol".into()],
        deleted: false,
        replayed: false,
    };
    let out = session.complete(pending, Ok(StorageOutcome::Changed(changed)));
    assert_eq!(out.reply, Some(ServerFrame::Chat { id: Some(2.into()), chat: after.clone() }));
    assert_eq!(
        out.publish,
        [
            Publish::to_some(
                ChatId(7),
                ServerFrame::ChatCreated { chat: after.clone() },
                vec!["carol".into()]
            ),
            Publish::to_chat(
                ChatId(7),
                ServerFrame::ChatChanged { chat: after, events: vec![joined] }
            ),
        ]
    );

    // Removing: the removed member is told too (and, from then on, nothing).
    let text = r#"{"command":"remove_participant","id":3,"chatId":7,"username":"carol"}"#;
    let Decision::Store(pending) = decide(&mut session, text) else { panic!("store") };
    let after = group(&[("alice", Role::Owner)]);
    let removed = event(5, EventKind::Remove, "carol");
    let changed = ChatChanged {
        chat: after.clone(),
        events: vec![removed.clone()],
        gone: vec!["carol".into()],
        added: Vec::new(),
        deleted: false,
        replayed: false,
    };
    let out = session.complete(pending, Ok(StorageOutcome::Changed(changed)));
    assert_eq!(
        out.publish,
        [Publish {
            chat: ChatId(7),
            frame: ServerFrame::ChatChanged { chat: after, events: vec![removed] },
            to: None,
            also: vec!["carol".into()],
        }]
    );

    // Leaving answers `ok`: the chat is no longer the caller's to see.
    let Decision::Store(pending) =
        decide(&mut session, r#"{"command":"leave_chat","id":4,"chatId":7}"#)
    else {
        panic!("store")
    };
    let changed = ChatChanged {
        chat: group(&[]),
        events: vec![event(6, EventKind::Leave, "alice")],
        gone: vec!["alice".into()],
        added: Vec::new(),
        deleted: false,
        replayed: false,
    };
    let out = session.complete(pending, Ok(StorageOutcome::Changed(changed)));
    assert_eq!(out.reply, Some(ServerFrame::Ok { id: Some(4.into()) }));
    assert_eq!(out.publish[0].also, ["alice"]);

    // A change that changed nothing (a role already held) publishes nothing.
    let text = r#"{"command":"set_role","id":5,"chatId":7,"username":"bob","role":"admin"}"#;
    let Decision::Store(pending) = decide(&mut session, text) else { panic!("store") };
    let unchanged = ChatChanged {
        chat: group(&[("alice", Role::Owner), ("bob", Role::Admin)]),
        events: Vec::new(),
        gone: Vec::new(),
        added: Vec::new(),
        deleted: false,
        replayed: false,
    };
    let out = session.complete(pending, Ok(StorageOutcome::Changed(unchanged)));
    assert!(out.publish.is_empty());
    assert!(matches!(out.reply, Some(ServerFrame::Chat { .. })));
}

#[test]
fn a_deleted_chat_is_announced_to_everyone_who_was_in_it() {
    let mut session = alice(Scope::AllChats);
    let Decision::Store(pending) =
        decide(&mut session, r#"{"command":"delete_chat","id":1,"chatId":7}"#)
    else {
        panic!("store")
    };
    let members = vec!["alice".to_owned(), "bob".to_owned()];
    let out = session.complete(pending, Ok(StorageOutcome::Deleted(members.clone())));
    assert_eq!(out.reply, Some(ServerFrame::Ok { id: Some(1.into()) }));
    assert_eq!(
        out.publish,
        [Publish {
            chat: ChatId(7),
            frame: ServerFrame::ChatDeleted { chat_id: ChatId(7), by: "alice".into() },
            to: None,
            also: members,
        }]
    );
}

#[test]
fn version_one_clients_resume_posts_only_and_version_two_every_item() {
    let items = |session: &mut Session| match op(decide(
        session,
        r#"{"command":"resume","chatId":7,"since":0}"#,
    )) {
        StorageOp::Resume { items, .. } => items,
        other => panic!("expected a resume, got {other:?}"),
    };
    assert_eq!(items(&mut alice(Scope::AllChats)), Items::Posts, "no version declared");

    // Declared in the authentication command, and echoed in the reply.
    let mut session = Session::new(Scope::AllChats, Limits::default());
    let Decision::Authenticate(request) =
        decide(&mut session, r#"{"command":"auth","token":"t","protocol":2}"#)
    else {
        panic!("auth")
    };
    let out = session.authenticated(request, Identity::new("alice"), None);
    assert!(matches!(out.reply, Some(ServerFrame::Authenticated { protocol: Some(2), .. })));
    assert_eq!(items(&mut session), Items::All);

    // Declared in the URL (the driver calls `speak`); a newer version than the server's is
    // spoken as the server's newest, 0 as 1.
    let mut session = alice(Scope::AllChats);
    session.speak(99);
    assert_eq!(session.protocol(), crate::protocol::PROTOCOL_VERSION);
    assert_eq!(items(&mut session), Items::All);
    session.speak(0);
    assert_eq!(items(&mut session), Items::Posts);
}

#[test]
fn mutating_commands_carry_their_idempotency_key_to_storage() {
    let keyed = |text: &str| op(decide(&mut alice(Scope::AllChats), text));
    assert!(matches!(
        keyed(r#"{"command":"leave_chat","chatId":7,"clientId":"k"}"#),
        StorageOp::ChangeChat { key: Some(key), .. } if key == "k"
    ));
    assert!(matches!(
        keyed(r#"{"command":"edit_message","chatId":7,"seq":1,"message":"x","client_id":"e"}"#),
        StorageOp::Edit { key: Some(key), .. } if key == "e"
    ));
    assert!(matches!(
        keyed(r#"{"command":"delete_message","chatId":7,"seq":1,"clientId":"d"}"#),
        StorageOp::Delete { key: Some(key), .. } if key == "d"
    ));
    assert!(matches!(
        keyed(r#"{"command":"create_chat","participants":["bob"],"clientId":"c"}"#),
        StorageOp::CreateChat { chat: NewChat { client_id: Some(key), .. } } if key == "c"
    ));
    let long = "k".repeat(129);
    for text in [
        r#"{"command":"set_role","chatId":7,"username":"bob","role":"admin","clientId":""}"#
            .to_owned(),
        format!(r#"{{"command":"update_chat","chatId":7,"name":"n","clientId":"{long}"}}"#),
    ] {
        assert_eq!(refusal(decide(&mut alice(Scope::AllChats), &text)), ErrorCode::InvalidField);
    }
}

#[test]
fn a_retried_change_or_creation_is_answered_but_not_announced_again() {
    let mut session = alice(Scope::AllChats);
    let text =
        r#"{"command":"add_participants","id":1,"chatId":7,"usernames":["bob"],"clientId":"k"}"#;
    let Decision::Store(pending) = decide(&mut session, text) else { panic!("store") };
    let chat = group(&[("alice", Role::Owner), ("bob", Role::Member)]);
    let replayed = ChatChanged {
        chat: chat.clone(),
        events: Vec::new(),
        gone: Vec::new(),
        added: Vec::new(),
        deleted: false,
        replayed: true,
    };
    let out = session.complete(pending, Ok(StorageOutcome::Changed(replayed)));
    assert_eq!(out.reply, Some(ServerFrame::Chat { id: Some(1.into()), chat: chat.clone() }));
    assert!(out.publish.is_empty());
    let text = r#"{"command":"create_chat","id":2,"participants":["bob"],"clientId":"c"}"#;
    let Decision::Store(pending) = decide(&mut session, text) else { panic!("store") };
    let again = crate::model::CreatedChat { chat: chat.clone(), created: false };
    let out = session.complete(pending, Ok(StorageOutcome::Created(again)));
    assert_eq!(out.reply, Some(ServerFrame::Chat { id: Some(2.into()), chat }));
    assert!(out.publish.is_empty(), "a retried creation is not announced again");
}

#[test]
fn the_last_member_leaving_is_told_the_chat_is_deleted_and_each_command_answers_as_always() {
    for (text, leave) in [
        (r#"{"command":"leave_chat","id":1,"chatId":7}"#, true),
        (r#"{"command":"remove_participant","id":1,"chatId":7,"username":"alice"}"#, false),
    ] {
        let mut session = alice(Scope::AllChats);
        let Decision::Store(pending) = decide(&mut session, text) else { panic!("store") };
        let gone = ChatChanged {
            chat: group(&[]),
            events: Vec::new(),
            gone: vec!["alice".into()],
            added: Vec::new(),
            deleted: true,
            replayed: false,
        };
        let out = session.complete(pending, Ok(StorageOutcome::Changed(gone)));
        let frame = ServerFrame::ChatDeleted { chat_id: ChatId(7), by: "alice".into() };
        assert_eq!(
            out.publish,
            [Publish { chat: ChatId(7), frame, to: None, also: vec!["alice".into()] }]
        );
        match out.reply {
            Some(ServerFrame::Ok { .. }) => assert!(leave, "{text}"),
            Some(ServerFrame::Chat { chat, .. }) => {
                assert!(!leave, "{text}");
                assert!(chat.participants.is_empty());
            }
            other => panic!("{text}: {other:?}"),
        }
    }
}
