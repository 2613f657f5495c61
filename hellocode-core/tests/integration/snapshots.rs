//! Snapshots of every wire type's encoding (the server frames are pinned by protocol_doc.rs).
//! A change of format shows up as a snapshot diff to review with `cargo insta review`.

use hellocode_core::model::{ChatId, Language, ReadPosition, Seq, Timestamp, User};
use hellocode_core::protocol::{ClientFrame, Command, ErrorCode, RequestId};

#[test]
fn client_commands_encode_as_documented() {
    let chat = Some(ChatId(7));
    let frames = vec![
        ClientFrame::with_id(1, Command::Auth { token: "t".into() }),
        ClientFrame::new(Command::Register {
            username: "alice".into(),
            email: "alice@example.org".into(),
            password: "pw".into(),
            password_confirmation: "pw".into(),
        }),
        ClientFrame::with_id(
            "l",
            Command::Login { username: "alice".into(), password: "pw".into() },
        ),
        ClientFrame::new(Command::FetchMessages {
            chat_id: chat,
            limit: Some(20),
            before: Some(Seq(40)),
        }),
        ClientFrame::new(Command::NewMessage {
            chat_id: chat,
            message: "hi".into(),
            from: None,
            client_id: Some("c-1".into()),
        }),
        ClientFrame::new(Command::Resume { chat_id: chat, since: Seq(3), limit: None }),
        ClientFrame::new(Command::CreateChat { participants: vec!["bob".into()] }),
        ClientFrame::new(Command::ListChats {}),
        ClientFrame::with_id(2, Command::FindUsers { language: "Rust".into() }),
        ClientFrame::new(Command::Typing { chat_id: chat }),
        ClientFrame::new(Command::Read { chat_id: chat, seq: Seq(5) }),
        ClientFrame::new(Command::EditMessage { chat_id: chat, seq: Seq(5), message: "x".into() }),
        ClientFrame::new(Command::DeleteMessage { chat_id: chat, seq: Seq(5) }),
        ClientFrame::with_id(RequestId::Text("p".into()), Command::Ping {}),
    ];
    insta::assert_json_snapshot!(frames);
}

#[test]
fn model_types_encode_stably() {
    let user = User {
        id: 3,
        username: "alice".into(),
        timezone: "Europe/Paris".into(),
        languages: vec!["Rust".into()],
        avatar: Some("avatars/alice.png".into()),
    };
    let language = Language { id: 1, name: "Rust".into() };
    let read = ReadPosition { username: "bob".into(), seq: Seq(9) };
    let stamp = Timestamp::from_unix_millis(0);
    insta::assert_json_snapshot!((user, language, read, stamp, ErrorCode::ALL));
}
