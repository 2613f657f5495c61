//! A stateful target: four users' sessions driven through random command sequences against a
//! `MemoryStorage`, the way every transport drives them (decode, `Session::handle`, `execute`,
//! `Session::complete`). After each step a model of the chats checks the invariants of the
//! design's principles 4 and 6:
//!
//! - each chat's sequence numbers are gap-free and increasing (appends get `last + 1`, pages and
//!   resumes are contiguous runs that match what was stored);
//! - only participants read or post: a non-participant never gets a result, and its refusal is
//!   `forbidden`;
//! - a client id reused by the same author in the same chat returns the same message;
//! - a reply carries the request id of its command; a command with an id always gets a reply.
//!
//! Commands are built as JSON text and decoded, so fields added to the frames by later changes do
//! not break the target.

#![no_main]

use std::collections::{BTreeMap, BTreeSet, HashMap};

use arbitrary::Arbitrary;
use hellocode_core::model::{ChatId, Message, NewUser, Timestamp};
use hellocode_core::protocol::{ErrorCode, Limits, RequestId, ServerFrame, decode};
use hellocode_core::session::{Decision, Identity, Output, Scope, Session, execute};
use hellocode_core::storage::{MemoryStorage, Storage};
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

const USERS: [&str; 4] = ["alice", "bob", "carol", "dave"];
const MAX_STEPS: usize = 64;

#[derive(Debug, Arbitrary)]
struct Step {
    /// Which session acts (see [`World::new`]).
    session: u8,
    id: Option<Id>,
    command: Cmd,
}

#[derive(Debug, Arbitrary)]
enum Id {
    Number(i64),
    Text(String),
}

/// A chat: mostly one that exists (by index in creation order), sometimes any id.
#[derive(Debug, Clone, Copy, Arbitrary)]
enum ChatRef {
    Known(u8),
    Raw(i64),
    Omitted,
}

/// A position: mostly near the end of the chat named beside it, sometimes any number.
#[derive(Debug, Clone, Copy, Arbitrary)]
enum SeqRef {
    Recent(u8),
    Raw(i64),
}

#[derive(Debug, Arbitrary)]
enum Text {
    Hello,
    Blank,
    Nul,
    Long(u16),
    Any(String),
}

#[derive(Debug, Arbitrary)]
enum Cmd {
    Send {
        chat: ChatRef,
        text: Text,
        client_id: Option<u8>,
        from: Option<u8>,
    },
    Fetch {
        chat: ChatRef,
        limit: Option<u32>,
        before: Option<SeqRef>,
    },
    Resume {
        chat: ChatRef,
        since: SeqRef,
        limit: Option<u32>,
    },
    Edit {
        chat: ChatRef,
        seq: SeqRef,
        text: Text,
    },
    Delete {
        chat: ChatRef,
        seq: SeqRef,
    },
    Read {
        chat: ChatRef,
        seq: SeqRef,
    },
    Typing {
        chat: ChatRef,
    },
    CreateChat {
        with: Vec<u8>,
    },
    AddParticipants {
        chat: ChatRef,
        users: Vec<u8>,
    },
    ListChats,
    Ping,
    GetUser {
        user: u8,
    },
    AddContact {
        user: u8,
    },
    ListContacts,
    AddLanguage {
        name: Text,
    },
    FindUsers {
        language: Text,
        after: Option<u8>,
        limit: Option<u16>,
    },
    UpdateProfile {
        timezone: Option<Text>,
        languages: Option<Vec<Text>>,
    },
    /// Any text at all as a frame.
    Raw(String),
}

/// What the target believes a chat holds.
#[derive(Debug, Default)]
struct ChatModel {
    participants: BTreeSet<String>,
    /// Index `seq - 1`.
    messages: Vec<Message>,
    /// `(author, client id)` → seq.
    client_ids: HashMap<(String, String), i64>,
}

