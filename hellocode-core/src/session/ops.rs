//! Storage operations a session asks for, their outcomes, and the replies and events they make.

use super::{Output, Publish};
use crate::model::{
    BotToken, Chat, ChatChange, ChatChanged, ChatId, CreatedChat, Invitation, InviteLink, Invited,
    Language, Message, NewChat, NewInviteLink, NewMessage, NewPusher, PushSettings, ReadMark,
    ReadPosition, Revised, Seq, Timestamp, User,
};
use crate::protocol::{ErrorCode, RequestId, ServerFrame};
use crate::storage::{Appended, Items};

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
        /// Events too, or posts only (protocol version 1).
        items: Items,
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
        /// Idempotency key.
        key: Option<String>,
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
        /// Idempotency key.
        key: Option<String>,
    },
    /// Create a chat.
    CreateChat {
        /// The chat: its members (the creator included, sorted and distinct), kind and name.
        chat: NewChat,
    },
    /// One chat, for a member.
    GetChat {
        /// Chat.
        chat: ChatId,
        /// Who reads (must be a member).
        reader: String,
    },
    /// Every member's read position in a chat, for a member.
    ReadPositions {
        /// Chat.
        chat: ChatId,
        /// Who reads (must be a member).
        reader: String,
    },
    /// A page of the user's chats.
    ListChats {
        /// Whose.
        username: String,
        /// After this chat id.
        after: Option<ChatId>,
        /// Page size, already capped.
        limit: u32,
    },
    /// Users interested in a language.
    FindUsers {
        /// Who asks.
        username: String,
        /// The language's name, trimmed.
        language: String,
        /// After this username.
        after: Option<String>,
        /// Page size, already capped.
        limit: u32,
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
    /// A user's public profile.
    GetUser {
        /// Who asks.
        username: String,
        /// Whose profile.
        target: String,
    },
    /// Change the caller's own profile.
    UpdateProfile {
        /// Whose (the caller).
        username: String,
        /// New time zone.
        timezone: Option<String>,
        /// New languages, trimmed, sorted and distinct.
        languages: Option<Vec<String>>,
    },
    /// A page of the languages.
    ListLanguages {
        /// Who asks.
        username: String,
        /// After this name.
        after: Option<String>,
        /// Page size, already capped.
        limit: u32,
    },
    /// Add a language, or get the existing one.
    AddLanguage {
        /// Who asks.
        username: String,
        /// Its name, trimmed.
        name: String,
    },
    /// The caller's contacts.
    ListContacts {
        /// Whose.
        username: String,
    },
    /// Add a contact (must exist); answers the contacts.
    AddContact {
        /// Whose contacts.
        username: String,
        /// The contact.
        contact: String,
    },
    /// Remove a contact; answers the contacts.
    RemoveContact {
        /// Whose contacts.
        username: String,
        /// The contact.
        contact: String,
    },
    /// The caller's bot tokens.
    ListBotTokens {
        /// Whose.
        username: String,
    },
    /// Revoke one of the caller's bot tokens.
    RevokeBotToken {
        /// Whose (the token must be theirs).
        username: String,
        /// The token's id.
        token: i64,
    },
    /// Change a chat's members, roles, name or topic (storage checks the caller's role).
    ChangeChat {
        /// Chat.
        chat: ChatId,
        /// Who changes it (must be a member).
        by: String,
        /// What changes.
        change: ChatChange,
        /// When.
        at: Timestamp,
        /// Idempotency key.
        key: Option<String>,
    },
    /// Delete a chat (storage checks the caller may).
    DeleteChat {
        /// Chat.
        chat: ChatId,
        /// Who deletes it.
        by: String,
    },
    /// Invite a user to a group (storage checks the caller's role).
    Invite {
        /// Chat.
        chat: ChatId,
        /// Who invites.
        by: String,
        /// Whom.
        invitee: String,
        /// When.
        at: Timestamp,
    },
    /// A page of the caller's pending invitations.
    ListInvitations {
        /// Whose.
        username: String,
        /// After this invitation id.
        after: Option<i64>,
        /// Page size, already capped.
        limit: u32,
    },
    /// Accept an invitation: join its chat.
    AcceptInvitation {
        /// The invitation's id.
        invitation: i64,
        /// Who accepts (must be its invitee).
        by: String,
        /// The most members a chat may have.
        max: usize,
        /// When.
        at: Timestamp,
    },
    /// Decline an invitation.
    DeclineInvitation {
        /// The invitation's id.
        invitation: i64,
        /// Who declines (must be its invitee).
        by: String,
        /// When.
        at: Timestamp,
    },
    /// Withdraw a pending invitation.
    CancelInvitation {
        /// The invitation's id.
        invitation: i64,
        /// Who cancels (its inviter, or an owner or admin of its chat).
        by: String,
        /// When.
        at: Timestamp,
    },
    /// Record an invite link (storage checks the caller's role). Made by
    /// [`Session::invite_link_token`](super::Session::invite_link_token): it holds the token's
    /// hash, never the token.
    CreateInviteLink {
        /// Chat.
        chat: ChatId,
        /// Who creates it.
        by: String,
        /// The link.
        link: NewInviteLink,
    },
    /// A page of a group's invite links.
    ListInviteLinks {
        /// Chat.
        chat: ChatId,
        /// Who asks (an owner or admin).
        by: String,
        /// After this link id.
        after: Option<i64>,
        /// Page size, already capped.
        limit: u32,
    },
    /// Revoke an invite link.
    RevokeInviteLink {
        /// Chat.
        chat: ChatId,
        /// Who revokes it (an owner or admin).
        by: String,
        /// The link's id.
        link: i64,
    },
    /// Join the chat of an invite link.
    JoinByLink {
        /// [`invite_token_hash`](crate::model::invite_token_hash) of the token presented.
        token_hash: String,
        /// Who joins.
        by: String,
        /// The most members a chat may have.
        max: usize,
        /// When (links expire).
        at: Timestamp,
    },
    /// Register or change a pusher of `username`; answers the push settings.
    SetPusher {
        /// Whose.
        username: String,
        /// The pusher, checked.
        pusher: NewPusher,
    },
    /// Remove a pusher of `username` (idempotent); answers the push settings.
    RemovePusher {
        /// Whose.
        username: String,
        /// Its app id.
        app_id: String,
        /// Its push key.
        pushkey: String,
    },
    /// `username`'s push settings.
    GetPushSettings {
        /// Whose.
        username: String,
    },
    /// Mute or unmute a chat for `username` (a member); answers the push settings.
    MuteChat {
        /// The chat.
        chat: ChatId,
        /// Who.
        username: String,
        /// Mute or unmute.
        muted: bool,
    },
}

