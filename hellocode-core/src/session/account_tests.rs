//! The account and language commands, driven directly: decoding, checks, replies.

use super::*;
use crate::model::User;
use crate::protocol::{DecodeError, decode};

fn now() -> Timestamp {
    Timestamp::from_unix_millis(1_700_000_000_000)
}

fn decoded(text: &str) -> Result<ClientFrame, DecodeError> {
    decode(text, &Limits::default())
}

fn alice(scope: Scope) -> Session {
    let mut session = Session::new(scope, Limits::default());
    session.authenticate(Identity::new("alice"));
    session
}

fn decide(session: &mut Session, text: &str) -> Decision {
    session.handle(decoded(text).expect("valid frame"), now())
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

#[test]
fn missing_or_malformed_fields_get_their_codes() {
    let cases: &[(&str, ErrorCode)] = &[
        (r#"{"command":"get_user","id":1}"#, ErrorCode::MissingField),
        (r#"{"command":"get_user","username":3}"#, ErrorCode::InvalidField),
        (r#"{"command":"add_language"}"#, ErrorCode::MissingField),
        (r#"{"command":"add_contact"}"#, ErrorCode::MissingField),
        (r#"{"command":"remove_contact"}"#, ErrorCode::MissingField),
        (r#"{"command":"create_bot_token"}"#, ErrorCode::MissingField),
        (r#"{"command":"revoke_bot_token","id":4}"#, ErrorCode::MissingField),
        (r#"{"command":"revoke_bot_token","tokenId":"five"}"#, ErrorCode::InvalidField),
        (r#"{"command":"add_participants","chatId":7}"#, ErrorCode::MissingField),
        (r#"{"command":"add_participants","chatId":"x","usernames":[]}"#, ErrorCode::InvalidField),
        (r#"{"command":"add_participants","chatId":7,"usernames":"bob"}"#, ErrorCode::InvalidField),
        (r#"{"command":"update_profile","languages":"Rust"}"#, ErrorCode::InvalidField),
    ];
    for (text, code) in cases {
        let err = decoded(text).expect_err(text);
        assert_eq!(err.code(), *code, "{text}: {err}");
    }
    let err = decoded(r#"{"command":"revoke_bot_token","id":4}"#).expect_err("no tokenId");
    assert_eq!(err.request_id(), Some(&RequestId::Number(4)), "the request id is kept");
    // Checked by the session: values the decoder accepts but the protocol does not.
    let mut session = alice(Scope::AllChats);
    let no_chat = decide(&mut session, r#"{"command":"add_participants","usernames":["bob"]}"#);
    assert_eq!(refusal(no_chat), ErrorCode::MissingField, "chatId is needed on /ws");
    let long_zone = format!(r#"{{"command":"update_profile","timezone":"{}"}}"#, "z".repeat(65));
    for text in [
        r#"{"command":"add_participants","chatId":7,"usernames":[]}"#,
        r#"{"command":"add_participants","chatId":7,"usernames":[""]}"#,
        r#"{"command":"get_user","username":""}"#,
        r#"{"command":"add_contact","username":""}"#,
        r#"{"command":"add_language","name":"   "}"#,
        r#"{"command":"create_bot_token","name":""}"#,
        r#"{"command":"update_profile","languages":["Rust",""]}"#,
        long_zone.as_str(),
    ] {
        assert_eq!(refusal(decide(&mut session, text)), ErrorCode::InvalidField, "{text}");
    }
}

#[test]
fn account_commands_need_authentication() {
    let mut session = Session::new(Scope::AllChats, Limits::default());
    for text in [
        r#"{"command":"get_user","username":"bob"}"#,
        r#"{"command":"list_languages"}"#,
        r#"{"command":"create_bot_token","name":"bot"}"#,
        r#"{"command":"add_participants","chatId":7,"usernames":["bob"]}"#,
    ] {
        assert_eq!(refusal(decide(&mut session, text)), ErrorCode::NotAuthenticated, "{text}");
    }
}

#[test]
fn account_commands_act_as_the_caller() {
    let mut session = alice(Scope::AllChats);
    let cases = [
        (
            r#"{"command":"get_user","username":"bob"}"#,
            StorageOp::GetUser { username: "alice".into(), target: "bob".into() },
        ),
        (
            r#"{"command":"update_profile","timezone":"Europe/Paris","languages":[" Rust","Go","Rust"]}"#,
            StorageOp::UpdateProfile {
                username: "alice".into(),
                timezone: Some("Europe/Paris".into()),
                languages: Some(vec!["Go".into(), "Rust".into()]),
            },
        ),
        (
            r#"{"command":"update_profile"}"#,
            StorageOp::UpdateProfile { username: "alice".into(), timezone: None, languages: None },
        ),
        (
            r#"{"command":"list_languages"}"#,
            StorageOp::ListLanguages {
                username: "alice".into(),
                after: None,
                limit: crate::protocol::MAX_LIST_PAGE,
            },
        ),
        (
            r#"{"command":"add_language","name":" Zig "}"#,
            StorageOp::AddLanguage { username: "alice".into(), name: "Zig".into() },
        ),
        (r#"{"command":"list_contacts"}"#, StorageOp::ListContacts { username: "alice".into() }),
        (
            r#"{"command":"add_contact","username":"bob"}"#,
            StorageOp::AddContact { username: "alice".into(), contact: "bob".into() },
        ),
        (
            r#"{"command":"remove_contact","username":"bob"}"#,
            StorageOp::RemoveContact { username: "alice".into(), contact: "bob".into() },
        ),
        (r#"{"command":"list_bot_tokens"}"#, StorageOp::ListBotTokens { username: "alice".into() }),
        (
            r#"{"command":"revoke_bot_token","tokenId":5}"#,
            StorageOp::RevokeBotToken { username: "alice".into(), token: 5 },
        ),
    ];
    for (text, expected) in cases {
        let op = op(decide(&mut session, text));
        assert_eq!(op.actor(), Some("alice"));
        assert_eq!(op, expected, "{text}");
    }
}

#[test]
fn bot_tokens_are_issued_by_the_driver() {
    let mut session = alice(Scope::AllChats);
    let Decision::IssueBotToken(request) =
        decide(&mut session, r#"{"command":"create_bot_token","id":"b","name":" matchmaker "}"#)
    else {
        panic!("a bot token is the driver's to issue")
    };
    assert_eq!(
        request,
        BotTokenRequest { id: Some("b".into()), owner: "alice".into(), name: "matchmaker".into() }
    );
    let out = session.bot_token_issued(request, 5, "signed".into());
    assert_eq!(
        out.reply.map(|frame| frame.to_json()).as_deref(),
        Some(
            r#"{"command":"bot_token","id":"b","tokenId":5,"name":"matchmaker","token":"signed"}"#
        )
    );
    assert!(out.publish.is_empty());
}

#[test]
fn replies_carry_what_storage_returned() {
    let mut session = alice(Scope::AllChats);
    let bob = User {
        id: 4,
        username: "bob".into(),
        timezone: String::new(),
        languages: vec!["Rust".into()],
        avatar: None,
    };
    let Decision::Store(pending) =
        decide(&mut session, r#"{"command":"get_user","id":1,"username":"bob"}"#)
    else {
        panic!("store")
    };
    let out = session.complete(pending, Ok(StorageOutcome::User(bob.clone())));
    assert_eq!(out.reply, Some(ServerFrame::User { id: Some(1.into()), user: bob }));
    let Decision::Store(pending) =
        decide(&mut session, r#"{"command":"remove_contact","id":2,"username":"bob"}"#)
    else {
        panic!("store")
    };
    let out = session.complete(pending, Ok(StorageOutcome::Contacts(vec!["carol".into()])));
    assert_eq!(
        out.reply,
        Some(ServerFrame::Contacts { id: Some(2.into()), contacts: vec!["carol".into()] })
    );
    // `ok` only to a command with an id, as for every data-less reply.
    for (text, reply) in [
        (
            r#"{"command":"revoke_bot_token","id":3,"tokenId":9}"#,
            Some(ServerFrame::Ok { id: Some(3.into()) }),
        ),
        (r#"{"command":"revoke_bot_token","tokenId":9}"#, None),
    ] {
        let Decision::Store(pending) = decide(&mut session, text) else { panic!("store") };
        assert_eq!(session.complete(pending, Ok(StorageOutcome::Done)).reply, reply);
    }
}