struct World {
    storage: MemoryStorage,
    /// `(user, session)`; alice has a second session bound to the first chat.
    sessions: Vec<(String, Session)>,
    chats: BTreeMap<ChatId, ChatModel>,
    /// Chat ids in creation order, for [`ChatRef::Known`].
    order: Vec<ChatId>,
    limits: Limits,
}

fuzz_target!(|steps: Vec<Step>| {
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    runtime.block_on(async {
        let mut world = World::new().await;
        for step in steps.iter().take(MAX_STEPS) {
            world.step(step).await;
        }
    });
});

fn text(text: &Text) -> String {
    match text {
        Text::Hello => "hello".to_owned(),
        Text::Blank => " \t\n".to_owned(),
        Text::Nul => "a\u{0}b".to_owned(),
        Text::Long(n) => "x".repeat(usize::from(*n) % 10_000),
        Text::Any(text) => text.clone(),
    }
}

fn user(index: u8) -> &'static str {
    USERS[usize::from(index) % USERS.len()]
}

impl World {
    async fn new() -> World {
        let storage = MemoryStorage::new();
        for name in USERS {
            storage
                .create_user(NewUser::new(name, format!("{name}@example.org"), "<hash>"))
                .await
                .expect("create user");
        }
        storage.add_language("Rust").await.expect("add language");
        let mut world = World {
            storage,
            sessions: Vec::new(),
            chats: BTreeMap::new(),
            order: Vec::new(),
            limits: Limits::default(),
        };
        let first = world.seed_chat(&["alice", "bob"]).await;
        world.seed_chat(&["bob", "carol"]).await;
        for name in USERS {
            world.sessions.push((name.to_owned(), world.session(name, Scope::AllChats)));
        }
        world.sessions.push(("alice".to_owned(), world.session("alice", Scope::Chat(first))));
        world
    }

    fn session(&self, name: &str, scope: Scope) -> Session {
        let mut session = Session::new(scope, self.limits);
        session.authenticate(Identity::new(name));
        session
    }

    async fn seed_chat(&mut self, names: &[&str]) -> ChatId {
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let chat = self.storage.create_chat(&names, Timestamp::now()).await.expect("create chat");
        self.add_chat(chat.id, names.into_iter().collect());
        chat.id
    }

    fn add_chat(&mut self, id: ChatId, participants: BTreeSet<String>) {
        assert!(!self.chats.contains_key(&id), "chat id {id} given twice");
        self.chats.insert(id, ChatModel { participants, ..ChatModel::default() });
        self.order.push(id);
    }

    fn chat_id(&self, chat: ChatRef) -> Option<Value> {
        match chat {
            ChatRef::Known(i) if !self.order.is_empty() => {
                Some(json!(self.order[usize::from(i) % self.order.len()].0))
            }
            ChatRef::Known(_) | ChatRef::Omitted => None,
            ChatRef::Raw(id) => Some(json!(id)),
        }
    }

