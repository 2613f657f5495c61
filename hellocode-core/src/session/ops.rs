//! Storage operations a session asks for, their outcomes, and the replies and events they make.

use super::{Output, Publish};
use crate::model::{Chat, ChatId, Message, NewMessage, Seq, Timestamp, User};
use crate::protocol::{ErrorCode, RequestId, ServerFrame};
use crate::storage::Appended;

/// One storage operation, always on behalf of the authenticated user it names.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StorageOp {
    /// A history page, newest first.
    FetchMessages {
        /// Chat.
        chat: ChatId,
        /// Who reads (must be a participant).
        reader: String,
        /// Only messages below this sequence number.
        before: Option<Seq>,
        /// Page size, already capped.
        limit: u32,
    },
    /// Messages after `since`, oldest first.
    Resume {
        /// Chat.
        chat: ChatId,
        /// Who reads (must be a participant).
        reader: String,
        /// Last sequence number seen.
        since: Seq,
        /// Page size, already capped.
        limit: u32,
    },
    /// Append a message (idempotent by client id).
    Append(NewMessage),
    /// Edit a message of the editor's.
    Edit {
        /// Chat.
        chat: ChatId,
        /// Message.
        seq: Seq,
        /// Who edits (must be the author).
        editor: String,
        /// New text.
        content: String,
        /// When.
        at: Timestamp,
    },
    /// Delete a message of the caller's.
    Delete {
        /// Chat.
        chat: ChatId,
        /// Message.
        seq: Seq,
        /// Who deletes (must be the author).
        by: String,
        /// When.
        at: Timestamp,
    },
    /// Create a chat.
    CreateChat {
        /// All participants, the creator included, sorted and distinct.
        participants: Vec<String>,
        /// When.
        at: Timestamp,
    },
    /// The user's chats.
    ListChats {
        /// Whose.
        username: String,
    },
    /// Users interested in a language.
    FindUsers {
        /// Who asks.
        username: String,
        /// The language's name, trimmed.
        language: String,
    },
    /// Check that the typist takes part in the chat.
    Typing {
        /// Chat.
        chat: ChatId,
        /// Who types.
        username: String,
    },
    /// Move a read position forward.
    MarkRead {
        /// Chat.
        chat: ChatId,
        /// Reader.
        username: String,
        /// Read up to here.
        seq: Seq,
    },
}

impl StorageOp {
    /// The user on whose behalf the operation runs (`None` for none: chat creation lists many).
    pub fn actor(&self) -> Option<&str> {
        match self {
            StorageOp::FetchMessages { reader, .. } | StorageOp::Resume { reader, .. } => {
                Some(reader)
            }
            StorageOp::Append(message) => Some(&message.author),
            StorageOp::Edit { editor, .. } => Some(editor),
            StorageOp::Delete { by, .. } => Some(by),
            StorageOp::CreateChat { .. } => None,
            StorageOp::ListChats { username }
            | StorageOp::FindUsers { username, .. }
            | StorageOp::Typing { username, .. }
            | StorageOp::MarkRead { username, .. } => Some(username),
        }
    }

    /// A short name for logs and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            StorageOp::FetchMessages { .. } => "fetch_messages",
            StorageOp::Resume { .. } => "resume",
            StorageOp::Append(_) => "append",
            StorageOp::Edit { .. } => "edit",
            StorageOp::Delete { .. } => "delete",
            StorageOp::CreateChat { .. } => "create_chat",
            StorageOp::ListChats { .. } => "list_chats",
            StorageOp::FindUsers { .. } => "find_users",
            StorageOp::Typing { .. } => "typing",
            StorageOp::MarkRead { .. } => "mark_read",
        }
    }
}

/// What a [`StorageOp`] produced.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StorageOutcome {
    /// For `FetchMessages`: newest first.
    Messages(Vec<Message>),
    /// For `Resume`: oldest first, and whether more follow.
    Page {
        /// The messages.
        messages: Vec<Message>,
        /// Whether more follow.
        more: bool,
    },
    /// For `Append`.
    Appended(Appended),
    /// For `Edit` and `Delete`: the message as it now is.
    Message(Message),
    /// For `CreateChat`.
    Chat(Chat),
    /// For `ListChats`.
    Chats(Vec<Chat>),
    /// For `FindUsers`: by username.
    Users(Vec<User>),
    /// For `Typing`: the typist is a participant.
    Allowed,
    /// For `MarkRead`: the read position now stored (never moves back).
    ReadUpTo(Seq),
}

/// Build the reply and events for a completed operation.
///
/// Replies that carry no data the client lacks (`ack` for a send, `ok`) are sent only when the
/// command had an `id`: the original app's front-end sends none and expects none.
pub(super) fn respond(id: Option<RequestId>, op: StorageOp, outcome: StorageOutcome) -> Output {
    let wants_ack = id.is_some();
    match (op, outcome) {
        (StorageOp::FetchMessages { chat, .. }, StorageOutcome::Messages(messages)) => {
            Output::reply(ServerFrame::Messages { id, chat_id: chat, messages })
        }
        (StorageOp::Resume { chat, .. }, StorageOutcome::Page { messages, more }) => {
            Output::reply(ServerFrame::Resumed { id, chat_id: chat, messages, more })
        }
        (StorageOp::Append(_), StorageOutcome::Appended(Appended { message, created })) => {
            let chat = message.chat_id;
            // A retried send gets its ack again but is not published twice.
            let publish = if created {
                vec![Publish { chat, frame: ServerFrame::NewMessage { message: message.clone() } }]
            } else {
                Vec::new()
            };
            Output { reply: wants_ack.then_some(ServerFrame::Ack { id, message }), publish }
        }
        (StorageOp::Edit { chat, .. }, StorageOutcome::Message(message)) => Output {
            publish: vec![Publish {
                chat,
                frame: ServerFrame::MessageEdited { message: message.clone() },
            }],
            reply: wants_ack.then_some(ServerFrame::Ack { id, message }),
        },
        (StorageOp::Delete { chat, seq, .. }, StorageOutcome::Message(_)) => Output {
            reply: wants_ack.then_some(ServerFrame::Ok { id }),
            publish: vec![Publish {
                chat,
                frame: ServerFrame::MessageDeleted { chat_id: chat, seq },
            }],
        },
        (StorageOp::CreateChat { .. }, StorageOutcome::Chat(chat)) => Output {
            publish: vec![Publish {
                chat: chat.id,
                frame: ServerFrame::ChatCreated { chat: chat.clone() },
            }],
            reply: Some(ServerFrame::Chat { id, chat }),
        },
        (StorageOp::ListChats { .. }, StorageOutcome::Chats(chats)) => {
            Output::reply(ServerFrame::Chats { id, chats })
        }
        (StorageOp::FindUsers { language, .. }, StorageOutcome::Users(users)) => {
            Output::reply(ServerFrame::Users { id, language, users })
        }
        (StorageOp::Typing { chat, username }, StorageOutcome::Allowed) => Output {
            reply: wants_ack.then_some(ServerFrame::Ok { id }),
            publish: vec![Publish { chat, frame: ServerFrame::Typing { chat_id: chat, username } }],
        },
        (StorageOp::MarkRead { chat, username, .. }, StorageOutcome::ReadUpTo(seq)) => Output {
            reply: wants_ack.then_some(ServerFrame::Ok { id }),
            publish: vec![Publish {
                chat,
                frame: ServerFrame::Read { chat_id: chat, username, seq },
            }],
        },
        (op, outcome) => Output::error(
            id,
            ErrorCode::Internal,
            format!("internal error: {} produced {outcome:?}", op.name()),
        ),
    }
}
