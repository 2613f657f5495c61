//! Snapshots of every wire type's encoding (the server frames are pinned by protocol_doc.rs).
//! A change of format shows up as a snapshot diff to review with `cargo insta review`.

use hellocode_core::model::{
    BotToken, ChatId, ChatKind, Invitation, InvitationState, InviteLink, Language, ReadPosition,
    Seq, Timestamp, User,
};
use hellocode_core::protocol::{ClientFrame, Command, ErrorCode, RequestId, ServerFrame};

#[test]
fn client_commands_encode_as_documented() {
    let chat = Some(ChatId(7));
    let frames = vec![
        ClientFrame::with_id(1, Command::Auth { token: "t".into(), protocol: None }),
        ClientFrame::with_id(9, Command::Auth { token: "t".into(), protocol: Some(2) }),
        ClientFrame::new(Command::Register {
            username: "alice".into(),
            email: "alice@example.org".into(),
            password: "pw".into(),
            password_confirmation: "pw".into(),
            protocol: None,
        }),
        ClientFrame::with_id(
            "l",
            Command::Login { username: "alice".into(), password: "pw".into(), protocol: None },
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
            attachments: Vec::new(),
        }),
        ClientFrame::new(Command::Resume { chat_id: chat, since: Seq(3), limit: None }),
        ClientFrame::new(Command::CreateChat {
            participants: vec!["bob".into()],
            name: None,
            topic: None,
            client_id: None,
        }),
        ClientFrame::new(Command::ListChats { after: None, limit: None }),
        ClientFrame::with_id(
            2,
            Command::FindUsers { language: "Rust".into(), after: None, limit: None },
        ),
        ClientFrame::new(Command::Typing { chat_id: chat }),
        ClientFrame::new(Command::Read { chat_id: chat, seq: Seq(5) }),
        ClientFrame::new(Command::EditMessage {
            chat_id: chat,
            seq: Seq(5),
            message: "x".into(),
            client_id: None,
        }),
        ClientFrame::new(Command::DeleteMessage { chat_id: chat, seq: Seq(5), client_id: None }),
        ClientFrame::with_id(RequestId::Text("p".into()), Command::Ping {}),
    ];
    insta::assert_json_snapshot!(frames);
}

#[test]
fn account_and_membership_commands_encode_as_documented() {
    let frames = vec![
        ClientFrame::with_id(1, Command::GetUser { username: "bob".into() }),
        ClientFrame::with_id(
            2,
            Command::UpdateProfile {
                timezone: Some("Europe/Paris".into()),
                languages: Some(vec!["Go".into(), "Rust".into()]),
            },
        ),
        ClientFrame::new(Command::UpdateProfile { timezone: None, languages: None }),
        ClientFrame::new(Command::ListLanguages { after: None, limit: None }),
        ClientFrame::new(Command::AddLanguage { name: "Zig".into() }),
        ClientFrame::new(Command::ListContacts {}),
        ClientFrame::new(Command::AddContact { username: "bob".into() }),
        ClientFrame::new(Command::RemoveContact { username: "bob".into() }),
        ClientFrame::with_id(3, Command::CreateBotToken { name: "matchmaker".into() }),
        ClientFrame::new(Command::ListBotTokens {}),
        ClientFrame::with_id(4, Command::RevokeBotToken { token_id: 5 }),
        ClientFrame::with_id(
            5,
            Command::AddParticipants {
                chat_id: Some(ChatId(7)),
                usernames: vec!["carol".into()],
                client_id: None,
            },
        ),
        ClientFrame::with_id(
            6,
            Command::CreateChat {
                participants: vec!["bob".into(), "carol".into()],
                name: Some("Crabs".into()),
                topic: Some("all things Rust".into()),
                client_id: None,
            },
        ),
        ClientFrame::with_id(7, Command::GetChat { chat_id: Some(ChatId(7)) }),
        ClientFrame::with_id(
            8,
            Command::RemoveParticipant {
                chat_id: Some(ChatId(7)),
                username: "carol".into(),
                client_id: None,
            },
        ),
        ClientFrame::with_id(9, Command::LeaveChat { chat_id: Some(ChatId(7)), client_id: None }),
        ClientFrame::with_id(
            10,
            Command::SetRole {
                chat_id: Some(ChatId(7)),
                username: "bob".into(),
                role: hellocode_core::model::Role::Admin,
                client_id: None,
            },
        ),
        ClientFrame::with_id(
            11,
            Command::UpdateChat {
                chat_id: Some(ChatId(7)),
                name: Some("Ferris fans".into()),
                topic: None,
                client_id: None,
            },
        ),
        ClientFrame::with_id(12, Command::DeleteChat { chat_id: Some(ChatId(7)) }),
    ];
    insta::assert_json_snapshot!(frames);
}

