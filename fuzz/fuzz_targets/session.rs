//! A stateful target: four users' sessions (one of them speaking protocol 2, one bound to a
//! chat) driven through random command sequences against a `MemoryStorage`, the way every
//! transport drives them (decode, `Session::handle`, `execute`, `Session::complete`). The world
//! starts with direct chats and groups; a model of every chat (kind, members and roles, name and
//! topic, items, idempotency keys, read positions), of the invitations and of the invite links
//! predicts the outcome of each command that reaches storage — the refusal's code, or the
//! reply, the events and what is published — and checks the design's principles 4 and 6:
//!
//! - each chat's items, posts and events (edit, delete, join, leave, remove, role, rename,
//!   topic), are numbered 1, 2, 3, … with no gap: an append or a change gets `last + 1`, …;
//! - `fetch_messages` pages are the posts below `before`, newest first, as the model holds them
//!   (edited, emptied once deleted); `resume` pages are the items (protocol 2) or the posts
//!   (protocol 1) after `since`, in order, and `more` is right;
//! - only members read, post or change a chat: a non-member's refusal is `forbidden` (with
//!   nothing published), a removed or departed member is refused from then on; plain members
//!   are refused admin actions (`forbidden`); direct chats refuse membership changes
//!   (`invalid_field`);
//! - a `clientId` repeated with the same command applies once (no new item, nothing published,
//!   answered as things now are) and with another command is refused (`invalid_field`; an
//!   edit's or a deletion's key names its post too, and removing oneself is leaving, not
//!   removing someone); a key is taken by the command that recorded an item under it;
//! - `from` naming someone else is refused; a command refused before storage is refused for
//!   its fields only (never `forbidden`: the session knows no membership);
//! - a reply carries the request id of its command; a command with an id always gets a reply;
//!   events carry none; never `internal`.
//!
//! Commands are built as JSON text and decoded, so fields added to the frames by later changes
//! do not break the target. `HELLOCODE_FUZZ_TRACE=1` prints every frame and its outcome. The clock is the target's own (1 ms a step, and `Wait`), so that
//! invite links expire when the input says so.

#![no_main]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::OnceLock;

use arbitrary::Arbitrary;
use hellocode_core::model::{
    Chat, ChatChange, ChatId, ChatKind, EventKind, Invitation, InvitationState, InviteLink,
    Message, NewChat, NewMessage, NewUser, Participant, ReadPosition, Role, Seq, Timestamp,
    invite_token_hash,
};
use hellocode_core::protocol::{ErrorCode, Limits, RequestId, ServerFrame, decode};
use hellocode_core::session::{
    Decision, Identity, Output, Publish, Scope, Session, StorageOp, execute,
};
use hellocode_core::storage::{Items, MemoryStorage, Storage};
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

const USERS: [&str; 4] = ["alice", "bob", "carol", "dave"];
/// A name no account has.
const NOBODY: &str = "zed";
const MAX_STEPS: usize = 64;
/// The target's clock starts here (2023-11-14T22:13:20Z).
const START: i64 = 1_700_000_000_000;
/// How long an invite link lasts when `expiresIn` is left out: 7 days.
const DEFAULT_LINK_SECS: i64 = 7 * 24 * 3600;

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

/// A chat: mostly one that exists or existed (by index in creation order), sometimes any id.
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

/// An invitation or invite link: mostly one the model knows, sometimes any id.
#[derive(Debug, Clone, Copy, Arbitrary)]
enum IdRef {
    Known(u8),
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

/// An idempotency key: one of four (so that repeats are common), or an invalid one.
#[derive(Debug, Clone, Copy, Arbitrary)]
struct Key(u8);

/// A user: one of the four accounts, or a name with none.
#[derive(Debug, Clone, Copy, Arbitrary)]
struct Who(u8);

#[derive(Debug, Arbitrary)]
enum Cmd {
    Send {
        chat: ChatRef,
        text: Text,
        client_id: Option<Key>,
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
        client_id: Option<Key>,
    },
    Delete {
        chat: ChatRef,
        seq: SeqRef,
        client_id: Option<Key>,
    },
    Read {
        chat: ChatRef,
        seq: SeqRef,
    },
    Typing {
        chat: ChatRef,
    },
    GetChat {
        chat: ChatRef,
    },
    GetReadPositions {
        chat: ChatRef,
    },
    CreateChat {
        with: Vec<Who>,
        name: Option<Text>,
        topic: Option<Text>,
        client_id: Option<Key>,
    },
    AddParticipants {
        chat: ChatRef,
        users: Vec<Who>,
        client_id: Option<Key>,
    },
    RemoveParticipant {
        chat: ChatRef,
        user: Who,
        client_id: Option<Key>,
    },
    LeaveChat {
        chat: ChatRef,
        client_id: Option<Key>,
    },
    SetRole {
        chat: ChatRef,
        user: Who,
        role: u8,
        client_id: Option<Key>,
    },
    UpdateChat {
        chat: ChatRef,
        name: Option<Text>,
        topic: Option<Text>,
        client_id: Option<Key>,
    },
    DeleteChat {
        chat: ChatRef,
    },
    Invite {
        chat: ChatRef,
        user: Who,
    },
    ListInvitations,
    AcceptInvitation {
        invitation: IdRef,
    },
    DeclineInvitation {
        invitation: IdRef,
    },
    CancelInvitation {
        invitation: IdRef,
    },
    CreateInviteLink {
        chat: ChatRef,
        expires_in: Option<u32>,
        max_uses: Option<u8>,
    },
    ListInviteLinks {
        chat: ChatRef,
    },
    RevokeInviteLink {
        chat: ChatRef,
        link: IdRef,
    },
    JoinByLink {
        link: IdRef,
    },
    /// Let this many seconds pass (no command).
    Wait(u16),
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

/// The command an idempotency key was first used for in a chat: a repeat with the same one is
/// answered as it now is, with another one refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Keyed {
    /// `new_message`, and the post it made.
    Post(i64),
    /// `edit_message` of this post.
    Edit(i64),
    /// `delete_message` of this post.
    Delete(i64),
    Add,
    /// `remove_participant` of someone else.
    Remove,
    /// `leave_chat`, or `remove_participant` of oneself.
    Leave,
    SetRole,
    Update,
}

impl Keyed {
    fn same_command(self, other: Keyed) -> bool {
        match (self, other) {
            (Keyed::Post(_), Keyed::Post(_)) => true,
            (a, b) => a == b,
        }
    }
}

/// What the target believes a chat holds.
#[derive(Debug, Clone)]
struct ChatModel {
    id: ChatId,
    kind: ChatKind,
    name: Option<String>,
    topic: Option<String>,
    /// Members and roles (a direct chat's are `Member`), in the order they joined.
    members: Vec<(String, Role)>,
    created_at: Timestamp,
    /// Posts and events; index `seq - 1`.
    items: Vec<Message>,
    /// `(author, clientId)` → the command that recorded an item under it.
    keys: HashMap<(String, String), Keyed>,
    /// Read positions of members (removed with them).
    reads: HashMap<String, i64>,
}

impl ChatModel {
    fn role(&self, user: &str) -> Option<Role> {
        self.members.iter().find(|(name, _)| name == user).map(|(_, role)| *role)
    }

    fn last(&self) -> i64 {
        self.items.len() as i64
    }

    fn group(&self) -> bool {
        self.kind == ChatKind::Group
    }

    /// The chat as the server writes it.
    fn view(&self) -> Chat {
        let mut participants: Vec<Participant> = self
            .members
            .iter()
            .map(|(name, role)| Participant {
                username: name.clone(),
                role: self.group().then_some(*role),
            })
            .collect();
        participants.sort_by(|a, b| a.username.cmp(&b.username));
        Chat {
            id: self.id,
            kind: self.kind,
            name: self.name.clone(),
            topic: self.topic.clone(),
            participants,
            last_seq: Seq(self.last()),
            created_at: self.created_at,
        }
    }

    /// Every member's read position, by username (0 for who has read nothing).
    fn read_positions(&self) -> Vec<ReadPosition> {
        let mut positions: Vec<ReadPosition> = self
            .members
            .iter()
            .map(|(name, _)| ReadPosition {
                username: name.clone(),
                seq: Seq(self.reads.get(name).copied().unwrap_or_default()),
            })
            .collect();
        positions.sort_by(|a, b| a.username.cmp(&b.username));
        positions
    }

    /// The post at `seq`, if there is one (not an event).
    fn post(&self, seq: i64) -> Option<&Message> {
        let index = usize::try_from(seq.checked_sub(1)?).ok()?;
        self.items.get(index).filter(|item| item.is_post())
    }
}

/// An event the model expects, authored by the actor.
#[derive(Debug, Clone)]
struct Draft {
    kind: EventKind,
    content: String,
    target: Option<Seq>,
    member: Option<String>,
    role: Option<Role>,
}

impl Draft {
    fn membership(kind: EventKind, member: &str, role: Option<Role>) -> Self {
        let member = Some(member.to_owned());
        Draft { kind, content: String::new(), target: None, member, role }
    }

