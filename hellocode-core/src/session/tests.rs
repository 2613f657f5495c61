//! The state machine driven directly: no storage, no network.

use super::*;
use crate::model::{EventKind, Message, NewMessage, ReadMark, ReadPosition, Revised, Seq, User};
use crate::protocol::decode;
use crate::storage::Appended;

fn now() -> Timestamp {
    Timestamp::from_unix_millis(1_700_000_000_000)
}

fn frame(text: &str) -> ClientFrame {
    decode(text, &Limits::default()).expect("valid frame")
}

fn alice(scope: Scope) -> Session {
    let mut session = Session::new(scope, Limits::default());
    session.authenticate(Identity::new("alice"));
    session
}

fn refused(decision: Decision) -> (ErrorCode, Option<RequestId>) {
    match decision {
        Decision::Reply(Output { reply: Some(ServerFrame::Error { code, id, .. }), publish }) => {
            assert!(publish.is_empty(), "a refused command publishes nothing");
            (code, id)
        }
        other => panic!("expected an error reply, got {other:?}"),
    }
}

fn op(decision: Decision) -> StorageOp {
    match decision {
        Decision::Store(pending) => pending.op,
        other => panic!("expected a storage operation, got {other:?}"),
    }
}

fn message(seq: i64, content: &str) -> Message {
    Message {
        id: 40 + seq,
        chat_id: ChatId(7),
        seq: Seq(seq),
        author: "alice".into(),
        content: content.into(),
        timestamp: now(),
        client_id: None,
        edited_at: None,
        deleted: false,
        kind: Default::default(),
        target: None,
        member: None,
        role: None,
        attachments: Vec::new(),
    }
}