    /// The frame a step sends, as JSON text.
    fn frame(&self, actor: &str, step: &Step) -> String {
        let mut frame = match &step.command {
            Cmd::Send { chat, text: t, client_id, from } => {
                let mut f = json!({"command": "new_message", "message": text(t)});
                if let Some(c) = client_id {
                    f["clientId"] = json!(format!("c{}", c % 8));
                }
                if let Some(from) = from {
                    // Mostly the actor itself, sometimes someone else.
                    f["from"] = json!(if from % 4 == 0 { user(*from / 4) } else { actor });
                }
                self.with_chat(f, *chat)
            }
            Cmd::Fetch { chat, limit, before } => {
                let mut f = json!({"command": "fetch_messages"});
                if let Some(limit) = limit {
                    f["limit"] = json!(limit);
                }
                if let Some(before) = before {
                    f["before"] = json!(self.seq(*chat, *before));
                }
                self.with_chat(f, *chat)
            }
            Cmd::Resume { chat, since, limit } => {
                let mut f = json!({"command": "resume", "since": self.seq(*chat, *since)});
                if let Some(limit) = limit {
                    f["limit"] = json!(limit);
                }
                self.with_chat(f, *chat)
            }
            Cmd::Edit { chat, seq, text: t } => self.with_chat(
                json!({"command": "edit_message", "seq": self.seq(*chat, *seq), "message": text(t)}),
                *chat,
            ),
            Cmd::Delete { chat, seq } => {
                self.with_chat(json!({"command": "delete_message", "seq": self.seq(*chat, *seq)}), *chat)
            }
            Cmd::Read { chat, seq } => {
                self.with_chat(json!({"command": "read", "seq": self.seq(*chat, *seq)}), *chat)
            }
            Cmd::Typing { chat } => self.with_chat(json!({"command": "typing"}), *chat),
            Cmd::CreateChat { with } => {
                let names: Vec<&str> = with.iter().take(6).map(|u| user(*u)).collect();
                json!({"command": "create_chat", "participants": names})
            }
            Cmd::AddParticipants { chat, users } => {
                let names: Vec<&str> = users.iter().take(6).map(|u| user(*u)).collect();
                self.with_chat(json!({"command": "add_participants", "usernames": names}), *chat)
            }
            Cmd::ListChats => json!({"command": "list_chats"}),
            Cmd::Ping => json!({"command": "ping"}),
            Cmd::GetUser { user: u } => json!({"command": "get_user", "username": user(*u)}),
            Cmd::AddContact { user: u } => json!({"command": "add_contact", "username": user(*u)}),
            Cmd::ListContacts => json!({"command": "list_contacts"}),
            Cmd::AddLanguage { name } => json!({"command": "add_language", "name": text(name)}),
            Cmd::FindUsers { language, after, limit } => {
                let mut f = json!({"command": "find_users", "language": text(language)});
                if let Some(u) = after {
                    f["after"] = json!(user(*u));
                }
                if let Some(n) = limit {
                    f["limit"] = json!(n);
                }
                f
            }
            Cmd::UpdateProfile { timezone, languages } => {
                let mut f = json!({"command": "update_profile"});
                if let Some(t) = timezone {
                    f["timezone"] = json!(text(t));
                }
                if let Some(names) = languages {
                    f["languages"] = json!(names.iter().take(4).map(text).collect::<Vec<_>>());
                }
                f
            }
            Cmd::Raw(raw) => return raw.clone(),
        };
        if let Some(id) = &step.id {
            frame["id"] = match id {
                Id::Number(n) => json!(n),
                Id::Text(t) => json!(t),
            };
        }
        frame.to_string()
    }

    fn seq(&self, chat: ChatRef, seq: SeqRef) -> i64 {
        match seq {
            SeqRef::Recent(back) => {
                let last = match chat {
                    ChatRef::Known(i) if !self.order.is_empty() => {
                        let id = self.order[usize::from(i) % self.order.len()];
                        self.chats[&id].messages.len() as i64
                    }
                    _ => 0,
                };
                (last + 1 - i64::from(back % 4)).max(0)
            }
            SeqRef::Raw(seq) => seq,
        }
    }

    fn with_chat(&self, mut frame: Value, chat: ChatRef) -> Value {
        if let Some(id) = self.chat_id(chat) {
            frame["chatId"] = id;
        }
        frame
    }

