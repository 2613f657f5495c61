//! Groups: chat kinds, member roles, the kinds of a chat's sequenced items, and the changes a
//! member may make to a chat.

use serde::{Deserialize, Serialize};

use super::{Chat, Message, Timestamp};

/// What kind of chat: a conversation of two (as the original app had them) or a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChatKind {
    /// Two members, no roles, no name; its members never change (adding a third person means
    /// creating a group, so that the two's history stays theirs).
    #[default]
    Direct,
    /// Any number of members with roles, an optional name and topic.
    Group,
}

impl ChatKind {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ChatKind::Direct => "direct",
            ChatKind::Group => "group",
        }
    }

    /// The kind named `name` (as stored).
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "direct" => Some(ChatKind::Direct),
            "group" => Some(ChatKind::Group),
            _ => None,
        }
    }
}

/// A member's role in a group.
///
/// Owners and admins add and remove members and rename the group; only an owner changes roles
/// or deletes the group. Anyone may leave; when the last owner leaves, the oldest admin (else
/// the oldest member) becomes owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything an admin may do, and roles and deletion.
    Owner,
    /// Adds and removes plain members, renames.
    Admin,
    /// Reads and posts.
    Member,
}

impl Role {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Member => "member",
        }
    }

    /// The role named `name` (as stored).
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "owner" => Some(Role::Owner),
            "admin" => Some(Role::Admin),
            "member" => Some(Role::Member),
            _ => None,
        }
    }

    /// Whether this role manages members and the group's name.
    pub fn manages(self) -> bool {
        matches!(self, Role::Owner | Role::Admin)
    }
}

/// What one sequenced item of a chat is. Every change a client must know of takes the chat's
/// next sequence number, so `resume` returns it in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A post: `content` is its text (edited in place, emptied once deleted).
    #[default]
    Message,
    /// `author` edited post `target`; `content` is the new text.
    Edit,
    /// `author` deleted post `target`.
    Delete,
    /// `member` joined with `role` (added by `author`, or on their own).
    Join,
    /// `member` left.
    Leave,
    /// `author` removed `member`.
    Remove,
    /// `member`'s role became `role` (set by `author`, or handed over when an owner left).
    Role,
    /// `author` renamed the group to `content` (empty: no name).
    Rename,
    /// `author` set the group's topic to `content` (empty: no topic).
    Topic,
}

impl EventKind {
    /// Every kind.
    pub const ALL: [EventKind; 9] = [
        EventKind::Message,
        EventKind::Edit,
        EventKind::Delete,
        EventKind::Join,
        EventKind::Leave,
        EventKind::Remove,
        EventKind::Role,
        EventKind::Rename,
        EventKind::Topic,
    ];

    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Message => "message",
            EventKind::Edit => "edit",
            EventKind::Delete => "delete",
            EventKind::Join => "join",
            EventKind::Leave => "leave",
            EventKind::Remove => "remove",
            EventKind::Role => "role",
            EventKind::Rename => "rename",
            EventKind::Topic => "topic",
        }
    }

    /// The kind named `name` (as stored).
    pub fn parse(name: &str) -> Option<Self> {
        EventKind::ALL.into_iter().find(|kind| kind.as_str() == name)
    }

    /// Whether this is a post (serialization leaves the field out for posts, so the original
    /// app's message objects are unchanged).
    pub fn is_message(&self) -> bool {
        *self == EventKind::Message
    }
}

/// What is needed to create a chat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewChat {
    /// Who creates it: a group's first owner.
    pub creator: String,
    /// Every member, the creator included, sorted and distinct (all must exist).
    pub members: Vec<String>,
    /// Direct (exactly two members, no name) or group.
    pub kind: ChatKind,
    /// A group's name.
    pub name: Option<String>,
    /// A group's topic.
    pub topic: Option<String>,
    /// When.
    pub at: Timestamp,
    /// Idempotency key: a creation with the creator's key used before returns that chat.
    pub client_id: Option<String>,
}

impl NewChat {
    /// A direct chat between `creator` and `other`.
    pub fn direct(creator: &str, other: &str, at: Timestamp) -> Self {
        let mut members = vec![creator.to_owned(), other.to_owned()];
        members.sort_unstable();
        NewChat {
            creator: creator.to_owned(),
            members,
            kind: ChatKind::Direct,
            name: None,
            topic: None,
            at,
            client_id: None,
        }
    }