    fn text(kind: EventKind, content: &str, target: Option<Seq>) -> Self {
        Draft { kind, content: content.to_owned(), target, member: None, role: None }
    }
}

/// A change to a chat's members or description, as the model applies it.
#[derive(Debug, Clone)]
enum Effect {
    Add(String),
    Remove(String),
    SetRole(String, Role),
    SetName(Option<String>),
    SetTopic(Option<String>),
}

/// What the model expects of a membership or description change that is accepted.
#[derive(Debug)]
enum Change {
    /// A repeat under a key already stored: nothing changes.
    Replay,
    /// The last member leaves: the chat goes.
    DeleteChat,
    Apply {
        effects: Vec<Effect>,
        drafts: Vec<Draft>,
        gone: Vec<String>,
        added: Vec<String>,
    },
}

#[derive(Debug, Clone)]
struct InvitationModel {
    chat: ChatId,
    inviter: String,
    invitee: String,
    state: InvitationState,
    created_at: Timestamp,
}

#[derive(Debug, Clone)]
struct LinkModel {
    token: String,
    chat: ChatId,
    created_by: String,
    created_at: Timestamp,
    expires_at: Timestamp,
    max_uses: Option<u32>,
    uses: u32,
    revoked: bool,
}

impl LinkModel {
    fn view(&self, id: i64) -> InviteLink {
        InviteLink {
            id,
            chat_id: self.chat,
            created_by: self.created_by.clone(),
            created_at: self.created_at,
            expires_at: self.expires_at,
            max_uses: self.max_uses,
            uses: self.uses,
            revoked: self.revoked,
        }
    }
}

/// One command's context, for the checks.
struct Ctx<'a> {
    actor: &'a str,
    id: Option<RequestId>,
    /// The frame as sent.
    frame: Value,
    /// The chat the frame names, or the session's bound chat.
    chat: Option<ChatId>,
    protocol: u32,
    now: Timestamp,
    /// For messages: who did what.
    what: String,
}

impl Ctx<'_> {
    /// `ok` (or `ack`) only when the command had an id.
    fn ok(&self) -> Option<ServerFrame> {
        self.id.is_some().then(|| ServerFrame::Ok { id: self.id.clone() })
    }

    fn client_id(&self) -> Option<String> {
        let given = self.frame.get("clientId").or(self.frame.get("client_id"));
        given.and_then(Value::as_str).map(str::to_owned)
    }
}

struct World {
    storage: MemoryStorage,
    /// `(user, session)`: see [`World::new`].
    sessions: Vec<(String, Session)>,
    /// Chats that exist.
    chats: BTreeMap<ChatId, ChatModel>,
    /// Every chat id ever made, in creation order, for [`ChatRef::Known`].
    order: Vec<ChatId>,
    /// `(creator, clientId)` → the chat that creation made.
    chat_keys: HashMap<(String, String), ChatId>,
    invitations: BTreeMap<i64, InvitationModel>,
    links: BTreeMap<i64, LinkModel>,
    /// Every item id seen: unique across chats.
    item_ids: HashSet<i64>,
    /// Invite-link tokens drawn so far.
    tokens: u32,
    now: Timestamp,
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

fn who(who: Who) -> &'static str {
    match usize::from(who.0) % (USERS.len() + 1) {
        i if i < USERS.len() => USERS[i],
        _ => NOBODY,
    }
}

fn key(key: Key) -> String {
    match key.0 % 10 {
        8 => String::new(),
        9 => "k".repeat(129),
        n => format!("k{}", n % 4),
    }
}

fn role_name(role: u8) -> &'static str {
    ["owner", "admin", "member", "king"][usize::from(role) % 4]
}