    async fn step(&mut self, step: &Step) {
        let index = usize::from(step.session) % self.sessions.len();
        let actor = self.sessions[index].0.clone();
        let text = self.frame(&actor, step);
        let frame = match decode(&text, &self.limits) {
            Ok(frame) => frame,
            Err(err) => {
                assert_ne!(err.code(), ErrorCode::Internal);
                return;
            }
        };
        let id = frame.id.clone();
        let command = frame.command.name();
        // The chat the command names, resolved as the session does (a bound session's own).
        let chat = frame_chat(&text).or(match self.sessions[index].1.scope() {
            Scope::Chat(bound) => Some(bound),
            Scope::AllChats => None,
        });
        let session = &mut self.sessions[index].1;
        let output = match session.handle(frame, Timestamp::now()) {
            Decision::Reply(output) => output,
            Decision::Store(pending) => {
                assert_eq!(pending.op().actor().unwrap_or(&actor), actor, "acts as someone else");
                let result = execute(&self.storage, pending.op()).await;
                session.complete(pending, result)
            }
            Decision::IssueBotToken(request) => {
                assert_eq!(request.owner, actor);
                session.bot_token_issued(request, 1, "<token>".to_owned())
            }
            Decision::IssueInviteLink(request) => {
                assert_eq!(request.by, actor);
                let pending = session.invite_link_token(request, "<token>".to_owned());
                let result = execute(&self.storage, pending.op()).await;
                session.complete(pending, result)
            }
            Decision::Authenticate(_) => panic!("an authenticated session asks to authenticate"),
        };
        check_reply_id(&output, id.as_ref(), command);
        self.check(&actor, command, chat, &text, &output);
    }

    /// Check the outcome of one command against the model, then update the model.
    fn check(
        &mut self,
        actor: &str,
        command: &str,
        chat: Option<ChatId>,
        text: &str,
        out: &Output,
    ) {
        let error = match &out.reply {
            Some(ServerFrame::Error { code, message, .. }) => Some((*code, message.as_str())),
            _ => None,
        };
        if let Some((code, message)) = error {
            assert_ne!(code, ErrorCode::Internal, "{command}: internal error: {message}");
            assert!(out.publish.is_empty(), "{command}: refused but published {:?}", out.publish);
        }
        // Only participants: a command on an existing chat by a non-participant is refused.
        let member = chat.and_then(|c| self.chats.get(&c)).map(|m| m.participants.contains(actor));
        if member == Some(false) && CHAT_COMMANDS.contains(&command) {
            match error {
                Some((code, _)) => assert!(
                    matches!(
                        code,
                        ErrorCode::Forbidden
                            | ErrorCode::InvalidField
                            | ErrorCode::MissingField
                            | ErrorCode::WrongChat
                            | ErrorCode::Impersonation
                    ),
                    "{command} by non-participant {actor}: {code:?}"
                ),
                None => panic!("{command} by non-participant {actor} in {chat:?} was accepted"),
            }
            return;
        }
        if member == Some(true)
            && let Some((ErrorCode::Forbidden, message)) = error
        {
            // A participant is refused only another author's message.
            let seq = json_field(text, "seq").and_then(|s| json_int(&s)).unwrap_or(0);
            let author = chat
                .and_then(|c| self.chats[&c].messages.get(usize::try_from(seq - 1).ok()?))
                .map(|m| m.author.as_str());
            assert!(
                matches!(command, "edit_message" | "delete_message")
                    && author.is_some_and(|a| a != actor),
                "{command} by participant {actor}: {message}"
            );
        }
        let from = json_field(text, "from");
        if command == "new_message"
            && let Some(Value::String(from)) = from
            && from != actor
        {
            // Refused: as an impersonation, or earlier, for a field the text rules refuse.
            assert!(
                matches!(error, Some((ErrorCode::Impersonation | ErrorCode::InvalidField, _))),
                "{actor} posted as {from}: {error:?}"
            );
        }
        if error.is_some() {
            return;
        }
        match (command, &out.reply) {
            ("new_message", reply) => self.check_append(actor, text, reply.as_ref(), out),
            ("fetch_messages", Some(ServerFrame::Messages { chat_id, messages, .. })) => {
                self.check_fetch(*chat_id, text, messages)
            }
            ("resume", Some(ServerFrame::Resumed { chat_id, messages, more, .. })) => {
                self.check_resume(*chat_id, text, messages, *more)
            }
            ("edit_message", _) | ("delete_message", _) => self.check_change(actor, out),
            ("create_chat", Some(ServerFrame::Chat { chat, .. })) => {
                let mut expected: BTreeSet<String> =
                    json_names(text, "participants").into_iter().collect();
                expected.insert(actor.to_owned());
                let got: BTreeSet<String> =
                    chat.participants.iter().map(|p| p.username.clone()).collect();
                assert_eq!(got, expected, "create_chat stored other participants");
                assert_eq!(chat.last_seq.0, 0);
                self.add_chat(chat.id, got);
            }
            ("add_participants", Some(ServerFrame::Chat { chat, .. })) => {
                let model = self.chats.get_mut(&chat.id).expect("a chat the model knows");
                model.participants.extend(json_names(text, "usernames"));
                let got: BTreeSet<String> =
                    chat.participants.iter().map(|p| p.username.clone()).collect();
                assert_eq!(got, model.participants, "add_participants lost or invented someone");
                assert_eq!(chat.last_seq.0, model.messages.len() as i64);
            }
            ("list_chats", Some(ServerFrame::Chats { chats, .. })) => {
                let expected: Vec<ChatId> = self
                    .chats
                    .iter()
                    .filter(|(_, m)| m.participants.contains(actor))
                    .map(|(id, _)| *id)
                    .collect();
                let got: Vec<ChatId> = chats.iter().map(|c| c.id).collect();
                assert_eq!(got, expected, "list_chats of {actor}");
                for c in chats {
                    assert_eq!(c.last_seq.0, self.chats[&c.id].messages.len() as i64);
                }
            }
            ("read", _) => {
                if let Some(ServerFrame::Read { seq, .. }) = out.publish.first().map(|p| &p.frame) {
                    let model = &self.chats[&chat.expect("read names a chat")];
                    assert!(seq.0 <= model.messages.len() as i64, "read beyond the end");
                }
            }
            _ => {}
        }
    }