#[test]
fn account_replies_encode_stably() {
    let user = User {
        id: 3,
        username: "alice".into(),
        timezone: String::new(),
        languages: Vec::new(),
        avatar: None,
    };
    let token = BotToken {
        id: 5,
        username: "alice".into(),
        name: "matchmaker".into(),
        created_at: Timestamp::from_unix_millis(0),
        revoked: true,
    };
    let frames = vec![
        ServerFrame::User { id: Some(1.into()), user },
        ServerFrame::Languages {
            id: None,
            languages: vec![Language { id: 1, name: "Rust".into() }],
        },
        ServerFrame::Language {
            id: Some(2.into()),
            language: Language { id: 2, name: "Go".into() },
        },
        ServerFrame::Contacts { id: Some(3.into()), contacts: vec!["bob".into(), "carol".into()] },
        ServerFrame::BotToken {
            id: Some(4.into()),
            token_id: 5,
            name: "matchmaker".into(),
            token: "t".into(),
        },
        ServerFrame::BotTokens { id: Some(5.into()), tokens: vec![token] },
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

#[test]
fn invitation_commands_and_replies_encode_as_documented() {
    let chat = Some(ChatId(9));
    let commands = vec![
        ClientFrame::with_id(1, Command::Invite { chat_id: chat, username: "dave".into() }),
        ClientFrame::new(Command::ListInvitations { after: Some(12), limit: None }),
        ClientFrame::with_id(2, Command::AcceptInvitation { invitation_id: 12 }),
        ClientFrame::with_id(3, Command::DeclineInvitation { invitation_id: 12 }),
        ClientFrame::with_id(4, Command::CancelInvitation { invitation_id: 12 }),
        ClientFrame::with_id(
            5,
            Command::CreateInviteLink { chat_id: chat, expires_in: Some(3600), max_uses: None },
        ),
        ClientFrame::new(Command::ListInviteLinks { chat_id: chat, after: None, limit: Some(5) }),
        ClientFrame::with_id(6, Command::RevokeInviteLink { chat_id: chat, link_id: 3 }),
        ClientFrame::with_id(7, Command::JoinByLink { token: "t".into() }),
    ];
    let stamp = Timestamp::from_unix_millis(0);
    let invitation = Invitation {
        id: 12,
        chat_id: ChatId(9),
        kind: ChatKind::Group,
        name: None,
        inviter: "alice".into(),
        invitee: "dave".into(),
        state: InvitationState::Declined,
        created_at: stamp,
    };
    let link = InviteLink {
        id: 3,
        chat_id: ChatId(9),
        created_by: "alice".into(),
        created_at: stamp,
        expires_at: stamp,
        max_uses: None,
        uses: 1,
        revoked: true,
    };
    let replies = vec![
        ServerFrame::Invitation { id: None, invitation: invitation.clone() },
        ServerFrame::Invitations { id: Some(1.into()), invitations: vec![invitation] },
        ServerFrame::InviteLink { id: Some(2.into()), link: link.clone(), token: "t".into() },
        ServerFrame::InviteLinks { id: Some(3.into()), chat_id: ChatId(9), links: vec![link] },
    ];
    insta::assert_json_snapshot!((commands, replies));
}