fn pick<T: Copy>(items: impl ExactSizeIterator<Item = T>, index: u8) -> Option<T> {
    let mut items = items;
    let len = items.len();
    if len == 0 { None } else { items.nth(usize::from(index) % len) }
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
        let limits = Limits::default();
        let mut world = World {
            storage,
            sessions: Vec::new(),
            chats: BTreeMap::new(),
            order: Vec::new(),
            chat_keys: HashMap::new(),
            invitations: BTreeMap::new(),
            links: BTreeMap::new(),
            item_ids: HashSet::new(),
            tokens: 0,
            now: Timestamp::from_unix_millis(START),
            limits,
        };
        for name in USERS {
            world.sessions.push((name.to_owned(), world.session(name, Scope::AllChats)));
        }
        // The seeded chats, made through the sessions and checked like any command: two direct
        // chats, a group bob owns, and a group alice owns where carol is an admin.
        let seeds = [
            (0, json!({"command": "create_chat", "participants": ["bob"]})),
            (
                1,
                json!({"command": "create_chat", "participants": ["carol", "dave"], "name": "Crabs"}),
            ),
            (2, json!({"command": "create_chat", "participants": ["dave"]})),
            (
                0,
                json!({"command": "create_chat", "participants": ["bob", "carol"], "topic": "Rust"}),
            ),
        ];
        for (session, frame) in seeds {
            world.exec(session, &frame.to_string()).await;
        }
        assert_eq!(world.order.len(), 4, "a seeded chat was not created");
        let group = world.order[3].0;
        let admin =
            json!({"command": "set_role", "chatId": group, "username": "carol", "role": "admin"});
        world.exec(0, &admin.to_string()).await;
        // alice's connection to the first chat, and carol's speaking protocol 2.
        let first = world.order[0];
        world.sessions.push(("alice".to_owned(), world.session("alice", Scope::Chat(first))));
        let mut carol = world.session("carol", Scope::AllChats);
        carol.speak(2);
        world.sessions.push(("carol".to_owned(), carol));
        world
    }

    fn session(&self, name: &str, scope: Scope) -> Session {
        let mut session = Session::new(scope, self.limits);
        session.authenticate(Identity::new(name));
        session
    }

    fn known_chat(&self, chat: ChatRef) -> Option<ChatId> {
        match chat {
            ChatRef::Known(i) => pick(self.order.iter().copied(), i),
            _ => None,
        }
    }

    fn chat_id(&self, chat: ChatRef) -> Option<Value> {
        match chat {
            ChatRef::Known(_) => self.known_chat(chat).map(|id| json!(id.0)),
            ChatRef::Omitted => None,
            ChatRef::Raw(id) => Some(json!(id)),
        }
    }

    /// The frame a step sends, as JSON text.
    fn frame(&self, actor: &str, step: &Step) -> String {
        let with_key = |mut frame: Value, client_id: &Option<Key>| {
            if let Some(k) = client_id {
                frame["clientId"] = json!(key(*k));
            }
            frame
        };
        let mut frame = match &step.command {
            Cmd::Send { chat, text: t, client_id, from } => {
                let mut f = json!({"command": "new_message", "message": text(t)});
                if let Some(from) = from {
                    // Mostly the actor itself, sometimes someone else.
                    f["from"] = json!(if from % 4 == 0 { user(*from / 4) } else { actor });
                }
                self.with_chat(with_key(f, client_id), *chat)
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
            Cmd::Edit { chat, seq, text: t, client_id } => {
                let f = json!({"command": "edit_message", "seq": self.seq(*chat, *seq), "message": text(t)});
                self.with_chat(with_key(f, client_id), *chat)
            }
            Cmd::Delete { chat, seq, client_id } => {
                let f = json!({"command": "delete_message", "seq": self.seq(*chat, *seq)});
                self.with_chat(with_key(f, client_id), *chat)
            }
            Cmd::Read { chat, seq } => {
                self.with_chat(json!({"command": "read", "seq": self.seq(*chat, *seq)}), *chat)
            }
            Cmd::Typing { chat } => self.with_chat(json!({"command": "typing"}), *chat),
            Cmd::GetChat { chat } => self.with_chat(json!({"command": "get_chat"}), *chat),
            Cmd::GetReadPositions { chat } => {
                self.with_chat(json!({"command": "get_read_positions"}), *chat)
            }
            Cmd::CreateChat { with, name, topic, client_id } => {
                let names: Vec<&str> = with.iter().take(6).map(|u| who(*u)).collect();
                let mut f = json!({"command": "create_chat", "participants": names});
                if let Some(name) = name {
                    f["name"] = json!(text(name));
                }
                if let Some(topic) = topic {
                    f["topic"] = json!(text(topic));
                }
                with_key(f, client_id)
            }
            Cmd::AddParticipants { chat, users, client_id } => {
                let names: Vec<&str> = users.iter().take(6).map(|u| who(*u)).collect();
                let f = json!({"command": "add_participants", "usernames": names});
                self.with_chat(with_key(f, client_id), *chat)
            }
            Cmd::RemoveParticipant { chat, user: u, client_id } => {
                let f = json!({"command": "remove_participant", "username": who(*u)});
                self.with_chat(with_key(f, client_id), *chat)
            }
            Cmd::LeaveChat { chat, client_id } => {
                self.with_chat(with_key(json!({"command": "leave_chat"}), client_id), *chat)
            }
            Cmd::SetRole { chat, user: u, role, client_id } => {
                let f =
                    json!({"command": "set_role", "username": who(*u), "role": role_name(*role)});
                self.with_chat(with_key(f, client_id), *chat)
            }
            Cmd::UpdateChat { chat, name, topic, client_id } => {
                let mut f = json!({"command": "update_chat"});
                if let Some(name) = name {
                    f["name"] = json!(text(name));
                }
                if let Some(topic) = topic {
                    f["topic"] = json!(text(topic));
                }
                self.with_chat(with_key(f, client_id), *chat)
            }
            Cmd::DeleteChat { chat } => self.with_chat(json!({"command": "delete_chat"}), *chat),
            Cmd::Invite { chat, user: u } => {
                self.with_chat(json!({"command": "invite", "username": who(*u)}), *chat)
            }
            Cmd::ListInvitations => json!({"command": "list_invitations"}),
            Cmd::AcceptInvitation { invitation } => {
                json!({"command": "accept_invitation", "invitationId": self.invitation(*invitation)})
            }
            Cmd::DeclineInvitation { invitation } => {
                json!({"command": "decline_invitation", "invitationId": self.invitation(*invitation)})
            }
            Cmd::CancelInvitation { invitation } => {
                json!({"command": "cancel_invitation", "invitationId": self.invitation(*invitation)})
            }
            Cmd::CreateInviteLink { chat, expires_in, max_uses } => {
                let mut f = json!({"command": "create_invite_link"});
                if let Some(seconds) = expires_in {
                    f["expiresIn"] = json!(seconds);
                }
                if let Some(uses) = max_uses {
                    f["maxUses"] = json!(uses % 4);
                }
                self.with_chat(f, *chat)
            }
            Cmd::ListInviteLinks { chat } => {
                self.with_chat(json!({"command": "list_invite_links"}), *chat)
            }
            Cmd::RevokeInviteLink { chat, link } => {
                let id = match link {
                    IdRef::Known(i) => pick(self.links.keys().copied(), *i).unwrap_or(1),
                    IdRef::Raw(id) => *id,
                };
                self.with_chat(json!({"command": "revoke_invite_link", "linkId": id}), *chat)
            }
            Cmd::JoinByLink { link } => {
                let token = match link {
                    IdRef::Known(i) => pick(self.links.values(), *i)
                        .map_or_else(|| "fuzz-link-0".to_owned(), |link| link.token.clone()),
                    IdRef::Raw(n) => format!("fuzz-link-{n}"),
                };
                json!({"command": "join_by_link", "token": token})
            }
            Cmd::Wait(_) => unreachable!("a wait sends nothing"),
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

    fn invitation(&self, invitation: IdRef) -> i64 {
        match invitation {
            IdRef::Known(i) => pick(self.invitations.keys().copied(), i).unwrap_or(1),
            IdRef::Raw(id) => id,
        }
    }

    fn seq(&self, chat: ChatRef, seq: SeqRef) -> i64 {
        match seq {
            SeqRef::Recent(back) => {
                let last = self
                    .known_chat(chat)
                    .and_then(|id| self.chats.get(&id))
                    .map_or(0, ChatModel::last);
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
        if let Cmd::Wait(seconds) = step.command {
            self.now =
                Timestamp::from_unix_millis(self.now.unix_millis() + i64::from(seconds) * 1000);
            return;
        }
        let index = usize::from(step.session) % self.sessions.len();
        let actor = self.sessions[index].0.clone();
        let text = self.frame(&actor, step);
        self.exec(index, &text).await;
    }

    /// Send one frame on session `index`, the way a transport does, and check the outcome.
    async fn exec(&mut self, index: usize, text: &str) {
        self.now = Timestamp::from_unix_millis(self.now.unix_millis() + 1);
        let now = self.now;
        let actor = self.sessions[index].0.clone();
        let frame = match decode(text, &self.limits) {
            Ok(frame) => frame,
            Err(err) => {
                assert_ne!(err.code(), ErrorCode::Internal);
                return;
            }
        };
        let id = frame.id.clone();
        let command = frame.command.name();
        let value: Value = serde_json::from_str(text).unwrap_or_default();
        let session = &mut self.sessions[index].1;
        let protocol = session.protocol();
        // The chat the command names, resolved as the session does (a bound session's own).
        let chat = value.get("chatId").and_then(json_int).map(ChatId).or(match session.scope() {
            Scope::Chat(bound) => Some(bound),
            Scope::AllChats => None,
        });
        let mut token = None;
        let (output, op) = match session.handle(frame, now) {
            Decision::Reply(output) => (output, None),
            Decision::Store(pending) => {
                let op = pending.op().clone();
                let result = execute(&self.storage, &op).await;
                (session.complete(pending, result), Some(op))
            }
            Decision::IssueBotToken(request) => {
                assert_eq!(request.owner, actor);
                (session.bot_token_issued(request, 1, "<token>".to_owned()), None)
            }
            Decision::IssueInviteLink(request) => {
                assert_eq!(request.by, actor);
                assert_eq!(request.at, now);
                self.tokens += 1;
                let drawn = format!("fuzz-link-{}", self.tokens);
                token = Some(drawn.clone());
                let pending = session.invite_link_token(request, drawn);
                let op = pending.op().clone();
                let result = execute(&self.storage, &op).await;
                (session.complete(pending, result), Some(op))
            }
            Decision::Authenticate(_) => panic!("an authenticated session asks to authenticate"),
        };
        if trace() {
            eprintln!(
                "{actor}@{index} > {text}\n    < {:?}\n    publish {:?}",
                output.reply, output.publish
            );
        }
        check_reply_id(&output, id.as_ref(), command);
        let shown: String = text.chars().take(300).collect();
        let what = format!("{command} by {actor} ({shown})");
        if let Some(ServerFrame::Error { code, message, .. }) = &output.reply {
            assert_ne!(*code, ErrorCode::Internal, "{what}: internal error: {message}");
            assert!(
                output.publish.is_empty(),
                "{what}: refused but published {:?}",
                output.publish
            );
        }
        if command == "new_message"
            && let Some(Value::String(from)) = value.get("from")
            && *from != actor
        {
            // Refused: as an impersonation, or earlier, for a field the text rules refuse.
            assert!(
                matches!(
                    output.reply,
                    Some(ServerFrame::Error {
                        code: ErrorCode::Impersonation | ErrorCode::InvalidField,
                        ..
                    })
                ),
                "{what}: posted as {from}: {:?}",
                output.reply
            );
        }
        let cx = Ctx { actor: &actor, id, frame: value, chat, protocol, now, what };
        match op {
            None => check_session_reply(&cx, &output),
            Some(op) => {
                assert_eq!(op.actor(), Some(actor.as_str()), "{}: acts as someone else", cx.what);
                self.check(&cx, &op, token, &output);
            }
        }
    }

    /// The outcome of one operation against the model; the model follows it.
    fn check(&mut self, cx: &Ctx<'_>, op: &StorageOp, token: Option<String>, out: &Output) {
        // The chat the frame named (or the bound one) is the chat the operation acts on.
        let same_chat =
            |chat: &ChatId| assert_eq!(cx.chat, Some(*chat), "{}: another chat", cx.what);
        match op {
            StorageOp::FetchMessages { chat, before, limit, .. } => {
                same_chat(chat);
                self.fetch(cx, *chat, *before, *limit, out)
            }
            StorageOp::Resume { chat, since, limit, items, .. } => {
                same_chat(chat);
                let wanted = if cx.protocol >= 2 { Items::All } else { Items::Posts };
                assert_eq!(*items, wanted, "{}: protocol {} reads {items:?}", cx.what, cx.protocol);
                self.resume(cx, *chat, *since, *limit, *items, out)
            }
            StorageOp::Append(new) => {
                same_chat(&new.chat_id);
                self.append(cx, new, out)
            }
            StorageOp::Edit { chat, seq, content, key, .. } => {
                same_chat(chat);
                assert_eq!(*key, cx.client_id(), "{}: clientId", cx.what);
                self.revise(cx, *chat, *seq, Some(content), key.as_deref(), out)
            }
            StorageOp::Delete { chat, seq, key, .. } => {
                same_chat(chat);
                assert_eq!(*key, cx.client_id(), "{}: clientId", cx.what);
                self.revise(cx, *chat, *seq, None, key.as_deref(), out)
            }
            StorageOp::Typing { chat, .. } => {
                same_chat(chat);
                if accepted(cx, self.readable(*chat, cx.actor).map(|_| ()), out).is_some() {
                    let frame = ServerFrame::Typing { chat_id: *chat, username: cx.actor.into() };
                    assert_eq!(out.reply, cx.ok(), "{}", cx.what);
                    assert_eq!(out.publish, [Publish::to_chat(*chat, frame)], "{}", cx.what);
                }
            }
            StorageOp::MarkRead { chat, seq, .. } => {
                same_chat(chat);
                self.read(cx, *chat, *seq, out)
            }
            StorageOp::GetChat { chat, .. } => {
                same_chat(chat);
                let want = self.readable(*chat, cx.actor).map(ChatModel::view);
                if let Some(view) = accepted(cx, want, out) {
                    assert_eq!(
                        out.reply,
                        Some(ServerFrame::Chat { id: cx.id.clone(), chat: view })
                    );
                    assert!(out.publish.is_empty(), "{}", cx.what);
                }
            }
            StorageOp::ReadPositions { chat, .. } => {
                same_chat(chat);
                let want = self.readable(*chat, cx.actor).map(ChatModel::read_positions);
                if let Some(positions) = accepted(cx, want, out) {
                    let want =
                        ServerFrame::ReadPositions { id: cx.id.clone(), chat_id: *chat, positions };
                    assert_eq!(out.reply, Some(want), "{}", cx.what);
                    assert!(out.publish.is_empty(), "{}", cx.what);
                }
            }
            StorageOp::ListChats { after, limit, .. } => {
                let chats: Vec<Chat> = self
                    .chats
                    .values()
                    .filter(|m| m.role(cx.actor).is_some() && after.is_none_or(|a| m.id > a))
                    .take(*limit as usize)
                    .map(ChatModel::view)
                    .collect();
                let want = Some(ServerFrame::Chats { id: cx.id.clone(), chats });
                assert_eq!(out.reply, want, "{}: list_chats", cx.what);
            }
            StorageOp::CreateChat { chat } => self.create(cx, chat, out),
            StorageOp::ChangeChat { chat, change, key, .. } => {
                same_chat(chat);
                assert_eq!(*key, cx.client_id(), "{}: clientId", cx.what);
                self.change(cx, *chat, change, key.as_deref(), out)
            }
            StorageOp::DeleteChat { chat, .. } => {
                same_chat(chat);
                self.delete_chat(cx, *chat, out)
            }
            StorageOp::Invite { chat, invitee, .. } => {
                same_chat(chat);
                self.invite(cx, *chat, invitee, out)
            }
            StorageOp::ListInvitations { after, limit, .. } => {
                let invitations: Vec<Invitation> = self
                    .invitations
                    .iter()
                    .filter(|(id, m)| {
                        m.invitee == cx.actor
                            && m.state == InvitationState::Pending
                            && after.is_none_or(|a| **id > a)
                    })
                    .take(*limit as usize)
                    .map(|(id, _)| self.invitation_view(*id))
                    .collect();
                let want = Some(ServerFrame::Invitations { id: cx.id.clone(), invitations });
                assert_eq!(out.reply, want, "{}: list_invitations", cx.what);
            }
            StorageOp::AcceptInvitation { invitation, .. } => self.accept(cx, *invitation, out),
            StorageOp::DeclineInvitation { invitation, .. } => self.decline(cx, *invitation, out),
            StorageOp::CancelInvitation { invitation, .. } => self.cancel(cx, *invitation, out),
            StorageOp::CreateInviteLink { chat, link, .. } => {
                same_chat(chat);
                let token = token.expect("a link's token was drawn");
                assert_eq!(link.token_hash, invite_token_hash(&token), "{}: token hash", cx.what);
                assert_eq!(link.at, cx.now);
                let seconds = cx.frame.get("expiresIn").and_then(Value::as_i64);
                let expires = cx.now.unix_millis() + seconds.unwrap_or(DEFAULT_LINK_SECS) * 1000;
                assert_eq!(link.expires_at.unix_millis(), expires, "{}: expiry", cx.what);
                let max_uses = cx.frame.get("maxUses").and_then(Value::as_u64);
                assert_eq!(link.max_uses.map(u64::from), max_uses, "{}: maxUses", cx.what);
                let want = self.admits(*chat, cx.actor);
                let Some(()) = accepted(cx, want, out) else { return };
                let Some(ServerFrame::InviteLink { link: got, .. }) = &out.reply else {
                    panic!("{}: replied {:?}", cx.what, out.reply);
                };
                assert!(!self.links.contains_key(&got.id), "{}: link id reused", cx.what);
                let model = LinkModel {
                    token: token.clone(),
                    chat: *chat,
                    created_by: cx.actor.to_owned(),
                    created_at: cx.now,
                    expires_at: link.expires_at,
                    max_uses: link.max_uses,
                    uses: 0,
                    revoked: false,
                };
                let reply =
                    ServerFrame::InviteLink { id: cx.id.clone(), link: model.view(got.id), token };
                assert_eq!(out.reply, Some(reply), "{}", cx.what);
                assert!(out.publish.is_empty(), "{}", cx.what);
                self.links.insert(got.id, model);
            }
            StorageOp::ListInviteLinks { chat, after, limit, .. } => {
                same_chat(chat);
                let want = self.admits(*chat, cx.actor);
                if accepted(cx, want, out).is_some() {
                    let links: Vec<InviteLink> = self
                        .links
                        .iter()
                        .filter(|(id, l)| l.chat == *chat && after.is_none_or(|a| **id > a))
                        .take(*limit as usize)
                        .map(|(id, l)| l.view(*id))
                        .collect();
                    let want =
                        ServerFrame::InviteLinks { id: cx.id.clone(), chat_id: *chat, links };
                    assert_eq!(out.reply, Some(want), "{}", cx.what);
                }
            }
            StorageOp::RevokeInviteLink { chat, link, .. } => {
                same_chat(chat);
                let want = self.admits(*chat, cx.actor).and_then(|()| match self.links.get(link) {
                    Some(l) if l.chat == *chat => Ok(()),
                    _ => Err(ErrorCode::NotFound),
                });
                if accepted(cx, want, out).is_some() {
                    assert_eq!(out.reply, cx.ok(), "{}", cx.what);
                    assert!(out.publish.is_empty(), "{}", cx.what);
                    self.links.get_mut(link).expect("checked").revoked = true;
                }
            }
            StorageOp::JoinByLink { token_hash, .. } => self.join_by_link(cx, token_hash, out),
            // Accounts, contacts, languages: nothing of the chats' model.
            _ => assert!(out.publish.is_empty(), "{}: published {:?}", cx.what, out.publish),
        }
    }

    /// A chat `actor` may read: `not_found` if there is none, `forbidden` for a non-member.
    fn readable(&self, chat: ChatId, actor: &str) -> Result<&ChatModel, ErrorCode> {
        let model = self.chats.get(&chat).ok_or(ErrorCode::NotFound)?;
        model.role(actor).ok_or(ErrorCode::Forbidden)?;
        Ok(model)
    }

    /// Whether `actor` may invite to the chat or manage its links: an owner or admin of a group.
    fn admits(&self, chat: ChatId, actor: &str) -> Result<(), ErrorCode> {
        let model = self.chats.get(&chat).ok_or(ErrorCode::NotFound)?;
        let role = model.role(actor).ok_or(ErrorCode::Forbidden)?;
        if !model.group() {
            return Err(ErrorCode::InvalidField);
        }
        if role == Role::Member {
            return Err(ErrorCode::Forbidden);
        }
        Ok(())
    }

    fn fetch(&self, cx: &Ctx<'_>, chat: ChatId, before: Option<Seq>, limit: u32, out: &Output) {
        let given = cx.frame.get("before").and_then(json_int);
        assert_eq!(before.map(|s| s.0), given, "{}: before", cx.what);
        let page = page(&cx.frame, self.limits.default_page, self.limits.max_page);
        assert_eq!(limit, page, "{}: page size", cx.what);
        let Some(model) = accepted(cx, self.readable(chat, cx.actor), out) else { return };
        let top = before.map_or(model.last(), |b| (b.0 - 1).clamp(0, model.last()));
        let messages: Vec<Message> = model.items[..top as usize]
            .iter()
            .rev()
            .filter(|item| item.is_post())
            .take(limit as usize)
            .cloned()
            .collect();
        let want = ServerFrame::Messages { id: cx.id.clone(), chat_id: chat, messages };
        assert_eq!(out.reply, Some(want), "{}: history page", cx.what);
        assert!(out.publish.is_empty(), "{}", cx.what);
    }

    fn resume(
        &self,
        cx: &Ctx<'_>,
        chat: ChatId,
        since: Seq,
        limit: u32,
        items: Items,
        out: &Output,
    ) {
        let given = cx.frame.get("since").and_then(json_int);
        assert_eq!(Some(since.0), given, "{}: since", cx.what);
        let page = page(&cx.frame, self.limits.max_page, self.limits.max_page);
        assert_eq!(limit, page, "{}: page size", cx.what);
        let Some(model) = accepted(cx, self.readable(chat, cx.actor), out) else { return };
        let after: Vec<&Message> = model
            .items
            .iter()
            .filter(|item| item.seq > since && (items == Items::All || item.is_post()))
            .collect();
        let more = after.len() > limit as usize;
        let messages = after.into_iter().take(limit as usize).cloned().collect();
        let want = ServerFrame::Resumed { id: cx.id.clone(), chat_id: chat, messages, more };
        assert_eq!(out.reply, Some(want), "{}: resume page", cx.what);
        assert!(out.publish.is_empty(), "{}", cx.what);
    }

    fn append(&mut self, cx: &Ctx<'_>, new: &NewMessage, out: &Output) {
        assert_eq!(new.client_id, cx.client_id(), "{}: clientId", cx.what);
        assert_eq!(Some(new.content.as_str()), cx.frame["message"].as_str(), "{}", cx.what);
        assert_eq!(new.timestamp, cx.now);
        let chat = new.chat_id;
        let want = self.readable(chat, cx.actor).and_then(|model| {
            let Some(key) = &new.client_id else { return Ok(None) };
            match model.keys.get(&(cx.actor.to_owned(), key.clone())) {
                Some(Keyed::Post(seq)) => Ok(Some(*seq)),
                Some(_) => Err(ErrorCode::InvalidField),
                None => Ok(None),
            }
        });
        let Some(replay) = accepted(cx, want, out) else { return };
        let model = self.chats.get_mut(&chat).expect("readable");
        if let Some(seq) = replay {
            // A repeat: answered with the post as it now is, published to no one.
            let post = model.post(seq).expect("a keyed post").clone();
            let ack =
                cx.id.is_some().then(|| ServerFrame::Ack { id: cx.id.clone(), message: post });
            assert_eq!(out.reply, ack, "{}: a repeated send", cx.what);
            assert!(out.publish.is_empty(), "{}: a repeated send was published", cx.what);
            return;
        }
        let Some(Publish { frame: ServerFrame::NewMessage { message }, .. }) = out.publish.first()
        else {
            panic!("{}: a new message was not published: {:?}", cx.what, out.publish);
        };
        let expected = Message {
            id: message.id,
            chat_id: chat,
            seq: Seq(model.last() + 1),
            author: cx.actor.to_owned(),
            content: new.content.clone(),
            timestamp: cx.now,
            client_id: new.client_id.clone(),
            edited_at: None,
            deleted: false,
            kind: EventKind::Message,
            target: None,
            member: None,
            role: None,
            attachments: Vec::new(),
        };
        assert_eq!(*message, expected, "{}: the stored post (sequence gap or repeat?)", cx.what);
        assert!(self.item_ids.insert(message.id), "{}: item id {} reused", cx.what, message.id);
        let publish = Publish::to_chat(chat, ServerFrame::NewMessage { message: expected.clone() });
        assert_eq!(out.publish, [publish], "{}", cx.what);
        let ack = cx
            .id
            .is_some()
            .then(|| ServerFrame::Ack { id: cx.id.clone(), message: expected.clone() });
        assert_eq!(out.reply, ack, "{}: the ack", cx.what);
        if let Some(key) = &new.client_id {
            model.keys.insert((cx.actor.to_owned(), key.clone()), Keyed::Post(expected.seq.0));
        }
        model.items.push(expected);
    }

    /// An edit (`content`) or a deletion (`None`) of the actor's own post.
    fn revise(
        &mut self,
        cx: &Ctx<'_>,
        chat: ChatId,
        seq: Seq,
        content: Option<&String>,
        key: Option<&str>,
        out: &Output,
    ) {
        let given = cx.frame.get("seq").and_then(json_int);
        assert_eq!(Some(seq.0), given, "{}: seq", cx.what);
        let keyed = if content.is_some() { Keyed::Edit(seq.0) } else { Keyed::Delete(seq.0) };
        // `Some(post)`: a change; `None`: a repeat, or a deletion of a deleted post.
        let want = self.readable(chat, cx.actor).and_then(|model| {
            let post = model.post(seq.0).ok_or(ErrorCode::NotFound)?;
            if post.author != cx.actor {
                return Err(ErrorCode::Forbidden);
            }
            if let Some(key) = key
                && let Some(stored) = model.keys.get(&(cx.actor.to_owned(), key.to_owned()))
            {
                return if stored.same_command(keyed) {
                    Ok(false)
                } else {
                    Err(ErrorCode::InvalidField)
                };
            }
            match (post.deleted, content) {
                (true, Some(_)) => Err(ErrorCode::InvalidField),
                (true, None) => Ok(false),
                (false, _) => Ok(true),
            }
        });
        let Some(changes) = accepted(cx, want, out) else { return };
        let model = self.chats.get_mut(&chat).expect("readable");
        let index = seq.0 as usize - 1;
        let answer = |post: &Message| match content {
            Some(_) => cx
                .id
                .is_some()
                .then(|| ServerFrame::Ack { id: cx.id.clone(), message: post.clone() }),
            None => cx.ok(),
        };
        if !changes {
            assert_eq!(out.reply, answer(&model.items[index]), "{}: a repeat", cx.what);
            assert!(out.publish.is_empty(), "{}: a repeat was published", cx.what);
            return;
        }
        let event = match out.publish.first().map(|p| &p.frame) {
            Some(ServerFrame::MessageEdited { event: Some(event), .. })
            | Some(ServerFrame::MessageDeleted { event: Some(event), .. }) => event.clone(),
            other => panic!("{}: published {other:?}", cx.what),
        };
        let post = &mut model.items[index];
        post.edited_at = Some(cx.now);
        let (draft, frame) = match content {
            Some(text) => {
                post.content = text.clone();
                let draft = Draft::text(EventKind::Edit, text, Some(seq));
                let message = post.clone();
                (draft, ServerFrame::MessageEdited { message, event: Some(event.clone()) })
            }
            None => {
                post.content.clear();
                post.deleted = true;
                let draft = Draft::text(EventKind::Delete, "", Some(seq));
                (
                    draft,
                    ServerFrame::MessageDeleted { chat_id: chat, seq, event: Some(event.clone()) },
                )
            }
        };
        let post = post.clone();
        record(cx, model, &mut self.item_ids, vec![draft], &[event], key, keyed);
        assert_eq!(out.publish, [Publish::to_chat(chat, frame)], "{}", cx.what);
        assert_eq!(out.reply, answer(&post), "{}", cx.what);
    }

    fn read(&mut self, cx: &Ctx<'_>, chat: ChatId, seq: Seq, out: &Output) {
        let want = self.readable(chat, cx.actor).and_then(|model| {
            if seq.0 > model.last() { Err(ErrorCode::InvalidField) } else { Ok(()) }
        });
        if accepted(cx, want, out).is_none() {
            return;
        }
        let model = self.chats.get_mut(&chat).expect("readable");
        let stored = model.reads.entry(cx.actor.to_owned()).or_default();
        let moved = seq.0 > *stored;
        *stored = (*stored).max(seq.0);
        let publish: Vec<Publish> = if moved {
            let frame = ServerFrame::Read { chat_id: chat, username: cx.actor.into(), seq };
            vec![Publish::to_chat(chat, frame)]
        } else {
            Vec::new()
        };
        assert_eq!(out.publish, publish, "{}: read receipt", cx.what);
        assert_eq!(out.reply, cx.ok(), "{}", cx.what);
    }

    fn create(&mut self, cx: &Ctx<'_>, new: &NewChat, out: &Output) {
        // The session's reading of the frame.
        let mut members = json_names(&cx.frame, "participants");
        members.push(cx.actor.to_owned());
        members.sort_unstable();
        members.dedup();
        assert_eq!(new.members, members, "{}: members", cx.what);
        assert_eq!(new.creator, cx.actor);
        assert_eq!(new.client_id, cx.client_id(), "{}: clientId", cx.what);
        let trimmed = |field: &str| {
            let text = cx.frame.get(field).and_then(Value::as_str).map(str::trim);
            text.filter(|t| !t.is_empty()).map(str::to_owned)
        };
        assert_eq!(new.name, trimmed("name"), "{}: name", cx.what);
        assert_eq!(new.topic, trimmed("topic"), "{}: topic", cx.what);
        let direct = new.name.is_none() && new.topic.is_none() && members.len() == 2;
        let kind = if direct { ChatKind::Direct } else { ChatKind::Group };
        assert_eq!(new.kind, kind, "{}: kind", cx.what);
        let key = new.client_id.clone().map(|key| (cx.actor.to_owned(), key));
        let earlier = key.as_ref().and_then(|key| self.chat_keys.get(key));
        let want = match earlier.and_then(|id| self.chats.get(id)) {
            // A repeat, while the chat it made exists: that chat, as it now is — unless its
            // creator has left it since: then they see nothing of it.
            Some(model) if model.role(cx.actor).is_none() => Err(ErrorCode::Forbidden),
            Some(model) => Ok(Some(model.view())),
            None if members.iter().any(|m| m == NOBODY) => Err(ErrorCode::NotFound),
            None => Ok(None),
        };
        let Some(replay) = accepted(cx, want, out) else { return };
        if let Some(view) = replay {
            assert_eq!(out.reply, Some(ServerFrame::Chat { id: cx.id.clone(), chat: view }));
            assert!(out.publish.is_empty(), "{}: a repeated creation was published", cx.what);
            return;
        }
        let Some(ServerFrame::Chat { chat, .. }) = &out.reply else {
            panic!("{}: replied {:?}", cx.what, out.reply);
        };
        assert!(!self.order.contains(&chat.id), "{}: chat id {} given twice", cx.what, chat.id);
        let role = |name: &String| match kind {
            ChatKind::Group if name == cx.actor => Role::Owner,
            _ => Role::Member,
        };
        let model = ChatModel {
            id: chat.id,
            kind,
            name: new.name.clone(),
            topic: new.topic.clone(),
            members: members.iter().map(|name| (name.clone(), role(name))).collect(),
            created_at: cx.now,
            items: Vec::new(),
            keys: HashMap::new(),
            reads: HashMap::new(),
        };
        let view = model.view();
        assert_eq!(out.reply, Some(ServerFrame::Chat { id: cx.id.clone(), chat: view.clone() }));
        let publish = Publish::to_chat(chat.id, ServerFrame::ChatCreated { chat: view });
        assert_eq!(out.publish, [publish], "{}", cx.what);
        self.order.push(model.id);
        if let Some(key) = key {
            self.chat_keys.insert(key, model.id);
        }
        self.chats.insert(model.id, model);
    }

    /// What the rules of groups say of `change` by `actor` (docs/PROTOCOL.md, "Chats").
    fn plan(
        &self,
        chat: ChatId,
        actor: &str,
        change: &ChatChange,
        key: Option<&str>,
    ) -> Result<Change, ErrorCode> {
        let model = self.chats.get(&chat).ok_or(ErrorCode::NotFound)?;
        let role = model.role(actor);
        let keyed = keyed_change(actor, change);
        if let Some(key) = key
            && let Some(stored) = model.keys.get(&(actor.to_owned(), key.to_owned()))
        {
            // The storage's own rule: the first event stored under the key must be one this
            // change records (its kind, and the member it names).
            let first = model
                .items
                .iter()
                .find(|item| item.author == actor && item.client_id.as_deref() == Some(key));
            let same = match first {
                Some(item) => change.records(actor, item.kind, item.member.as_deref()),
                None => stored.same_command(keyed),
            };
            return match (same, role) {
                // A retried `leave_chat` is answered even though its sender has left (not a
                // `remove_participant` of oneself: its answer would be the chat).
                (true, _) if matches!(change, ChatChange::Leave) => Ok(Change::Replay),
                (true, Some(_)) => Ok(Change::Replay),
                (false, Some(_)) => Err(ErrorCode::InvalidField),
                // No longer a member: told nothing of the chat, whatever the key.
                (_, None) => Err(ErrorCode::Forbidden),
            };
        }
        let role = role.ok_or(ErrorCode::Forbidden)?;
        let direct = !model.group();
        let manages = role != Role::Member;
        let mut effects = Vec::new();
        let mut drafts = Vec::new();
        let (mut gone, mut added) = (Vec::new(), Vec::new());
        match change {
            ChatChange::Add { usernames, .. } => {
                if direct {
                    return Err(ErrorCode::InvalidField);
                }
                if !manages {
                    return Err(ErrorCode::Forbidden);
                }
                let new: Vec<&String> =
                    usernames.iter().filter(|name| model.role(name).is_none()).collect();
                if new.iter().any(|name| *name == NOBODY) {
                    return Err(ErrorCode::NotFound);
                }
                for name in new {
                    effects.push(Effect::Add(name.clone()));
                    drafts.push(Draft::membership(EventKind::Join, name, Some(Role::Member)));
                    added.push(name.clone());
                }
            }
            ChatChange::Remove { username } if username == actor => {
                return self.plan(chat, actor, &ChatChange::Leave, None);
            }
            ChatChange::Remove { username } => {
                if direct {
                    return Err(ErrorCode::InvalidField);
                }
                let target = model.role(username).ok_or(ErrorCode::NotFound)?;
                let allowed = match role {
                    Role::Owner => true,
                    Role::Admin => target == Role::Member,
                    Role::Member => false,
                };
                if !allowed {
                    return Err(ErrorCode::Forbidden);
                }
                effects.push(Effect::Remove(username.clone()));
                drafts.push(Draft::membership(EventKind::Remove, username, None));
                gone.push(username.clone());
            }
            ChatChange::Leave if model.members.len() == 1 => return Ok(Change::DeleteChat),
            ChatChange::Leave => {
                effects.push(Effect::Remove(actor.to_owned()));
                drafts.push(Draft::membership(EventKind::Leave, actor, None));
                gone.push(actor.to_owned());
                if !direct && role == Role::Owner {
                    // The oldest admin becomes owner, else the oldest member.
                    let others = model.members.iter().filter(|(name, _)| name != actor);
                    let heir =
                        others.clone().find(|(_, r)| *r == Role::Admin).or(others.clone().next());
                    if let Some((heir, _)) = heir {
                        effects.push(Effect::SetRole(heir.clone(), Role::Owner));
                        drafts.push(Draft::membership(EventKind::Role, heir, Some(Role::Owner)));
                    }
                }
            }
            ChatChange::SetRole { username, role: new } => {
                if direct {
                    return Err(ErrorCode::InvalidField);
                }
                if role != Role::Owner {
                    return Err(ErrorCode::Forbidden);
                }
                let current = model.role(username).ok_or(ErrorCode::NotFound)?;
                if username == actor {
                    if *new != Role::Owner {
                        return Err(ErrorCode::Forbidden);
                    }
                } else if current != *new {
                    effects.push(Effect::SetRole(username.clone(), *new));
                    drafts.push(Draft::membership(EventKind::Role, username, Some(*new)));
                    if *new == Role::Owner {
                        effects.push(Effect::SetRole(actor.to_owned(), Role::Admin));
                        drafts.push(Draft::membership(EventKind::Role, actor, Some(Role::Admin)));
                    }
                }
            }
            ChatChange::Describe { name, topic } => {
                if direct {
                    return Err(ErrorCode::InvalidField);
                }
                if !manages {
                    return Err(ErrorCode::Forbidden);
                }
                let cleared = |text: &String| Some(text.clone()).filter(|t| !t.is_empty());
                if let Some(name) = name
                    && cleared(name) != model.name
                {
                    effects.push(Effect::SetName(cleared(name)));
                    drafts.push(Draft::text(EventKind::Rename, name, None));
                }
                if let Some(topic) = topic
                    && cleared(topic) != model.topic
                {
                    effects.push(Effect::SetTopic(cleared(topic)));
                    drafts.push(Draft::text(EventKind::Topic, topic, None));
                }
            }
        }
        Ok(Change::Apply { effects, drafts, gone, added })
    }

    fn change(
        &mut self,
        cx: &Ctx<'_>,
        chat: ChatId,
        change: &ChatChange,
        key: Option<&str>,
        out: &Output,
    ) {
        let Some(plan) = accepted(cx, self.plan(chat, cx.actor, change, key), out) else { return };
        let leave = matches!(change, ChatChange::Leave);
        match plan {
            Change::Replay => {
                let model = &self.chats[&chat];
                let reply = match model.role(cx.actor) {
                    _ if leave => cx.ok(),
                    Some(_) => Some(ServerFrame::Chat { id: cx.id.clone(), chat: model.view() }),
                    // Someone who left (by removing themselves) and says so again: the chat is
                    // no longer theirs to read.
                    None => {
                        assert!(
                            !matches!(out.reply, Some(ServerFrame::Chat { .. })),
                            "{}: a repeat shows the chat to {}, who left it: {:?}",
                            cx.what,
                            cx.actor,
                            out.reply
                        );
                        out.reply.clone()
                    }
                };
                assert_eq!(out.reply, reply, "{}: a repeat", cx.what);
                assert!(out.publish.is_empty(), "{}: a repeat was published", cx.what);
            }
            Change::DeleteChat => {
                // The last member left: the chat is gone, as if they had deleted it. Each command
                // answers as it always does: `leave_chat` with `ok`, `remove_participant` of
                // oneself with the chat as it was, without them.
                match (leave, &out.reply) {
                    (true, reply) => assert_eq!(*reply, cx.ok(), "{}", cx.what),
                    (false, Some(ServerFrame::Chat { chat: gone, .. })) => {
                        assert_eq!(gone.id, chat, "{}", cx.what);
                        assert!(gone.participants.is_empty(), "{}: {gone:?}", cx.what);
                    }
                    (false, other) => panic!("{}: {other:?}", cx.what),
                }
                let frame = ServerFrame::ChatDeleted { chat_id: chat, by: cx.actor.to_owned() };
                let also = vec![cx.actor.to_owned()];
                assert_eq!(out.publish, [Publish { chat, frame, to: None, also }], "{}", cx.what);
                self.forget_chat(chat);
            }
            Change::Apply { effects, drafts, gone, added } => {
                let events = out
                    .publish
                    .iter()
                    .find_map(|p| match &p.frame {
                        ServerFrame::ChatChanged { events, .. } => Some(events.clone()),
                        _ => None,
                    })
                    .unwrap_or_default();
                let model = self.chats.get_mut(&chat).expect("planned");
                apply(model, &mut self.invitations, effects);
                let keyed = keyed_change(cx.actor, change);
                record(cx, model, &mut self.item_ids, drafts, &events, key, keyed);
                let view = model.view();
                let mut publish = Vec::new();
                if !added.is_empty() {
                    let frame = ServerFrame::ChatCreated { chat: view.clone() };
                    publish.push(Publish::to_some(chat, frame, added));
                }
                if !events.is_empty() {
                    let frame = ServerFrame::ChatChanged { chat: view.clone(), events };
                    publish.push(Publish { chat, frame, to: None, also: gone });
                }
                assert_eq!(out.publish, publish, "{}: published", cx.what);
                let reply = if leave {
                    cx.ok()
                } else {
                    Some(ServerFrame::Chat { id: cx.id.clone(), chat: view })
                };
                assert_eq!(out.reply, reply, "{}: reply", cx.what);
            }
        }
    }

    fn delete_chat(&mut self, cx: &Ctx<'_>, chat: ChatId, out: &Output) {
        let want = self.readable(chat, cx.actor).and_then(|model| {
            match (model.kind, model.role(cx.actor)) {
                (ChatKind::Direct, _) | (_, Some(Role::Owner)) => {
                    let mut members: Vec<String> =
                        model.members.iter().map(|(name, _)| name.clone()).collect();
                    members.sort_unstable();
                    Ok(members)
                }
                _ => Err(ErrorCode::Forbidden),
            }
        });
        let Some(members) = accepted(cx, want, out) else { return };
        assert_eq!(out.reply, cx.ok(), "{}", cx.what);
        let frame = ServerFrame::ChatDeleted { chat_id: chat, by: cx.actor.to_owned() };
        let publish = Publish { chat, frame, to: None, also: members };
        assert_eq!(out.publish, [publish], "{}", cx.what);
        self.forget_chat(chat);
    }

    /// A chat is deleted, with its invitations and invite links.
    fn forget_chat(&mut self, chat: ChatId) {
        self.chats.remove(&chat);
        self.invitations.retain(|_, invitation| invitation.chat != chat);
        self.links.retain(|_, link| link.chat != chat);
    }

    fn invitation_view(&self, id: i64) -> Invitation {
        let invitation = &self.invitations[&id];
        let chat = &self.chats[&invitation.chat];
        Invitation {
            id,
            chat_id: invitation.chat,
            kind: chat.kind,
            name: chat.name.clone(),
            inviter: invitation.inviter.clone(),
            invitee: invitation.invitee.clone(),
            state: invitation.state,
            created_at: invitation.created_at,
        }
    }

    fn invite(&mut self, cx: &Ctx<'_>, chat: ChatId, invitee: &str, out: &Output) {
        let want = self.admits(chat, cx.actor).and_then(|()| {
            if invitee == NOBODY {
                return Err(ErrorCode::NotFound);
            }
            if self.chats[&chat].role(invitee).is_some() {
                return Err(ErrorCode::InvalidField);
            }
            Ok(self.invitations.iter().find(|(_, m)| {
                m.chat == chat && m.invitee == invitee && m.state == InvitationState::Pending
            }))
        });
        let Some(pending) = accepted(cx, want, out).map(|p| p.map(|(id, _)| *id)) else { return };
        if let Some(id) = pending {
            // Never two: the pending one, as it is, told to no one again.
            let invitation = self.invitation_view(id);
            assert_eq!(out.reply, Some(ServerFrame::Invitation { id: cx.id.clone(), invitation }));
            assert!(out.publish.is_empty(), "{}", cx.what);
            return;
        }
        let Some(ServerFrame::Invitation { invitation: got, .. }) = &out.reply else {
            panic!("{}: replied {:?}", cx.what, out.reply);
        };
        assert!(!self.invitations.contains_key(&got.id), "{}: invitation id reused", cx.what);
        let model = InvitationModel {
            chat,
            inviter: cx.actor.to_owned(),
            invitee: invitee.to_owned(),
            state: InvitationState::Pending,
            created_at: cx.now,
        };
        self.invitations.insert(got.id, model);
        let invitation = self.invitation_view(got.id);
        let reply = ServerFrame::Invitation { id: cx.id.clone(), invitation: invitation.clone() };
        assert_eq!(out.reply, Some(reply), "{}", cx.what);
        let event = ServerFrame::Invitation { id: None, invitation };
        let publish = Publish::to_users(chat, event, vec![invitee.to_owned()]);
        assert_eq!(out.publish, [publish], "{}", cx.what);
    }

    /// The invitation `id` addressed to the actor, in its current state (`not_found` for any
    /// other, so that ids reveal nothing).
    fn own_invitation(&self, id: i64, actor: &str) -> Result<&InvitationModel, ErrorCode> {
        match self.invitations.get(&id) {
            Some(invitation) if invitation.invitee == actor => Ok(invitation),
            _ => Err(ErrorCode::NotFound),
        }
    }

    fn accept(&mut self, cx: &Ctx<'_>, id: i64, out: &Output) {
        let want = self.own_invitation(id, cx.actor).and_then(|invitation| {
            let member = self.chats[&invitation.chat].role(cx.actor).is_some();
            match invitation.state {
                InvitationState::Pending => Ok((invitation.chat, true)),
                // The same answer again, while still a member: as the first time.
                InvitationState::Accepted if member => Ok((invitation.chat, false)),
                _ => Err(ErrorCode::NotFound),
            }
        });
        let Some((chat, joins)) = accepted(cx, want, out) else { return };
        if joins {
            self.invitations.get_mut(&id).expect("pending").state = InvitationState::Accepted;
            self.joined(cx, chat, out);
        } else {
            let view = self.chats[&chat].view();
            assert_eq!(out.reply, Some(ServerFrame::Chat { id: cx.id.clone(), chat: view }));
            assert!(out.publish.is_empty(), "{}: a repeat was published", cx.what);
        }
    }

    /// The actor joined `chat` on their own (an invitation, a link): a `join` event they author.
    fn joined(&mut self, cx: &Ctx<'_>, chat: ChatId, out: &Output) {
        let events = match out.publish.get(1).map(|p| &p.frame) {
            Some(ServerFrame::ChatChanged { events, .. }) => events.clone(),
            other => panic!("{}: published {other:?}", cx.what),
        };
        let model = self.chats.get_mut(&chat).expect("joined a chat");
        apply(model, &mut self.invitations, vec![Effect::Add(cx.actor.to_owned())]);
        let draft = Draft::membership(EventKind::Join, cx.actor, Some(Role::Member));
        record(cx, model, &mut self.item_ids, vec![draft], &events, None, Keyed::Add);
        let view = model.view();
        let created = ServerFrame::ChatCreated { chat: view.clone() };
        let changed = ServerFrame::ChatChanged { chat: view.clone(), events };
        let publish = [
            Publish::to_some(chat, created, vec![cx.actor.to_owned()]),
            Publish::to_chat(chat, changed),
        ];
        assert_eq!(out.publish, publish, "{}: published", cx.what);
        assert_eq!(out.reply, Some(ServerFrame::Chat { id: cx.id.clone(), chat: view }));
    }

    fn decline(&mut self, cx: &Ctx<'_>, id: i64, out: &Output) {
        let want =
            self.own_invitation(id, cx.actor).and_then(|invitation| match invitation.state {
                InvitationState::Pending | InvitationState::Declined => Ok(()),
                _ => Err(ErrorCode::NotFound),
            });
        if accepted(cx, want, out).is_some() {
            self.invitations.get_mut(&id).expect("checked").state = InvitationState::Declined;
            assert_eq!(out.reply, cx.ok(), "{}", cx.what);
            assert!(out.publish.is_empty(), "{}: a decline is told to no one", cx.what);
        }
    }

    fn cancel(&mut self, cx: &Ctx<'_>, id: i64, out: &Output) {
        let want = match self.invitations.get(&id) {
            Some(invitation) if invitation.state == InvitationState::Pending => {
                match self.chats[&invitation.chat].role(cx.actor) {
                    _ if invitation.inviter == cx.actor => Ok(()),
                    Some(Role::Owner | Role::Admin) => Ok(()),
                    Some(Role::Member) => Err(ErrorCode::Forbidden),
                    None => Err(ErrorCode::NotFound),
                }
            }
            _ => Err(ErrorCode::NotFound),
        };
        if accepted(cx, want, out).is_none() {
            return;
        }
        let invitation = self.invitations.get_mut(&id).expect("checked");
        invitation.state = InvitationState::Cancelled;
        let (chat, invitee) = (invitation.chat, invitation.invitee.clone());
        assert_eq!(out.reply, cx.ok(), "{}", cx.what);
        let event = ServerFrame::Invitation { id: None, invitation: self.invitation_view(id) };
        assert_eq!(out.publish, [Publish::to_users(chat, event, vec![invitee])], "{}", cx.what);
    }

    fn join_by_link(&mut self, cx: &Ctx<'_>, token_hash: &str, out: &Output) {
        let token = cx.frame.get("token").and_then(Value::as_str).map(str::trim);
        assert_eq!(Some(token_hash.to_owned()), token.map(invite_token_hash), "{}", cx.what);
        let found =
            self.links.iter().find(|(_, link)| invite_token_hash(&link.token) == token_hash);
        let want = match found {
            None => Err(ErrorCode::NotFound),
            Some((id, link)) => {
                let dead = link.revoked || cx.now >= link.expires_at;
                let used_up = link.max_uses.is_some_and(|max| link.uses >= max);
                let member = self.chats[&link.chat].role(cx.actor).is_some();
                match (member, dead || (!member && used_up)) {
                    // Every dead link is the same `not_found`, for members as for anyone.
                    (_, true) => Err(ErrorCode::NotFound),
                    // A member's repeat: answered with the chat, no use counted.
                    (true, false) => Ok((*id, link.chat, false)),
                    (false, false) => Ok((*id, link.chat, true)),
                }
            }
        };
        let Some((id, chat, joins)) = accepted(cx, want, out) else { return };
        if joins {
            self.links.get_mut(&id).expect("found").uses += 1;
            self.joined(cx, chat, out);
        } else {
            let view = self.chats[&chat].view();
            assert_eq!(out.reply, Some(ServerFrame::Chat { id: cx.id.clone(), chat: view }));
            assert!(out.publish.is_empty(), "{}: a repeat was published", cx.what);
        }
    }
}

/// Which command a change is, for its idempotency key (removing oneself is leaving).
fn keyed_change(actor: &str, change: &ChatChange) -> Keyed {
    match change {
        ChatChange::Add { .. } => Keyed::Add,
        ChatChange::Remove { username } if username == actor => Keyed::Leave,
        ChatChange::Remove { .. } => Keyed::Remove,
        ChatChange::Leave => Keyed::Leave,
        ChatChange::SetRole { .. } => Keyed::SetRole,
        ChatChange::Describe { .. } => Keyed::Update,
    }
}

/// Apply membership and description changes to the model.
fn apply(
    model: &mut ChatModel,
    invitations: &mut BTreeMap<i64, InvitationModel>,
    effects: Vec<Effect>,
) {
    for effect in effects {
        match effect {
            Effect::Add(name) => {
                // Whoever joins, however, has their pending invitation settled.
                for invitation in invitations.values_mut() {
                    if invitation.chat == model.id
                        && invitation.invitee == name
                        && invitation.state == InvitationState::Pending
                    {
                        invitation.state = InvitationState::Accepted;
                    }
                }
                model.members.push((name, Role::Member));
            }
            Effect::Remove(name) => {
                model.members.retain(|(member, _)| *member != name);
                model.reads.remove(&name);
            }
            Effect::SetRole(name, role) => {
                for (member, held) in &mut model.members {
                    if *member == name {
                        *held = role;
                    }
                }
            }
            Effect::SetName(name) => model.name = name,
            Effect::SetTopic(topic) => model.topic = topic,
        }
    }
}

/// The events a change stored are the model's drafts, each numbered `last + 1`; the first carries
/// the change's idempotency key, which from then on names that command in the chat.
fn record(
    cx: &Ctx<'_>,
    model: &mut ChatModel,
    ids: &mut HashSet<i64>,
    drafts: Vec<Draft>,
    events: &[Message],
    key: Option<&str>,
    keyed: Keyed,
) {
    let kinds: Vec<EventKind> = drafts.iter().map(|d| d.kind).collect();
    assert_eq!(events.len(), drafts.len(), "{}: events {events:?}, expected {kinds:?}", cx.what);
    for (i, (draft, event)) in drafts.into_iter().zip(events).enumerate() {
        let expected = Message {
            id: event.id,
            chat_id: model.id,
            seq: Seq(model.last() + 1),
            author: cx.actor.to_owned(),
            content: draft.content,
            timestamp: cx.now,
            client_id: if i == 0 { key.map(str::to_owned) } else { None },
            edited_at: None,
            deleted: false,
            kind: draft.kind,
            target: draft.target,
            member: draft.member,
            role: draft.role,
            attachments: Vec::new(),
        };
        assert_eq!(*event, expected, "{}: event {i} (sequence gap or repeat?)", cx.what);
        assert!(ids.insert(event.id), "{}: item id {} reused", cx.what, event.id);
        model.items.push(expected);
    }
    if let Some(key) = key
        && !events.is_empty()
    {
        model.keys.insert((cx.actor.to_owned(), key.to_owned()), keyed);
    }
}

/// Compare the outcome with the model's expectation: the same refusal (nothing published), or
/// an acceptance, whose detail is then the caller's to check.
fn accepted<T>(cx: &Ctx<'_>, want: Result<T, ErrorCode>, out: &Output) -> Option<T> {
    match (&out.reply, want) {
        (Some(ServerFrame::Error { code, message, .. }), Err(expected)) => {
            assert_eq!(*code, expected, "{}: refused with {code:?} ({message})", cx.what);
            None
        }
        (Some(ServerFrame::Error { code, message, .. }), Ok(_)) => {
            panic!("{}: refused with {code:?} ({message}), the model accepts it", cx.what)
        }
        (reply, Err(expected)) => panic!(
            "{}: accepted ({reply:?}, published {:?}), the model expects {expected:?}",
            cx.what, out.publish
        ),
        (_, Ok(plan)) => Some(plan),
    }
}

/// A command the session answered itself, before storage: a refusal of its fields (the session
/// knows no membership, so never `forbidden` or `not_found`), a pong or a bot token.
fn check_session_reply(cx: &Ctx<'_>, out: &Output) {
    assert!(out.publish.is_empty(), "{}: published {:?}", cx.what, out.publish);
    match &out.reply {
        Some(ServerFrame::Error { code, message, .. }) => assert!(
            matches!(
                code,
                ErrorCode::InvalidField
                    | ErrorCode::MissingField
                    | ErrorCode::WrongChat
                    | ErrorCode::Impersonation
                    | ErrorCode::AlreadyAuthenticated
            ),
            "{}: refused before storage with {code:?} ({message})",
            cx.what
        ),
        Some(ServerFrame::Pong { .. } | ServerFrame::BotToken { .. }) | None => {}
        Some(other) => panic!("{}: answered without storage: {other:?}", cx.what),
    }
}

/// An integer as the protocol reads one: a JSON number or a decimal string.
fn json_int(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn json_names(frame: &Value, field: &str) -> Vec<String> {
    frame[field]
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

/// Whether to print every frame and its outcome (`HELLOCODE_FUZZ_TRACE=1`), to read what led
/// to a crash: `HELLOCODE_FUZZ_TRACE=1 cargo +nightly fuzz run --sanitizer none session <file>`.
fn trace() -> bool {
    static TRACE: OnceLock<bool> = OnceLock::new();
    *TRACE.get_or_init(|| std::env::var_os("HELLOCODE_FUZZ_TRACE").is_some_and(|v| v == "1"))
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