    fn check_append(&mut self, actor: &str, text: &str, reply: Option<&ServerFrame>, out: &Output) {
        let published = out.publish.iter().find_map(|p| match &p.frame {
            ServerFrame::NewMessage { message } => Some(message),
            _ => None,
        });
        let acked = match reply {
            Some(ServerFrame::Ack { message, .. }) => Some(message),
            _ => None,
        };
        let Some(message) = published.or(acked) else {
            // No id and a repeated client id: nothing is sent, nothing is published.
            return;
        };
        assert_eq!(message.author, actor, "a message is stored under another author");
        let model = self.chats.get_mut(&message.chat_id).expect("a chat the model knows");
        let client_id = json_field(text, "clientId").and_then(|v| v.as_str().map(str::to_owned));
        let earlier = client_id
            .as_ref()
            .and_then(|c| model.client_ids.get(&(actor.to_owned(), c.clone())).copied());
        match earlier {
            Some(seq) => {
                assert!(published.is_none(), "a retried send was published again");
                assert_eq!(message.seq.0, seq, "a reused client id returned another message");
                assert_same(message, &model.messages[seq as usize - 1]);
            }
            None => {
                assert!(published.is_some(), "a new message was not published");
                let next = model.messages.len() as i64 + 1;
                assert_eq!(message.seq.0, next, "sequence gap or repeat");
                if let Some(c) = client_id {
                    model.client_ids.insert((actor.to_owned(), c), next);
                }
                model.messages.push(message.clone());
            }
        }
        if let (Some(a), Some(p)) = (acked, published) {
            assert_eq!(a, p, "the ack and the event differ");
        }
    }

    fn check_fetch(&self, chat: ChatId, text: &str, messages: &[Message]) {
        let model = &self.chats[&chat];
        let last = model.messages.len() as i64;
        let frame: Value = serde_json::from_str(text).unwrap_or_default();
        let before = frame.get("before").and_then(json_int);
        let top = before.map_or(last, |b| (b - 1).clamp(0, last));
        let limit = i64::from(page(&frame, self.limits.default_page, self.limits.max_page));
        let expected = top.min(limit);
        assert_eq!(messages.len() as i64, expected, "fetch_messages page size");
        for (i, message) in messages.iter().enumerate() {
            assert_eq!(message.seq.0, top - i as i64, "fetch_messages is not contiguous");
            assert_same(message, &model.messages[message.seq.0 as usize - 1]);
        }
    }