    /// A group owned by `creator` with these other members.
    pub fn group(creator: &str, others: &[&str], at: Timestamp) -> Self {
        let mut members: Vec<String> = others.iter().map(|name| (*name).to_owned()).collect();
        members.push(creator.to_owned());
        members.sort_unstable();
        members.dedup();
        NewChat {
            creator: creator.to_owned(),
            members,
            kind: ChatKind::Group,
            name: None,
            topic: None,
            at,
            client_id: None,
        }
    }
}

/// A change a member makes to a chat. Each takes the chat's next sequence numbers for its
/// events; storage checks the actor's right to make it in the same transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatChange {
    /// Add members (an owner or admin of a group); those already in are ignored.
    Add {
        /// Who to add, sorted and distinct (all must exist).
        usernames: Vec<String>,
        /// The most members the chat may have.
        max: usize,
    },
    /// Remove a member (an owner removes anyone, an admin plain members).
    Remove {
        /// Whom.
        username: String,
    },
    /// The actor leaves.
    Leave,
    /// Give a member a role (an owner only). Making someone owner hands ownership over: the
    /// actor becomes an admin.
    SetRole {
        /// Whose.
        username: String,
        /// The new role.
        role: Role,
    },
    /// Rename the group and/or set its topic (an owner or admin); `Some("")` clears one.
    Describe {
        /// New name.
        name: Option<String>,
        /// New topic.
        topic: Option<String>,
    },
}

impl ChatChange {
    /// Whether an event of `kind` naming `member` can be the first this change, made by `by`,
    /// records: an item of the chat carrying the change's idempotency key must be one, else the
    /// key was used for another command.
    pub fn records(&self, by: &str, kind: EventKind, member: Option<&str>) -> bool {
        match self {
            ChatChange::Add { usernames, .. } => {
                kind == EventKind::Join && usernames.iter().any(|name| member == Some(name))
            }
            // Removing yourself is leaving.
            ChatChange::Remove { username } if username == by => {
                kind == EventKind::Leave && member == Some(by)
            }
            ChatChange::Remove { username } => {
                kind == EventKind::Remove && member == Some(username.as_str())
            }
            ChatChange::Leave => kind == EventKind::Leave && member == Some(by),
            ChatChange::SetRole { username, .. } => {
                kind == EventKind::Role && member == Some(username.as_str())
            }
            // A rename, or only a topic when the name was already the one given.
            ChatChange::Describe { .. } => matches!(kind, EventKind::Rename | EventKind::Topic),
        }
    }

    /// A short name for logs and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            ChatChange::Add { .. } => "add_members",
            ChatChange::Remove { .. } => "remove_member",
            ChatChange::Leave => "leave_chat",
            ChatChange::SetRole { .. } => "set_role",
            ChatChange::Describe { .. } => "update_chat",
        }
    }
}

/// The result of creating a chat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedChat {
    /// The chat.
    pub chat: Chat,
    /// `false` when the creation's idempotency key was used before and `chat` is the one it
    /// made then (as it now is).
    pub created: bool,
}

/// The result of a [`ChatChange`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatChanged {
    /// The chat as it now is.
    pub chat: Chat,
    /// The events it stored, in sequence order (empty when nothing changed).
    pub events: Vec<Message>,
    /// Members no longer in the chat because of it (they are told, then get nothing more).
    pub gone: Vec<String>,
    /// Members new to the chat because of it.
    pub added: Vec<String>,
    /// Whether the change deleted the chat: its last member left (`chat` is then as it was,
    /// without them).
    pub deleted: bool,
    /// Whether this was a retry of a change already stored under the same idempotency key:
    /// nothing was stored again, `events` is empty and `chat` is as it now is.
    pub replayed: bool,
}

/// The result of an edit or a deletion: the post as it now is, and the event that recorded the
/// change (`None` when nothing changed: a post deleted twice, or a retry under the same
/// idempotency key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revised {
    /// The post.
    pub message: Message,
    /// The `edit` or `delete` event.
    pub event: Option<Message>,
}