impl StorageOp {
    /// The user on whose behalf the operation runs (`None` for none: chat creation lists many).
    pub fn actor(&self) -> Option<&str> {
        match self {
            StorageOp::FetchMessages { reader, .. }
            | StorageOp::Resume { reader, .. }
            | StorageOp::GetChat { reader, .. }
            | StorageOp::ReadPositions { reader, .. } => Some(reader),
            StorageOp::Append(message) => Some(&message.author),
            StorageOp::Edit { editor, .. } => Some(editor),
            StorageOp::Delete { by, .. } => Some(by),
            StorageOp::CreateChat { chat } => Some(&chat.creator),
            StorageOp::ListChats { username, .. }
            | StorageOp::FindUsers { username, .. }
            | StorageOp::Typing { username, .. }
            | StorageOp::MarkRead { username, .. }
            | StorageOp::GetUser { username, .. }
            | StorageOp::UpdateProfile { username, .. }
            | StorageOp::ListLanguages { username, .. }
            | StorageOp::AddLanguage { username, .. }
            | StorageOp::ListContacts { username }
            | StorageOp::AddContact { username, .. }
            | StorageOp::RemoveContact { username, .. }
            | StorageOp::ListBotTokens { username }
            | StorageOp::RevokeBotToken { username, .. } => Some(username),
            StorageOp::ChangeChat { by, .. } | StorageOp::DeleteChat { by, .. } => Some(by),
            StorageOp::ListInvitations { username, .. } => Some(username),
            StorageOp::Invite { by, .. }
            | StorageOp::AcceptInvitation { by, .. }
            | StorageOp::DeclineInvitation { by, .. }
            | StorageOp::CancelInvitation { by, .. }
            | StorageOp::CreateInviteLink { by, .. }
            | StorageOp::ListInviteLinks { by, .. }
            | StorageOp::RevokeInviteLink { by, .. }
            | StorageOp::JoinByLink { by, .. } => Some(by),
            StorageOp::SetPusher { username, .. }
            | StorageOp::RemovePusher { username, .. }
            | StorageOp::GetPushSettings { username }
            | StorageOp::MuteChat { username, .. } => Some(username),
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
            StorageOp::GetChat { .. } => "get_chat",
            StorageOp::ReadPositions { .. } => "get_read_positions",
            StorageOp::ListChats { .. } => "list_chats",
            StorageOp::FindUsers { .. } => "find_users",
            StorageOp::Typing { .. } => "typing",
            StorageOp::MarkRead { .. } => "mark_read",
            StorageOp::GetUser { .. } => "get_user",
            StorageOp::UpdateProfile { .. } => "update_profile",
            StorageOp::ListLanguages { .. } => "list_languages",
            StorageOp::AddLanguage { .. } => "add_language",
            StorageOp::ListContacts { .. } => "list_contacts",
            StorageOp::AddContact { .. } => "add_contact",
            StorageOp::RemoveContact { .. } => "remove_contact",
            StorageOp::ListBotTokens { .. } => "list_bot_tokens",
            StorageOp::RevokeBotToken { .. } => "revoke_bot_token",
            StorageOp::ChangeChat { change, .. } => change.name(),
            StorageOp::DeleteChat { .. } => "delete_chat",
            StorageOp::Invite { .. } => "invite",
            StorageOp::ListInvitations { .. } => "list_invitations",
            StorageOp::AcceptInvitation { .. } => "accept_invitation",
            StorageOp::DeclineInvitation { .. } => "decline_invitation",
            StorageOp::CancelInvitation { .. } => "cancel_invitation",
            StorageOp::CreateInviteLink { .. } => "create_invite_link",
            StorageOp::ListInviteLinks { .. } => "list_invite_links",
            StorageOp::RevokeInviteLink { .. } => "revoke_invite_link",
            StorageOp::JoinByLink { .. } => "join_by_link",
            StorageOp::SetPusher { .. } => "set_pusher",
            StorageOp::RemovePusher { .. } => "remove_pusher",
            StorageOp::GetPushSettings { .. } => "get_push_settings",
            StorageOp::MuteChat { .. } => "mute_chat",
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
    /// For `Edit` and `Delete`: the post as it now is, and the event that recorded it.
    Revised(Revised),
    /// For `GetChat`.
    Chat(Chat),
    /// For `CreateChat`.
    Created(CreatedChat),
    /// For `ListChats`.
    Chats(Vec<Chat>),
    /// For `ReadPositions`: one per member, by username.
    ReadPositions(Vec<ReadPosition>),
    /// For `FindUsers`: by username.
    Users(Vec<User>),
    /// For `Typing`: the typist is a participant.
    Allowed,
    /// For `MarkRead`: the read position now stored (never moves back), and whether it moved.
    ReadUpTo(ReadMark),
    /// For `GetUser` and `UpdateProfile`.
    User(User),
    /// For `ListLanguages`: by name.
    Languages(Vec<Language>),
    /// For `AddLanguage`.
    Language(Language),
    /// For the contact operations: the contacts after it, by username.
    Contacts(Vec<String>),
    /// For `ListBotTokens`: by id.
    BotTokens(Vec<BotToken>),
    /// For `RevokeBotToken` and `RevokeInviteLink`.
    Done,
    /// For `ChangeChat`, `AcceptInvitation` and `JoinByLink`.
    Changed(ChatChanged),
    /// For `Invite`.
    Invited(Invited),
    /// For `ListInvitations`: by id.
    Invitations(Vec<Invitation>),
    /// For `DeclineInvitation` and `CancelInvitation`: the invitation as settled.
    Invitation(Invitation),
    /// For `CreateInviteLink`.
    InviteLink(InviteLink),
    /// For `ListInviteLinks`: by id.
    InviteLinks(Vec<InviteLink>),
    /// For `DeleteChat`: the members it had.
    Deleted(Vec<String>),
    /// For the push operations: the settings after it.
    PushSettings(PushSettings),
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
                vec![Publish::to_chat(chat, ServerFrame::NewMessage { message: message.clone() })]
            } else {
                Vec::new()
            };
            Output { reply: wants_ack.then_some(ServerFrame::Ack { id, message }), publish }
        }
        (StorageOp::Edit { chat, .. }, StorageOutcome::Revised(Revised { message, event })) => {
            Output {
                // A retried edit (its key already stored) changed nothing: nothing to tell.
                publish: event
                    .map(|event| {
                        let message = message.clone();
                        let frame = ServerFrame::MessageEdited { message, event: Some(event) };
                        Publish::to_chat(chat, frame)
                    })
                    .into_iter()
                    .collect(),
                reply: wants_ack.then_some(ServerFrame::Ack { id, message }),
            }
        }
        (StorageOp::Delete { chat, seq, .. }, StorageOutcome::Revised(Revised { event, .. })) => {
            Output {
                reply: wants_ack.then_some(ServerFrame::Ok { id }),
                // Deleting a deleted post changed nothing: there is nothing to tell.
                publish: event
                    .map(|event| {
                        let frame =
                            ServerFrame::MessageDeleted { chat_id: chat, seq, event: Some(event) };
                        Publish::to_chat(chat, frame)
                    })
                    .into_iter()
                    .collect(),
            }
        }
        (StorageOp::CreateChat { .. }, StorageOutcome::Created(CreatedChat { chat, created })) => {
            // A retried creation (its key already stored) is answered, not announced again.
            let publish = if created {
                vec![Publish::to_chat(chat.id, ServerFrame::ChatCreated { chat: chat.clone() })]
            } else {
                Vec::new()
            };
            Output { publish, reply: Some(ServerFrame::Chat { id, chat }) }
        }
        (StorageOp::GetChat { .. }, StorageOutcome::Chat(chat)) => {
            Output::reply(ServerFrame::Chat { id, chat })
        }
        (StorageOp::ReadPositions { chat, .. }, StorageOutcome::ReadPositions(positions)) => {
            Output::reply(ServerFrame::ReadPositions { id, chat_id: chat, positions })
        }
        (StorageOp::ListChats { .. }, StorageOutcome::Chats(chats)) => {
            Output::reply(ServerFrame::Chats { id, chats })
        }
        (StorageOp::FindUsers { language, .. }, StorageOutcome::Users(users)) => {
            Output::reply(ServerFrame::Users { id, language, users })
        }
        (StorageOp::Typing { chat, username }, StorageOutcome::Allowed) => Output {
            reply: wants_ack.then_some(ServerFrame::Ok { id }),
            publish: vec![Publish::to_chat(chat, ServerFrame::Typing { chat_id: chat, username })],
        },
        (StorageOp::MarkRead { chat, username, .. }, StorageOutcome::ReadUpTo(mark)) => Output {
            reply: wants_ack.then_some(ServerFrame::Ok { id }),
            // A receipt that moved nothing tells the others nothing new.
            publish: if mark.moved {
                vec![Publish::to_chat(
                    chat,
                    ServerFrame::Read { chat_id: chat, username, seq: mark.seq },
                )]
            } else {
                Vec::new()
            },
        },
        (
            StorageOp::GetUser { .. } | StorageOp::UpdateProfile { .. },
            StorageOutcome::User(user),
        ) => Output::reply(ServerFrame::User { id, user }),
        (StorageOp::ListLanguages { .. }, StorageOutcome::Languages(languages)) => {
            Output::reply(ServerFrame::Languages { id, languages })
        }
        (StorageOp::AddLanguage { .. }, StorageOutcome::Language(language)) => {
            Output::reply(ServerFrame::Language { id, language })
        }
        (
            StorageOp::ListContacts { .. }
            | StorageOp::AddContact { .. }
            | StorageOp::RemoveContact { .. },
            StorageOutcome::Contacts(contacts),
        ) => Output::reply(ServerFrame::Contacts { id, contacts }),
        (
            StorageOp::SetPusher { .. }
            | StorageOp::RemovePusher { .. }
            | StorageOp::GetPushSettings { .. }
            | StorageOp::MuteChat { .. },
            StorageOutcome::PushSettings(settings),
        ) => Output::reply(ServerFrame::PushSettings { id, settings }),
        (StorageOp::ListBotTokens { .. }, StorageOutcome::BotTokens(tokens)) => {
            Output::reply(ServerFrame::BotTokens { id, tokens })
        }
        (StorageOp::RevokeBotToken { .. }, StorageOutcome::Done) => {
            Output { reply: wants_ack.then_some(ServerFrame::Ok { id }), publish: Vec::new() }
        }
        (StorageOp::ChangeChat { change, .. }, StorageOutcome::Changed(changed)) => {
            let ChatChanged { chat, events, gone, added, deleted, .. } = changed;
            if deleted {
                // The last member left: the chat is gone, as if they had deleted it.
                let frame = ServerFrame::ChatDeleted { chat_id: chat.id, by: gone.join(", ") };
                let publish = vec![Publish { chat: chat.id, frame, to: None, also: gone }];
                // Each command answers as it always does: `leave_chat` with `ok`,
                // `remove_participant` (of oneself) with the chat, as it was without them.
                let reply = match change {
                    ChatChange::Leave => wants_ack.then_some(ServerFrame::Ok { id }),
                    _ => Some(ServerFrame::Chat { id, chat }),
                };
                return Output { reply, publish };
            }
            let mut publish = Vec::new();
            // Those added learn of the chat as if it had just been created with them; from then
            // on they receive its events (and resume it from its start).
            if !added.is_empty() {
                let frame = ServerFrame::ChatCreated { chat: chat.clone() };
                publish.push(Publish::to_some(chat.id, frame, added));
            }
            // Every member learns of the change; those it removed too, and nothing after it.
            if !events.is_empty() {
                let frame = ServerFrame::ChatChanged { chat: chat.clone(), events };
                publish.push(Publish { chat: chat.id, frame, to: None, also: gone });
            }
            let reply = match change {
                // The one who left cannot see the chat any more.
                ChatChange::Leave => wants_ack.then_some(ServerFrame::Ok { id }),
                _ => Some(ServerFrame::Chat { id, chat }),
            };
            Output { reply, publish }
        }
        (StorageOp::DeleteChat { chat, by }, StorageOutcome::Deleted(members)) => Output {
            reply: wants_ack.then_some(ServerFrame::Ok { id }),
            publish: vec![Publish {
                chat,
                frame: ServerFrame::ChatDeleted { chat_id: chat, by },
                to: None,
                also: members,
            }],
        },
        (StorageOp::Invite { chat, invitee, .. }, StorageOutcome::Invited(invited)) => {
            let Invited { invitation, created } = invited;
            // The invitee learns of it on every connection; an invitation returned as it was
            // is not announced twice.
            let publish = if created {
                let event = ServerFrame::Invitation { id: None, invitation: invitation.clone() };
                vec![Publish::to_users(chat, event, vec![invitee])]
            } else {
                Vec::new()
            };
            Output { reply: Some(ServerFrame::Invitation { id, invitation }), publish }
        }
        (StorageOp::ListInvitations { .. }, StorageOutcome::Invitations(invitations)) => {
            Output::reply(ServerFrame::Invitations { id, invitations })
        }
        (
            StorageOp::AcceptInvitation { .. } | StorageOp::JoinByLink { .. },
            StorageOutcome::Changed(changed),
        ) => {
            // Whoever joined learns of the chat as if it had just been created with them;
            // every member (them included) gets the `join` event.
            let ChatChanged { chat, events, added, replayed, .. } = changed;
            if replayed {
                // A repeat (an accept answered again, a member's join): nothing new to tell.
                return Output::reply(ServerFrame::Chat { id, chat });
            }
            let created = ServerFrame::ChatCreated { chat: chat.clone() };
            let changed = ServerFrame::ChatChanged { chat: chat.clone(), events };
            Output {
                publish: vec![
                    Publish::to_some(chat.id, created, added),
                    Publish::to_chat(chat.id, changed),
                ],
                reply: Some(ServerFrame::Chat { id, chat }),
            }
        }
        (StorageOp::DeclineInvitation { .. }, StorageOutcome::Invitation(_))
        | (StorageOp::RevokeInviteLink { .. }, StorageOutcome::Done) => {
            Output { reply: wants_ack.then_some(ServerFrame::Ok { id }), publish: Vec::new() }
        }
        (StorageOp::CancelInvitation { .. }, StorageOutcome::Invitation(invitation)) => {
            // The invitee learns that it is withdrawn, as they learnt of it.
            let (chat, invitee) = (invitation.chat_id, invitation.invitee.clone());
            let event = ServerFrame::Invitation { id: None, invitation };
            Output {
                reply: wants_ack.then_some(ServerFrame::Ok { id }),
                publish: vec![Publish::to_users(chat, event, vec![invitee])],
            }
        }
        (StorageOp::ListInviteLinks { chat, .. }, StorageOutcome::InviteLinks(links)) => {
            Output::reply(ServerFrame::InviteLinks { id, chat_id: chat, links })
        }
        // `CreateInviteLink` is answered by `Session::complete`, which holds the token.
        (op, _) => Output::error(
            id,
            ErrorCode::Internal,
            // A bug, not the client's doing; no debug form of the outcome on the wire.
            format!("internal error: {} produced an unexpected result", op.name()),
        ),
    }
}