    fn check_resume(&self, chat: ChatId, text: &str, messages: &[Message], more: bool) {
        let model = &self.chats[&chat];
        let last = model.messages.len() as i64;
        let frame: Value = serde_json::from_str(text).unwrap_or_default();
        let since = frame.get("since").and_then(json_int).unwrap_or(0).min(last);
        let limit = i64::from(page(&frame, self.limits.max_page, self.limits.max_page));
        assert_eq!(messages.len() as i64, (last - since).min(limit), "resume page size");
        assert_eq!(more, last - since > limit, "resume's more flag");
        for (i, message) in messages.iter().enumerate() {
            assert_eq!(message.seq.0, since + 1 + i as i64, "resume is not contiguous");
            assert_same(message, &model.messages[message.seq.0 as usize - 1]);
        }
    }

    /// An edit or a deletion: only the author's own message, and the model follows it.
    fn check_change(&mut self, actor: &str, out: &Output) {
        for publish in &out.publish {
            let (chat, seq, content, deleted) = match &publish.frame {
                ServerFrame::MessageEdited { message } => {
                    (message.chat_id, message.seq, message.content.clone(), false)
                }
                ServerFrame::MessageDeleted { chat_id, seq } => {
                    (*chat_id, *seq, String::new(), true)
                }
                other => panic!("unexpected event {other:?}"),
            };
            let model = self.chats.get_mut(&chat).expect("a chat the model knows");
            let stored = model
                .messages
                .get_mut(usize::try_from(seq.0 - 1).expect("seq >= 1"))
                .expect("a changed message exists");
            assert_eq!(stored.author, actor, "someone changed another's message");
            assert!(!(stored.deleted && !deleted), "a deleted message was edited");
            stored.content = content;
            stored.deleted = deleted;
        }
    }
}

/// Commands that act in one chat and so require its participation.
const CHAT_COMMANDS: &[&str] = &[
    "fetch_messages",
    "new_message",
    "resume",
    "typing",
    "read",
    "edit_message",
    "delete_message",
    "add_participants",
];

/// Equal but for the edit time (a deletion's event does not carry it).
fn assert_same(got: &Message, model: &Message) {
    let strip = |m: &Message| Message { edited_at: None, ..m.clone() };
    assert_eq!(strip(got), strip(model), "storage and model disagree");
}

fn json_field(text: &str, field: &str) -> Option<Value> {
    let value: Value = serde_json::from_str(text).ok()?;
    value.get(field).cloned()
}

/// An integer as the protocol reads one: a JSON number or a decimal string.
fn json_int(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn frame_chat(text: &str) -> Option<ChatId> {
    json_field(text, "chatId").and_then(|v| json_int(&v)).map(ChatId)
}

fn json_names(text: &str, field: &str) -> Vec<String> {
    let value: Value = serde_json::from_str(text).unwrap_or_default();
    value[field]
        .as_array()
        .map(|names| names.iter().filter_map(|n| n.as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

fn page(frame: &Value, default: u32, max: u32) -> u32 {
    match frame.get("limit").and_then(Value::as_u64) {
        Some(n) => u32::try_from(n).unwrap_or(u32::MAX).min(max),
        None => default.min(max),
    }
}

/// A reply answers its command: same id; a command with an id always gets one.
fn check_reply_id(output: &Output, id: Option<&RequestId>, command: &str) {
    match &output.reply {
        Some(reply) => assert_eq!(reply.request_id(), id, "{command}: reply with another id"),
        None => assert!(id.is_none(), "{command} with id {id:?} got no reply"),
    }
    for publish in &output.publish {
        assert!(publish.frame.request_id().is_none(), "an event carries a request id");
    }
}