#[test]
fn unauthenticated_sessions_only_authenticate_or_ping() {
    let mut session = Session::new(Scope::AllChats, Limits::default());
    for text in [
        r#"{"command":"fetch_messages","chatId":7,"id":1}"#,
        r#"{"command":"new_message","chatId":7,"message":"hi","id":1}"#,
        r#"{"command":"list_chats","id":1}"#,
        r#"{"command":"typing","chatId":7,"id":1}"#,
        r#"{"command":"find_users","language":"Rust","id":1}"#,
    ] {
        assert_eq!(
            refused(session.handle(frame(text), now())),
            (ErrorCode::NotAuthenticated, Some(RequestId::Number(1)))
        );
    }
    let Decision::Reply(out) = session.handle(frame(r#"{"command":"ping","id":"p"}"#), now())
    else {
        panic!("ping is answered directly")
    };
    assert_eq!(out.reply, Some(ServerFrame::Pong { id: Some("p".into()) }));

    let Decision::Authenticate(request) =
        session.handle(frame(r#"{"command":"auth","token":"t0k","id":2}"#), now())
    else {
        panic!("auth asks the driver to check the token")
    };
    assert_eq!(request.credentials, Credentials::Token { token: "t0k".into() });
    assert_eq!(session.state(), &State::Unauthenticated, "nothing changes before the check");
    let out = session.authenticated(request, Identity::new("alice"), None);
    assert_eq!(
        out.reply,
        Some(ServerFrame::Authenticated {
            id: Some(2.into()),
            username: "alice".into(),
            token: None,
            protocol: Some(1),
        })
    );
    assert_eq!(session.identity(), Some(&Identity::new("alice")));
}

#[test]
fn login_and_register_become_credential_checks() {
    let mut session = Session::new(Scope::AllChats, Limits::default());
    let Decision::Authenticate(login) =
        session.handle(frame(r#"{"command":"login","username":"a","password":"p"}"#), now())
    else {
        panic!("login needs a check")
    };
    assert_eq!(
        login.credentials,
        Credentials::Password { username: "a".into(), password: "p".into() }
    );
    let register = r#"{"command":"register","username":"a","email":"a@x","password":"p","password_confirmation":"q"}"#;
    let Decision::Authenticate(register) = session.handle(frame(register), now()) else {
        panic!("register needs a check")
    };
    assert!(matches!(register.credentials, Credentials::Register { .. }));
}

#[test]
fn authenticated_sessions_refuse_a_second_login() {
    let mut session = alice(Scope::AllChats);
    let (code, _) = refused(session.handle(frame(r#"{"command":"auth","token":"x"}"#), now()));
    assert_eq!(code, ErrorCode::AlreadyAuthenticated);
}

#[test]
fn identity_comes_from_authentication_not_from_the_frame() {
    let mut session = alice(Scope::AllChats);
    let impersonating =
        r#"{"command":"new_message","chatId":7,"message":"hi","from":"bob","id":3}"#;
    assert_eq!(
        refused(session.handle(frame(impersonating), now())),
        (ErrorCode::Impersonation, Some(3.into()))
    );
    let honest = r#"{"command":"new_message","chatId":"7","message":"hi","from":"alice"}"#;
    assert_eq!(
        op(session.handle(frame(honest), now())),
        StorageOp::Append(NewMessage {
            chat_id: ChatId(7),
            author: "alice".into(),
            content: "hi".into(),
            client_id: None,
            timestamp: now(),
            attachments: Vec::new(),
        })
    );
    // Every operation acts as the authenticated user.
    for text in [
        r#"{"command":"fetch_messages","chatId":7}"#,
        r#"{"command":"resume","chatId":7,"since":3}"#,
        r#"{"command":"read","chatId":7,"seq":3}"#,
        r#"{"command":"get_read_positions","chatId":7}"#,
        r#"{"command":"typing","chatId":7}"#,
        r#"{"command":"edit_message","chatId":7,"seq":1,"message":"x"}"#,
        r#"{"command":"delete_message","chatId":7,"seq":1}"#,
        r#"{"command":"list_chats"}"#,
        r#"{"command":"find_users","language":"Rust"}"#,
    ] {
        assert_eq!(op(session.handle(frame(text), now())).actor(), Some("alice"), "{text}");
    }
}

#[test]
fn a_chat_bound_session_defaults_and_guards_its_chat() {
    let mut session = alice(Scope::Chat(ChatId(7)));
    let StorageOp::FetchMessages { chat, limit, before, .. } =
        op(session.handle(frame(r#"{"command":"fetch_messages"}"#), now()))
    else {
        panic!("a fetch")
    };
    assert_eq!((chat, limit, before), (ChatId(7), 10, None), "the original app's default of 10");
    let (code, _) =
        refused(session.handle(frame(r#"{"command":"fetch_messages","chatId":8}"#), now()));
    assert_eq!(code, ErrorCode::WrongChat);
    assert!(session.receives(ChatId(7)));
    assert!(!session.receives(ChatId(8)));

    let mut all = alice(Scope::AllChats);
    let (code, _) = refused(all.handle(frame(r#"{"command":"fetch_messages"}"#), now()));
    assert_eq!(code, ErrorCode::MissingField, "/ws needs a chatId");
    assert!(all.receives(ChatId(8)));
}

#[test]
fn pages_are_capped_and_validated() {
    let mut session = alice(Scope::AllChats);
    let limit = |session: &mut Session, text: &str| match op(session.handle(frame(text), now())) {
        StorageOp::FetchMessages { limit, .. } | StorageOp::Resume { limit, .. } => limit,
        other => panic!("{other:?}"),
    };
    assert_eq!(limit(&mut session, r#"{"command":"fetch_messages","chatId":1,"limit":5000}"#), 100);
    assert_eq!(limit(&mut session, r#"{"command":"fetch_messages","chatId":1,"limit":25}"#), 25);
    assert_eq!(limit(&mut session, r#"{"command":"resume","chatId":1,"since":0}"#), 100);
    let (code, _) = refused(
        session.handle(frame(r#"{"command":"fetch_messages","chatId":1,"limit":0}"#), now()),
    );
    assert_eq!(code, ErrorCode::InvalidField);
}

#[test]
fn message_text_and_client_ids_are_validated() {
    let limits = Limits { max_message_chars: 5, ..Limits::default() };
    let mut session = Session::new(Scope::AllChats, limits);
    session.authenticate(Identity::new("alice"));
    for text in [
        r#"{"command":"new_message","chatId":1,"message":"   "}"#,
        r#"{"command":"new_message","chatId":1,"message":"toolong"}"#,
        r#"{"command":"edit_message","chatId":1,"seq":1,"message":""}"#,
        r#"{"command":"new_message","chatId":1,"message":"ok","clientId":""}"#,
    ] {
        assert_eq!(
            refused(session.handle(frame(text), now())).0,
            ErrorCode::InvalidField,
            "{text}"
        );
    }
    let long_id = format!(
        r#"{{"command":"new_message","chatId":1,"message":"ok","clientId":"{}"}}"#,
        "x".repeat(MAX_CLIENT_ID_BYTES + 1)
    );
    assert_eq!(refused(session.handle(frame(&long_id), now())).0, ErrorCode::InvalidField);
    // Five characters of several bytes each are within a five-character limit.
    let op = op(session.handle(
        frame(r#"{"command":"new_message","chatId":1,"message":"ééééé","client_id":"c"}"#),
        now(),
    ));
    assert!(matches!(op, StorageOp::Append(NewMessage { client_id: Some(_), .. })));
}

#[test]
fn language_names_are_trimmed_and_validated() {
    let mut session = alice(Scope::Chat(ChatId(7)));
    let find = |language: &str| {
        serde_json::json!({ "command": "find_users", "id": 4, "language": language }).to_string()
    };
    for language in ["", "   ", "\t\n", &"x".repeat(MAX_LANGUAGE_CHARS + 1)] {
        assert_eq!(
            refused(session.handle(frame(&find(language)), now())),
            (ErrorCode::InvalidField, Some(4.into())),
            "{language:?}"
        );
    }
    assert_eq!(
        op(session.handle(frame(&find("  Rust \n")), now())),
        StorageOp::FindUsers {
            username: "alice".into(),
            language: "Rust".into(),
            after: None,
            limit: crate::protocol::MAX_LIST_PAGE
        },
        "trimmed; no chatId needed, even on a chat-bound connection"
    );
    // The limit counts characters, not bytes; spaces around the name do not count.
    let longest = format!(" {} ", "é".repeat(MAX_LANGUAGE_CHARS));
    let StorageOp::FindUsers { language, .. } = op(session.handle(frame(&find(&longest)), now()))
    else {
        panic!("find users")
    };
    assert_eq!(language.chars().count(), MAX_LANGUAGE_CHARS);
    let missing = decode(r#"{"command":"find_users","id":4}"#, &Limits::default());
    assert_eq!(missing.map_err(|err| err.code()), Err(ErrorCode::MissingField));
}

#[test]
fn found_users_come_in_pages_after_a_username() {
    let mut session = alice(Scope::AllChats);
    let paged = r#"{"command":"find_users","id":5,"language":"Rust","after":"bob","limit":2}"#;
    assert_eq!(
        op(session.handle(frame(paged), now())),
        StorageOp::FindUsers {
            username: "alice".into(),
            language: "Rust".into(),
            after: Some("bob".into()),
            limit: 2
        }
    );
    let capped = r#"{"command":"find_users","id":6,"language":"Rust","limit":100000}"#;
    let StorageOp::FindUsers { limit, .. } = op(session.handle(frame(capped), now())) else {
        panic!("find users")
    };
    assert_eq!(limit, crate::protocol::MAX_LIST_PAGE);
    let empty = r#"{"command":"find_users","id":7,"language":"Rust","limit":0}"#;
    assert_eq!(
        refused(session.handle(frame(empty), now())),
        (ErrorCode::InvalidField, Some(7.into()))
    );
}

#[test]
fn found_users_are_replied_to_the_requester_only() {
    let mut session = alice(Scope::AllChats);
    let Decision::Store(pending) =
        session.handle(frame(r#"{"command":"find_users","id":1,"language":"Rust"}"#), now())
    else {
        panic!("store")
    };
    let bob = User {
        id: 2,
        username: "bob".into(),
        timezone: String::new(),
        languages: vec!["Go".into(), "Rust".into()],
        avatar: None,
    };
    let out = session.complete(pending.clone(), Ok(StorageOutcome::Users(vec![bob.clone()])));
    assert!(out.publish.is_empty());
    let reply = out.reply.expect("a reply, with or without id");
    assert_eq!(
        reply,
        ServerFrame::Users { id: Some(1.into()), language: "Rust".into(), users: vec![bob] }
    );
    assert_eq!(
        reply.to_json(),
        r#"{"command":"users","id":1,"language":"Rust","users":[{"id":2,"username":"bob","timezone":"","languages":["Go","Rust"],"avatar":null}]}"#
    );
    let out = session.complete(pending.clone(), Err(Error::LanguageNotFound("Rust".into())));
    assert!(matches!(
        out.reply,
        Some(ServerFrame::Error { code: ErrorCode::NotFound, id: Some(RequestId::Number(1)), .. })
    ));
    let out = session.complete(pending, Ok(StorageOutcome::Chats(Vec::new())));
    assert!(matches!(out.reply, Some(ServerFrame::Error { code: ErrorCode::Internal, .. })));

    let Decision::Store(pending) =
        session.handle(frame(r#"{"command":"find_users","language":"Cobol"}"#), now())
    else {
        panic!("store")
    };
    let out = session.complete(pending, Ok(StorageOutcome::Users(Vec::new())));
    assert_eq!(
        out.reply,
        Some(ServerFrame::Users { id: None, language: "Cobol".into(), users: Vec::new() }),
        "a query always gets its answer, even without an id"
    );
}

#[test]
fn completed_sends_reply_and_publish_once() {
    let mut session = alice(Scope::AllChats);
    let Decision::Store(pending) = session
        .handle(frame(r#"{"command":"new_message","chatId":7,"message":"hi","id":9}"#), now())
    else {
        panic!("store")
    };
    let stored = message(1, "hi");
    let out = session.complete(
        pending.clone(),
        Ok(StorageOutcome::Appended(Appended { message: stored.clone(), created: true })),
    );
    assert_eq!(out.reply, Some(ServerFrame::Ack { id: Some(9.into()), message: stored.clone() }));
    assert_eq!(
        out.publish,
        [Publish::to_chat(ChatId(7), ServerFrame::NewMessage { message: stored.clone() })]
    );
    let retry = session.complete(
        pending,
        Ok(StorageOutcome::Appended(Appended { message: stored.clone(), created: false })),
    );
    assert!(retry.publish.is_empty(), "a retried send is not published twice");
    assert_eq!(retry.reply, Some(ServerFrame::Ack { id: Some(9.into()), message: stored }));
}

#[test]
fn sends_without_an_id_get_no_ack_as_in_the_original_app() {
    let mut session = alice(Scope::Chat(ChatId(7)));
    let Decision::Store(pending) =
        session.handle(frame(r#"{"command":"new_message","from":"alice","message":"hi"}"#), now())
    else {
        panic!("store")
    };
    let out = session.complete(
        pending,
        Ok(StorageOutcome::Appended(Appended { message: message(1, "hi"), created: true })),
    );
    assert_eq!(out.reply, None);
    assert_eq!(out.publish.len(), 1);
}

#[test]
fn fetch_and_resume_reply_to_the_requester_only() {
    let mut session = alice(Scope::AllChats);
    let Decision::Store(fetch) =
        session.handle(frame(r#"{"command":"fetch_messages","chatId":7}"#), now())
    else {
        panic!("store")
    };
    let out = session
        .complete(fetch, Ok(StorageOutcome::Messages(vec![message(2, "b"), message(1, "a")])));
    assert!(out.publish.is_empty());
    let Some(ServerFrame::Messages { id: None, chat_id: ChatId(7), messages }) = out.reply else {
        panic!("messages reply")
    };
    assert_eq!(messages.len(), 2);

    let Decision::Store(resume) =
        session.handle(frame(r#"{"command":"resume","chatId":7,"since":1,"id":"r"}"#), now())
    else {
        panic!("store")
    };
    let out = session
        .complete(resume, Ok(StorageOutcome::Page { messages: vec![message(2, "b")], more: true }));
    assert_eq!(
        out.reply,
        Some(ServerFrame::Resumed {
            id: Some("r".into()),
            chat_id: ChatId(7),
            messages: vec![message(2, "b")],
            more: true
        })
    );
}

#[test]
fn other_operations_publish_their_events() {
    let mut session = alice(Scope::AllChats);
    let mut run = |text: &str, outcome: StorageOutcome| {
        let Decision::Store(pending) = session.handle(frame(text), now()) else { panic!("store") };
        session.complete(pending, Ok(outcome))
    };
    let out = run(r#"{"command":"typing","chatId":7}"#, StorageOutcome::Allowed);
    assert_eq!(
        out.publish[0].frame,
        ServerFrame::Typing { chat_id: ChatId(7), username: "alice".into() }
    );
    assert_eq!(out.reply, None);
    let out = run(
        r#"{"command":"read","chatId":7,"seq":6,"id":1}"#,
        StorageOutcome::ReadUpTo(ReadMark { seq: Seq(6), moved: true }),
    );
    assert_eq!(
        out.publish[0].frame,
        ServerFrame::Read { chat_id: ChatId(7), username: "alice".into(), seq: Seq(6) },
    );
    assert_eq!(out.reply, Some(ServerFrame::Ok { id: Some(1.into()) }));
    let out = run(
        r#"{"command":"read","chatId":7,"seq":4,"id":2}"#,
        StorageOutcome::ReadUpTo(ReadMark { seq: Seq(6), moved: false }),
    );
    assert!(out.publish.is_empty(), "an older receipt is not re-broadcast: {out:?}");
    assert_eq!(out.reply, Some(ServerFrame::Ok { id: Some(2.into()) }));
    let positions = vec![
        ReadPosition { username: "alice".into(), seq: Seq(6) },
        ReadPosition { username: "bob".into(), seq: Seq(0) },
    ];
    let out = run(
        r#"{"command":"get_read_positions","chatId":7,"id":3}"#,
        StorageOutcome::ReadPositions(positions.clone()),
    );
    assert!(out.publish.is_empty(), "asking tells no one: {out:?}");
    assert_eq!(
        out.reply,
        Some(ServerFrame::ReadPositions { id: Some(3.into()), chat_id: ChatId(7), positions })
    );
    let recorded = |seq: i64, kind: EventKind| Message {
        kind,
        target: Some(Seq(1)),
        ..message(seq, if kind == EventKind::Edit { "x" } else { "" })
    };
    let edited = Revised { message: message(1, "x"), event: Some(recorded(2, EventKind::Edit)) };
    let out = run(
        r#"{"command":"edit_message","chatId":7,"seq":1,"message":"x"}"#,
        StorageOutcome::Revised(edited),
    );
    assert_eq!(
        out.publish[0].frame,
        ServerFrame::MessageEdited {
            message: message(1, "x"),
            event: Some(recorded(2, EventKind::Edit))
        }
    );
    let deleted = Revised { message: message(1, ""), event: Some(recorded(3, EventKind::Delete)) };
    let out =
        run(r#"{"command":"delete_message","chatId":7,"seq":1}"#, StorageOutcome::Revised(deleted));
    assert_eq!(
        out.publish[0].frame,
        ServerFrame::MessageDeleted {
            chat_id: ChatId(7),
            seq: Seq(1),
            event: Some(recorded(3, EventKind::Delete))
        }
    );
    // Deleting a deleted post records nothing and tells no one.
    let out = run(
        r#"{"command":"delete_message","chatId":7,"seq":1}"#,
        StorageOutcome::Revised(Revised { message: message(1, ""), event: None }),
    );
    assert!(out.publish.is_empty());
}

#[test]
fn storage_errors_become_error_frames_without_internal_details() {
    let mut session = alice(Scope::AllChats);
    let Decision::Store(pending) =
        session.handle(frame(r#"{"command":"fetch_messages","chatId":7,"id":5}"#), now())
    else {
        panic!("store")
    };
    let out = session.complete(
        pending.clone(),
        Err(Error::NotParticipant { chat: ChatId(7), username: "alice".into() }),
    );
    assert!(matches!(out.reply, Some(ServerFrame::Error { code: ErrorCode::Forbidden, .. })));
    assert!(out.publish.is_empty());
    let out =
        session.complete(pending.clone(), Err(Error::Database("password=hunter2 host=db".into())));
    let Some(ServerFrame::Error { code, message, id, .. }) = out.reply else { panic!("error") };
    assert_eq!((code, id), (ErrorCode::Internal, Some(5.into())));
    assert!(!message.contains("hunter2"));
    let out = session.complete(pending, Ok(StorageOutcome::Allowed));
    assert!(matches!(out.reply, Some(ServerFrame::Error { code: ErrorCode::Internal, .. })));
}

#[test]
fn closed_sessions_ignore_everything() {
    let mut session = alice(Scope::AllChats);
    session.close();
    assert_eq!(
        session.handle(frame(r#"{"command":"ping","id":1}"#), now()),
        Decision::Reply(Output::default())
    );
    assert!(!session.receives(ChatId(1)));
    session.authenticate(Identity::new("bob"));
    assert_eq!(session.state(), &State::Closed, "a closed session stays closed");
}
