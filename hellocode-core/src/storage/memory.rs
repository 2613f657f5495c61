//! The in-memory backend: for tests and ephemeral servers. Nothing survives the process.

mod push;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;

use super::membership::{self, Admission, Draft, Effect, LinkUse, Roster};
use super::{Appended, Items, Storage};
use crate::model::{
    Account, BotToken, Chat, ChatChange, ChatChanged, ChatId, ChatKind, CreatedChat, EventKind,
    Invitation, InvitationState, InviteLink, Invited, Language, Media, MediaKind, Message, NewChat,
    NewInviteLink, NewMedia, NewMessage, NewPush, NewPusher, NewUser, Participant, PushSettings,
    PushTarget, QueuedPush, ReadMark, ReadPosition, Revised, Role, Seq, Timestamp, TokenHolder,
    User, UserUpdate, deleted_author, username_key,
};
use crate::{Error, Result};

/// Storage in the process's memory, behind one mutex (no lock is held across an `.await`).
///
/// ```
/// use hellocode_core::storage::{MemoryStorage, Storage};
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let storage = MemoryStorage::new();
/// storage.add_language("Rust").await?;
/// assert_eq!(storage.languages().await?[0].name, "Rust");
/// # Ok::<(), hellocode_core::Error>(()) }).unwrap();
/// ```
#[derive(Debug, Default)]
pub struct MemoryStorage {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    last_id: i64,
    languages: BTreeMap<String, Language>,
    users: BTreeMap<String, UserRow>,
    /// [`username_key`] of every user → username: the uniqueness rule of `create_user`.
    username_keys: HashMap<String, String>,
    chats: BTreeMap<ChatId, ChatRow>,
    bot_tokens: BTreeMap<i64, BotToken>,
    invitations: BTreeMap<i64, InvitationRow>,
    invite_links: BTreeMap<i64, LinkRow>,
    /// Counts joins, so that members are ordered by when they joined.
    joins: u64,
    /// `(creator's account id, client id)` → the chat that creation made.
    chat_keys: HashMap<(i64, String), ChatId>,
    /// Content address → its records by id (the order `readable_media` picks from).
    media: HashMap<String, BTreeMap<i64, MediaRow>>,
    /// Pushers, mutes and queued notifications.
    push: push::PushState,
}

#[derive(Debug)]
struct MediaRow {
    /// The record, its owner shown as [`deleted_author`] once the account is deleted.
    media: Media,
    /// The owner's account id; `None` once it is deleted.
    owner_id: Option<i64>,
}

#[derive(Debug)]
struct InvitationRow {
    chat: ChatId,
    inviter: String,
    invitee: String,
    state: InvitationState,
    created_at: Timestamp,
}

#[derive(Debug)]
struct LinkRow {
    chat: ChatId,
    creator: String,
    token_hash: String,
    created_at: Timestamp,
    expires_at: Timestamp,
    max_uses: Option<u32>,
    uses: u32,
    revoked: bool,
}

impl LinkRow {
    fn usage(&self) -> LinkUse {
        LinkUse {
            revoked: self.revoked,
            expires_at: self.expires_at,
            max_uses: self.max_uses,
            uses: self.uses,
        }
    }

    fn view(&self, id: i64) -> InviteLink {
        InviteLink {
            id,
            chat_id: self.chat,
            created_by: self.creator.clone(),
            created_at: self.created_at,
            expires_at: self.expires_at,
            max_uses: self.max_uses,
            uses: self.uses,
            revoked: self.revoked,
        }
    }
}

#[derive(Debug)]
struct UserRow {
    id: i64,
    email: String,
    password_hash: String,
    timezone: String,
    languages: BTreeSet<String>,
    avatar: Option<String>,
    contacts: BTreeSet<String>,
    token_generation: i64,
}

#[derive(Debug)]
struct ChatRow {
    kind: ChatKind,
    name: Option<String>,
    topic: Option<String>,
    /// Username → role, and when they joined (the order of joins).
    members: BTreeMap<String, (Role, u64)>,
    created_at: Timestamp,
    /// `messages[i]` has sequence number `i + 1`.
    messages: Vec<Message>,
    /// `author_ids[i]`: the account id of the author of `messages[i]`.
    author_ids: Vec<i64>,
    /// `(author's account id, client id)` → index in `messages`.
    client_ids: HashMap<(i64, String), usize>,
    reads: BTreeMap<String, Seq>,
}

impl MemoryStorage {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the maps half-updated in a way that
        // matters more than losing the whole store, so keep serving.
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl ChatRow {
    fn roster(&self) -> Roster {
        let mut members: Vec<(&String, &(Role, u64))> = self.members.iter().collect();
        members.sort_by_key(|(name, (_, joined))| (*joined, *name));
        Roster {
            kind: self.kind,
            name: self.name.clone(),
            topic: self.topic.clone(),
            members: members.into_iter().map(|(name, (role, _))| (name.clone(), *role)).collect(),
        }
    }
}

impl Inner {
    fn next_id(&mut self) -> i64 {
        self.last_id += 1;
        self.last_id
    }

    fn language_name(&self, name: &str) -> Result<String> {
        self.languages
            .get(&name.to_lowercase())
            .map(|language| language.name.clone())
            .ok_or_else(|| Error::LanguageNotFound(name.to_owned()))
    }

    fn user_view(&self, username: &str, row: &UserRow) -> User {
        User {
            id: row.id,
            username: username.to_owned(),
            timezone: row.timezone.clone(),
            languages: row.languages.iter().cloned().collect(),
            avatar: row.avatar.clone(),
        }
    }

    fn user_row(&self, username: &str) -> Result<&UserRow> {
        self.users.get(username).ok_or_else(|| Error::UserNotFound(username.to_owned()))
    }

    fn chat_view(&self, id: ChatId, row: &ChatRow) -> Chat {
        let group = row.kind == ChatKind::Group;
        Chat {
            id,
            kind: row.kind,
            name: row.name.clone(),
            topic: row.topic.clone(),
            participants: row
                .members
                .iter()
                .map(|(username, (role, _))| Participant {
                    username: username.clone(),
                    role: group.then_some(*role),
                })
                .collect(),
            last_seq: Seq(row.messages.len() as i64),
            created_at: row.created_at,
        }
    }

    fn chat_row(&self, id: ChatId) -> Result<&ChatRow> {
        self.chats.get(&id).ok_or(Error::ChatNotFound(id))
    }

    /// The chat, if `username` takes part in it.
    fn chat_for(&mut self, id: ChatId, username: &str) -> Result<&mut ChatRow> {
        let row = self.chats.get_mut(&id).ok_or(Error::ChatNotFound(id))?;
        if row.members.contains_key(username) {
            Ok(row)
        } else {
            Err(Error::NotParticipant { chat: id, username: username.to_owned() })
        }
    }

    fn existing_users(&self, names: &[String]) -> Result<BTreeSet<String>> {
        names.iter().map(|name| self.user_row(name).map(|_| name.clone())).collect()
    }

    /// The author's account id and the index of their own post at `seq` in the chat's items.
    fn own_message(&mut self, chat: ChatId, seq: Seq, author: &str) -> Result<(i64, usize)> {
        let author_id = self.user_row(author)?.id;
        let row = self.chat_for(chat, author)?;
        let index = usize::try_from(seq.0 - 1).map_err(|_| Error::MessageNotFound { chat, seq })?;
        // Events are not posts: they cannot be edited or deleted.
        if row.messages.get(index).is_none_or(|message| !message.is_post()) {
            return Err(Error::MessageNotFound { chat, seq });
        }
        if row.author_ids.get(index).is_some_and(|id| *id != author_id) {
            return Err(Error::NotAuthor { chat, seq });
        }
        Ok((author_id, index))
    }

    /// The kind and target of the item `author_id` stored in `chat` under `key`, if any.
    fn keyed(
        &self,
        chat: ChatId,
        author_id: i64,
        key: Option<&str>,
    ) -> Option<membership::KeyedItem> {
        let row = self.chats.get(&chat)?;
        let index = row.client_ids.get(&(author_id, key?.to_owned()))?;
        row.messages.get(*index).map(|item| membership::KeyedItem {
            kind: item.kind,
            target: item.target,
            member: item.member.clone(),
        })
    }

    /// Store `draft` as `author`'s event in `chat`, with the chat's next sequence number, under
    /// the idempotency key `key`.
    fn record(
        &mut self,
        chat: ChatId,
        (author, author_id): (&str, i64),
        (draft, key): (Draft, Option<&str>),
        target: Option<Seq>,
        at: Timestamp,
    ) -> Result<Message> {
        let id = self.next_id();
        let row = self.chats.get_mut(&chat).ok_or(Error::ChatNotFound(chat))?;
        let event = Message {
            id,
            chat_id: chat,
            seq: Seq(row.messages.len() as i64 + 1),
            author: author.to_owned(),
            content: draft.content,
            timestamp: at,
            client_id: key.map(str::to_owned),
            edited_at: None,
            deleted: false,
            kind: draft.kind,
            target,
            member: draft.member,
            role: draft.role,
            attachments: Vec::new(),
        };
        if let Some(key) = key {
            row.client_ids.insert((author_id, key.to_owned()), row.messages.len());
        }
        row.messages.push(event.clone());
        row.author_ids.push(author_id);
        Ok(event)
    }

    /// Apply a membership plan's effects and record its events, the first under `key`.
    fn apply(
        &mut self,
        chat: ChatId,
        author: (&str, i64),
        plan: membership::Plan,
        at: Timestamp,
        key: Option<&str>,
    ) -> Result<Vec<Message>> {
        for effect in plan.effects {
            self.joins += 1;
            let joined = self.joins;
            let row = self.chats.get_mut(&chat).ok_or(Error::ChatNotFound(chat))?;
            match effect {
                Effect::Add(name, role) => {
                    // Whoever joins, however, has their pending invitation settled.
                    for invitation in self.invitations.values_mut().filter(|invitation| {
                        invitation.chat == chat
                            && invitation.invitee == name
                            && invitation.state == InvitationState::Pending
                    }) {
                        invitation.state = InvitationState::Accepted;
                    }
                    row.members.insert(name, (role, joined));
                }
                Effect::Remove(name) => {
                    row.members.remove(&name);
                    row.reads.remove(&name);
                }
                Effect::SetRole(name, role) => {
                    if let Some(member) = row.members.get_mut(&name) {
                        member.0 = role;
                    }
                }
                Effect::SetName(name) => row.name = name,
                Effect::SetTopic(topic) => row.topic = topic,
                Effect::DeleteChat => {
                    self.forget_chat(chat);
                    return Ok(Vec::new());
                }
            }
        }
        let keys = std::iter::once(key).chain(std::iter::repeat(None));
        let drafts = plan.drafts.into_iter().zip(keys);
        drafts.map(|draft| self.record(chat, author, draft, None, at)).collect()
    }

    /// Delete a chat, with its invitations, invite links and attachments.
    fn forget_chat(&mut self, chat: ChatId) {
        self.chats.remove(&chat);
        self.invitations.retain(|_, invitation| invitation.chat != chat);
        self.invite_links.retain(|_, link| link.chat != chat);
        self.media.retain(|_, rows| {
            rows.retain(|_, row| row.media.chat != Some(chat));
            !rows.is_empty()
        });
    }

    /// Invitation `id` as clients see it (`None` if there is none, or its chat is gone).
    fn invitation_view(&self, id: i64) -> Option<Invitation> {
        let row = self.invitations.get(&id)?;
        let chat = self.chats.get(&row.chat)?;
        Some(Invitation {
            id,
            chat_id: row.chat,
            kind: chat.kind,
            name: chat.name.clone(),
            inviter: row.inviter.clone(),
            invitee: row.invitee.clone(),
            state: row.state,
            created_at: row.created_at,
        })
    }

    /// Settle pending invitation `id` as `state`, once the rules allowed it; returns it.
    fn settle(&mut self, id: i64, state: InvitationState) -> Result<Invitation> {
        let row = self.invitations.get_mut(&id).ok_or(Error::InvitationNotFound(id))?;
        row.state = state;
        self.invitation_view(id).ok_or(Error::InvitationNotFound(id))
    }

    /// `by` joins `chat` on their own, by the rules of `membership::join`.
    fn join(&mut self, chat: ChatId, by: &str, max: usize, at: Timestamp) -> Result<ChatChanged> {
        let plan = membership::join(chat, &self.chat_row(chat)?.roster(), by, max)?;
        let author_id = self.user_row(by)?.id;
        let added = plan.added.clone();
        let events = self.apply(chat, (by, author_id), plan, at, None)?;
        let chat = self.chat_view(chat, self.chat_row(chat)?);
        Ok(ChatChanged { chat, events, gone: Vec::new(), added, deleted: false, replayed: false })
    }

    fn account_view(&self, username: &str, row: &UserRow) -> Account {
        Account {
            user: self.user_view(username, row),
            email: row.email.clone(),
            password_hash: row.password_hash.clone(),
            token_generation: row.token_generation,
        }
    }
}

#[async_trait]
impl Storage for MemoryStorage {
    async fn add_language(&self, name: &str) -> Result<Language> {
        let mut inner = self.lock();
        if let Some(language) = inner.languages.get(&name.to_lowercase()) {
            return Ok(language.clone());
        }
        let language = Language { id: inner.next_id(), name: name.to_owned() };
        inner.languages.insert(name.to_lowercase(), language.clone());
        Ok(language)
    }

    async fn languages_after(&self, after: Option<&str>, limit: u32) -> Result<Vec<Language>> {
        let mut languages = self.languages().await?;
        languages.retain(|language| after.is_none_or(|after| language.name.as_str() > after));
        languages.truncate(limit as usize);
        Ok(languages)
    }

    async fn languages(&self) -> Result<Vec<Language>> {
        let mut languages: Vec<Language> = self.lock().languages.values().cloned().collect();
        languages.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(languages)
    }

    async fn create_user(&self, user: NewUser) -> Result<User> {
        let mut inner = self.lock();
        let key = username_key(&user.username);
        if inner.users.contains_key(&user.username) || inner.username_keys.contains_key(&key) {
            return Err(Error::UsernameTaken(user.username));
        }
        let languages = user
            .languages
            .iter()
            .map(|name| inner.language_name(name))
            .collect::<Result<BTreeSet<_>>>()?;
        let row = UserRow {
            id: inner.next_id(),
            email: user.email,
            password_hash: user.password_hash,
            timezone: user.timezone,
            languages,
            avatar: None,
            contacts: BTreeSet::new(),
            token_generation: 0,
        };
        let view = inner.user_view(&user.username, &row);
        inner.username_keys.insert(key, user.username.clone());
        inner.users.insert(user.username, row);
        Ok(view)
    }

    async fn account(&self, username: &str) -> Result<Option<Account>> {
        let inner = self.lock();
        Ok(inner.users.get(username).map(|row| inner.account_view(username, row)))
    }

    async fn account_by_id(&self, id: i64) -> Result<Option<Account>> {
        let inner = self.lock();
        let found = inner.users.iter().find(|(_, row)| row.id == id);
        Ok(found.map(|(username, row)| inner.account_view(username, row)))
    }

    async fn token_holder(&self, id: i64) -> Result<Option<TokenHolder>> {
        let inner = self.lock();
        let found = inner.users.iter().find(|(_, row)| row.id == id);
        Ok(found.map(|(username, row)| TokenHolder {
            username: username.clone(),
            token_generation: row.token_generation,
        }))
    }

    async fn user(&self, username: &str) -> Result<Option<User>> {
        let inner = self.lock();
        Ok(inner.users.get(username).map(|row| inner.user_view(username, row)))
    }

    async fn users(&self, after: Option<&str>, limit: u32) -> Result<Vec<User>> {
        let inner = self.lock();
        Ok(inner
            .users
            .iter()
            .filter(|(name, _)| after.is_none_or(|after| name.as_str() > after))
            .take(limit as usize)
            .map(|(name, row)| inner.user_view(name, row))
            .collect())
    }

    async fn users_by_language(
        &self,
        language: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<User>> {
        let inner = self.lock();
        let Ok(language) = inner.language_name(language) else {
            return Ok(Vec::new());
        };
        Ok(inner
            .users
            .iter()
            .filter(|(name, _)| after.is_none_or(|after| name.as_str() > after))
            .filter(|(_, row)| row.languages.contains(&language))
            .take(limit as usize)
            .map(|(name, row)| inner.user_view(name, row))
            .collect())
    }

    async fn update_user(&self, username: &str, update: UserUpdate) -> Result<User> {
        let mut inner = self.lock();
        let languages = match &update.languages {
            Some(names) => Some(
                names
                    .iter()
                    .map(|name| inner.language_name(name))
                    .collect::<Result<BTreeSet<_>>>()?,
            ),
            None => None,
        };
        let row =
            inner.users.get_mut(username).ok_or_else(|| Error::UserNotFound(username.into()))?;
        if let Some(email) = update.email {
            row.email = email;
        }
        if let Some(hash) = update.password_hash {
            row.password_hash = hash;
            row.token_generation += 1;
        }
        if let Some(timezone) = update.timezone {
            row.timezone = timezone;
        }
        if let Some(languages) = languages {
            row.languages = languages;
        }
        if let Some(avatar) = update.avatar {
            row.avatar = avatar;
        }
        let row = inner.user_row(username)?;
        Ok(inner.user_view(username, row))
    }

    async fn delete_user(&self, username: &str) -> Result<()> {
        let mut inner = self.lock();
        let Some(removed) = inner.users.remove(username) else {
            return Err(Error::UserNotFound(username.to_owned()));
        };
        inner.username_keys.retain(|_, name| name != username);
        for row in inner.users.values_mut() {
            row.contacts.remove(username);
        }
        let shown = deleted_author(username);
        let mut left = Vec::new();
        for (id, chat) in inner.chats.iter_mut() {
            if chat.members.contains_key(username) {
                left.push((*id, chat.roster()));
            }
            let ChatRow { messages, author_ids, .. } = chat;
            for (message, _) in
                messages.iter_mut().zip(author_ids.iter()).filter(|(_, id)| **id == removed.id)
            {
                message.author = shown.clone();
            }
        }
        // Each chat records the leaving (and a group its new owner), as if they had left.
        for (chat, roster) in left {
            let mut plan = membership::plan(chat, &roster, username, &ChatChange::Leave)?;
            for draft in plan.drafts.iter_mut().filter(|d| d.member.as_deref() == Some(username)) {
                draft.member = Some(shown.clone());
            }
            inner.apply(chat, (&shown, removed.id), plan, Timestamp::now(), None)?;
        }
        inner.bot_tokens.retain(|_, token| token.username != username);
        inner.invitations.retain(|_, row| row.inviter != username && row.invitee != username);
        inner.invite_links.retain(|_, link| link.creator != username);
        inner.forget_pushers_of(username);
        // Their uploads stay (their chats' members still read them), under the deleted name.
        for row in inner.media.values_mut().flat_map(BTreeMap::values_mut) {
            if row.owner_id == Some(removed.id) {
                row.owner_id = None;
                row.media.owner = shown.clone();
            }
        }
        Ok(())
    }

    async fn add_contact(&self, username: &str, contact: &str) -> Result<()> {
        let mut inner = self.lock();
        inner.user_row(contact)?;
        let row =
            inner.users.get_mut(username).ok_or_else(|| Error::UserNotFound(username.into()))?;
        row.contacts.insert(contact.to_owned());
        Ok(())
    }

    async fn remove_contact(&self, username: &str, contact: &str) -> Result<()> {
        let mut inner = self.lock();
        let row =
            inner.users.get_mut(username).ok_or_else(|| Error::UserNotFound(username.into()))?;
        row.contacts.remove(contact);
        Ok(())
    }

    async fn contacts(&self, username: &str) -> Result<Vec<String>> {
        let inner = self.lock();
        Ok(inner.user_row(username)?.contacts.iter().cloned().collect())
    }

    async fn create_chat(&self, new: NewChat) -> Result<CreatedChat> {
        let mut inner = self.lock();
        let creator_id = inner.user_row(&new.creator)?.id;
        let key = new.client_id.clone().map(|client_id| (creator_id, client_id));
        if let Some(id) = key.as_ref().and_then(|key| inner.chat_keys.get(key))
            && let Some(row) = inner.chats.get(id)
        {
            // Its creator may have left it since: then they see nothing of it.
            if !row.members.contains_key(&new.creator) {
                return Err(Error::NotParticipant { chat: *id, username: new.creator });
            }
            return Ok(CreatedChat { chat: inner.chat_view(*id, row), created: false });
        }
        let names = inner.existing_users(&new.members)?;
        inner.joins += 1;
        let joined = inner.joins;
        let role_of = |name: &String| match new.kind {
            ChatKind::Group if *name == new.creator => Role::Owner,
            _ => Role::Member,
        };
        let members = names.into_iter().map(|name| (name.clone(), (role_of(&name), joined)));
        let members = members.collect();
        let id = ChatId(inner.next_id());
        let row = ChatRow {
            kind: new.kind,
            name: new.name.filter(|name| !name.is_empty()),
            topic: new.topic.filter(|topic| !topic.is_empty()),
            members,
            created_at: new.at,
            messages: Vec::new(),
            author_ids: Vec::new(),
            client_ids: HashMap::new(),
            reads: BTreeMap::new(),
        };
        let chat = inner.chat_view(id, &row);
        inner.chats.insert(id, row);
        if let Some(key) = key {
            inner.chat_keys.insert(key, id);
        }
        Ok(CreatedChat { chat, created: true })
    }

    async fn chat(&self, id: ChatId) -> Result<Option<Chat>> {
        let inner = self.lock();
        Ok(inner.chats.get(&id).map(|row| inner.chat_view(id, row)))
    }

    async fn chats_of(
        &self,
        username: &str,
        after: Option<ChatId>,
        limit: u32,
    ) -> Result<Vec<Chat>> {
        let inner = self.lock();
        Ok(inner
            .chats
            .iter()
            .filter(|(id, _)| after.is_none_or(|after| **id > after))
            .filter(|(_, row)| row.members.contains_key(username))
            .take(limit as usize)
            .map(|(id, row)| inner.chat_view(*id, row))
            .collect())
    }

    async fn chat_partners(&self, username: &str) -> Result<Vec<String>> {
        let inner = self.lock();
        let partners: BTreeSet<&String> = inner
            .chats
            .values()
            .filter(|row| row.members.contains_key(username))
            .flat_map(|row| row.members.keys())
            .filter(|name| name.as_str() != username)
            .collect();
        Ok(partners.into_iter().cloned().collect())
    }

    async fn is_participant(&self, chat: ChatId, username: &str) -> Result<bool> {
        Ok(self.lock().chat_row(chat)?.members.contains_key(username))
    }

    async fn change_chat(
        &self,
        chat: ChatId,
        by: &str,
        change: ChatChange,
        at: Timestamp,
        key: Option<&str>,
    ) -> Result<ChatChanged> {
        let mut inner = self.lock();
        let roster = inner.chat_row(chat)?.roster();
        let author_id = inner.user_row(by)?.id;
        if let Some(stored) = inner.keyed(chat, author_id, key) {
            let view = inner.chat_view(chat, inner.chat_row(chat)?);
            return membership::replay(chat, &roster, by, &change, &stored, key, view);
        }
        let plan = membership::plan(chat, &roster, by, &change)?;
        inner.existing_users(&plan.added)?;
        let (gone, added, deleted) = (plan.gone.clone(), plan.added.clone(), plan.deletes_chat());
        let mut before = inner.chat_view(chat, inner.chat_row(chat)?);
        let events = inner.apply(chat, (by, author_id), plan, at, key)?;
        let chat = match inner.chats.get(&chat) {
            Some(row) => inner.chat_view(chat, row),
            None => {
                before.participants.retain(|p| !gone.contains(&p.username));
                before
            }
        };
        Ok(ChatChanged { chat, events, gone, added, deleted, replayed: false })
    }

    async fn delete_chat(&self, chat: ChatId, by: &str) -> Result<Vec<String>> {
        let mut inner = self.lock();
        let row = inner.chat_row(chat)?;
        membership::may_delete(chat, &row.roster(), by)?;
        let members = row.members.keys().cloned().collect();
        inner.forget_chat(chat);
        Ok(members)
    }

    async fn append_message(&self, new: NewMessage) -> Result<Appended> {
        let mut inner = self.lock();
        let id = inner.last_id + 1;
        let author_id = inner.user_row(&new.author).map(|row| row.id);
        let row = inner.chat_for(new.chat_id, &new.author)?;
        // A participant always has an account (deleting one removes it from its chats).
        let author_id = author_id?;
        let key = new.client_id.clone().map(|client_id| (author_id, client_id));
        if let Some(index) = key.as_ref().and_then(|key| row.client_ids.get(key)) {
            let stored = &row.messages[*index];
            if !stored.is_post() {
                let client_id = stored.client_id.clone().unwrap_or_default();
                return Err(Error::ClientIdReused { chat: new.chat_id, client_id });
            }
            return Ok(Appended { message: stored.clone(), created: false });
        }
        let message = new.into_post(id, Seq(row.messages.len() as i64 + 1));
        if let Some(key) = key {
            row.client_ids.insert(key, row.messages.len());
        }
        row.messages.push(message.clone());
        row.author_ids.push(author_id);
        inner.last_id = id;
        Ok(Appended { message, created: true })
    }

    async fn messages_before(
        &self,
        chat: ChatId,
        reader: &str,
        before: Option<Seq>,
        limit: u32,
    ) -> Result<Vec<Message>> {
        let mut inner = self.lock();
        let row = inner.chat_for(chat, reader)?;
        let end = match before {
            Some(Seq(before)) => usize::try_from(before - 1).unwrap_or(0).min(row.messages.len()),
            None => row.messages.len(),
        };
        let posts = row.messages[..end].iter().rev().filter(|message| message.is_post());
        Ok(posts.take(limit as usize).cloned().collect())
    }

    async fn messages_after(
        &self,
        chat: ChatId,
        reader: &str,
        after: Seq,
        limit: u32,
        items: Items,
    ) -> Result<Vec<Message>> {
        let mut inner = self.lock();
        let row = inner.chat_for(chat, reader)?;
        let start = usize::try_from(after.0).unwrap_or(0).min(row.messages.len());
        let wanted = |message: &&Message| items == Items::All || message.is_post();
        Ok(row.messages[start..].iter().filter(wanted).take(limit as usize).cloned().collect())
    }

    async fn edit_message(
        &self,
        chat: ChatId,
        seq: Seq,
        editor: &str,
        content: &str,
        at: Timestamp,
        key: Option<&str>,
    ) -> Result<Revised> {
        let mut inner = self.lock();
        let (author_id, index) = inner.own_message(chat, seq, editor)?;
        let replay = inner.keyed(chat, author_id, key);
        let row = inner.chat_for(chat, editor)?;
        if let Some(stored) = replay {
            let message = row.messages[index].clone();
            return membership::revision_replay(chat, (EventKind::Edit, seq), stored, key, message);
        }
        let message = &mut row.messages[index];
        if message.deleted {
            return Err(Error::MessageDeleted { chat, seq });
        }
        message.content = content.to_owned();
        message.edited_at = Some(at);
        let message = message.clone();
        let draft = Draft::text(EventKind::Edit, Some(content));
        let event = inner.record(chat, (editor, author_id), (draft, key), Some(seq), at)?;
        Ok(Revised { message, event: Some(event) })
    }

    async fn delete_message(
        &self,
        chat: ChatId,
        seq: Seq,
        by: &str,
        at: Timestamp,
        key: Option<&str>,
    ) -> Result<Revised> {
        let mut inner = self.lock();
        let (author_id, index) = inner.own_message(chat, seq, by)?;
        let replay = inner.keyed(chat, author_id, key);
        let row = inner.chat_for(chat, by)?;
        if let Some(stored) = replay {
            let message = row.messages[index].clone();
            return membership::revision_replay(
                chat,
                (EventKind::Delete, seq),
                stored,
                key,
                message,
            );
        }
        let message = &mut row.messages[index];
        if message.deleted {
            // Deleting twice is not an error: the message is gone either way.
            return Ok(Revised { message: message.clone(), event: None });
        }
        message.content.clear();
        message.deleted = true;
        message.attachments.clear();
        message.edited_at = Some(at);
        let message = message.clone();
        let draft = Draft::text(EventKind::Delete, None);
        let event = inner.record(chat, (by, author_id), (draft, key), Some(seq), at)?;
        Ok(Revised { message, event: Some(event) })
    }

    async fn mark_read(&self, chat: ChatId, username: &str, seq: Seq) -> Result<ReadMark> {
        let mut inner = self.lock();
        let row = inner.chat_for(chat, username)?;
        if seq.0 > row.messages.len() as i64 {
            return Err(Error::ReadBeyondEnd { chat, seq });
        }
        let stored = row.reads.entry(username.to_owned()).or_default();
        let moved = seq > *stored;
        *stored = (*stored).max(seq);
        Ok(ReadMark { seq: *stored, moved })
    }

    async fn read_positions(&self, chat: ChatId) -> Result<Vec<ReadPosition>> {
        let inner = self.lock();
        let row = inner.chat_row(chat)?;
        Ok(row
            .members
            .keys()
            .map(|username| ReadPosition {
                username: username.clone(),
                seq: row.reads.get(username).copied().unwrap_or_default(),
            })
            .collect())
    }

    async fn invite(
        &self,
        chat: ChatId,
        by: &str,
        invitee: &str,
        at: Timestamp,
    ) -> Result<Invited> {
        let mut inner = self.lock();
        let roster = inner.chat_row(chat)?.roster();
        membership::may_admit(chat, &roster, by, Admission::Invite)?;
        inner.user_row(invitee)?;
        membership::invitable(chat, &roster, invitee)?;
        let pending = inner.invitations.iter().find(|(_, row)| {
            row.chat == chat && row.invitee == invitee && row.state == InvitationState::Pending
        });
        let (id, created) = match pending {
            Some((id, _)) => (*id, false),
            None => {
                let id = inner.next_id();
                let row = InvitationRow {
                    chat,
                    inviter: by.to_owned(),
                    invitee: invitee.to_owned(),
                    state: InvitationState::Pending,
                    created_at: at,
                };
                inner.invitations.insert(id, row);
                (id, true)
            }
        };
        let invitation = inner.invitation_view(id).ok_or(Error::InvitationNotFound(id))?;
        Ok(Invited { invitation, created })
    }

    async fn invitation(&self, id: i64) -> Result<Option<Invitation>> {
        Ok(self.lock().invitation_view(id))
    }

    async fn invitations_of(
        &self,
        invitee: &str,
        after: Option<i64>,
        limit: u32,
    ) -> Result<Vec<Invitation>> {
        let inner = self.lock();
        Ok(inner
            .invitations
            .iter()
            .filter(|(id, row)| {
                after.is_none_or(|after| **id > after)
                    && row.invitee == invitee
                    && row.state == InvitationState::Pending
            })
            .filter_map(|(id, _)| inner.invitation_view(*id))
            .take(limit as usize)
            .collect())
    }

    async fn accept_invitation(
        &self,
        id: i64,
        by: &str,
        max: usize,
        at: Timestamp,
    ) -> Result<ChatChanged> {
        let mut inner = self.lock();
        let invitation = inner.invitation_view(id).ok_or(Error::InvitationNotFound(id))?;
        let accepted = InvitationState::Accepted;
        let pending =
            membership::may_answer(id, &invitation.invitee, invitation.state, by, accepted)?;
        let row = inner.chat_row(invitation.chat_id)?;
        if !pending {
            // Accepted before: answered again while they are still in the chat.
            return match row.members.contains_key(by) {
                true => Ok(membership::already_joined(inner.chat_view(invitation.chat_id, row))),
                false => Err(Error::InvitationNotFound(id)),
            };
        }
        // The rules pass before anything changes (this backend has no rollback).
        let roster = row.roster();
        membership::join(invitation.chat_id, &roster, by, max)?;
        inner.settle(id, InvitationState::Accepted)?;
        inner.join(invitation.chat_id, by, max, at)
    }

    async fn decline_invitation(&self, id: i64, by: &str, _at: Timestamp) -> Result<Invitation> {
        let mut inner = self.lock();
        let invitation = inner.invitation_view(id).ok_or(Error::InvitationNotFound(id))?;
        let declined = InvitationState::Declined;
        if !membership::may_answer(id, &invitation.invitee, invitation.state, by, declined)? {
            return Ok(invitation);
        }
        inner.settle(id, InvitationState::Declined)
    }

    async fn cancel_invitation(&self, id: i64, by: &str, _at: Timestamp) -> Result<Invitation> {
        let mut inner = self.lock();
        let invitation = inner.invitation_view(id).ok_or(Error::InvitationNotFound(id))?;
        let roster = inner.chat_row(invitation.chat_id)?.roster();
        let settled = (id, invitation.inviter.as_str(), invitation.state);
        membership::may_cancel(invitation.chat_id, &roster, settled, by)?;
        inner.settle(id, InvitationState::Cancelled)
    }

    async fn create_invite_link(
        &self,
        chat: ChatId,
        by: &str,
        link: NewInviteLink,
    ) -> Result<InviteLink> {
        let mut inner = self.lock();
        membership::may_admit(chat, &inner.chat_row(chat)?.roster(), by, Admission::Links)?;
        if inner.invite_links.values().any(|row| row.token_hash == link.token_hash) {
            // As a unique index would refuse it (tokens are random: this never happens).
            return Err(Error::Database("invite link token hash already stored".into()));
        }
        let id = inner.next_id();
        let row = LinkRow {
            chat,
            creator: by.to_owned(),
            token_hash: link.token_hash,
            created_at: link.at,
            expires_at: link.expires_at,
            max_uses: link.max_uses,
            uses: 0,
            revoked: false,
        };
        let view = row.view(id);
        inner.invite_links.insert(id, row);
        Ok(view)
    }

    async fn invite_links(
        &self,
        chat: ChatId,
        by: &str,
        after: Option<i64>,
        limit: u32,
    ) -> Result<Vec<InviteLink>> {
        let inner = self.lock();
        membership::may_admit(chat, &inner.chat_row(chat)?.roster(), by, Admission::Links)?;
        Ok(inner
            .invite_links
            .iter()
            .filter(|(id, row)| row.chat == chat && after.is_none_or(|after| **id > after))
            .take(limit as usize)
            .map(|(id, row)| row.view(*id))
            .collect())
    }

    async fn revoke_invite_link(&self, chat: ChatId, by: &str, link: i64) -> Result<()> {
        let mut inner = self.lock();
        membership::may_admit(chat, &inner.chat_row(chat)?.roster(), by, Admission::Links)?;
        match inner.invite_links.get_mut(&link) {
            Some(row) if row.chat == chat => {
                row.revoked = true;
                Ok(())
            }
            _ => Err(Error::InviteLinkNotFound),
        }
    }

    async fn invite_link_chat(&self, token_hash: &str) -> Result<Option<ChatId>> {
        let inner = self.lock();
        Ok(inner.invite_links.values().find(|row| row.token_hash == token_hash).map(|row| row.chat))
    }

    async fn join_by_link(
        &self,
        token_hash: &str,
        by: &str,
        max: usize,
        at: Timestamp,
    ) -> Result<ChatChanged> {
        let mut inner = self.lock();
        let (id, link) = inner
            .invite_links
            .iter()
            .find(|(_, row)| row.token_hash == token_hash)
            .ok_or(Error::InviteLinkNotFound)?;
        let (id, chat) = (*id, link.chat);
        let usage = link.usage();
        let row = inner.chats.get(&chat).ok_or(Error::InviteLinkNotFound)?;
        if row.members.contains_key(by) {
            // A member joining again (a retry whose reply was lost): nothing changes.
            membership::link_repeatable(&usage, at)?;
            return Ok(membership::already_joined(inner.chat_view(chat, row)));
        }
        membership::link_usable(&usage, at)?;
        let roster = row.roster();
        // The rules pass before anything changes (this backend has no rollback).
        membership::join(chat, &roster, by, max)?;
        if let Some(link) = inner.invite_links.get_mut(&id) {
            link.uses += 1;
        }
        inner.join(chat, by, max, at)
    }

    async fn create_bot_token(
        &self,
        username: &str,
        name: &str,
        at: Timestamp,
    ) -> Result<BotToken> {
        let mut inner = self.lock();
        inner.user_row(username)?;
        let token = BotToken {
            id: inner.next_id(),
            username: username.to_owned(),
            name: name.to_owned(),
            created_at: at,
            revoked: false,
        };
        inner.bot_tokens.insert(token.id, token.clone());
        Ok(token)
    }

    async fn bot_tokens(&self, username: &str) -> Result<Vec<BotToken>> {
        let inner = self.lock();
        inner.user_row(username)?;
        Ok(inner.bot_tokens.values().filter(|t| t.username == username).cloned().collect())
    }

    async fn bot_token(&self, id: i64) -> Result<Option<BotToken>> {
        Ok(self.lock().bot_tokens.get(&id).cloned())
    }

    async fn revoke_bot_token(&self, username: &str, id: i64) -> Result<()> {
        let mut inner = self.lock();
        match inner.bot_tokens.get_mut(&id) {
            Some(token) if token.username == username => {
                token.revoked = true;
                Ok(())
            }
            _ => Err(Error::BotTokenNotFound(id)),
        }
    }

    async fn add_media(&self, new: NewMedia) -> Result<Media> {
        super::check_media(&new)?;
        let mut inner = self.lock();
        let owner_id = inner.user_row(&new.owner)?.id;
        if let Some(chat) = new.chat {
            inner.chat_for(chat, &new.owner)?;
        }
        let stored = inner.media.get(&new.id).and_then(|rows| {
            rows.values().find(|row| {
                row.owner_id == Some(owner_id)
                    && row.media.kind == new.kind
                    && row.media.chat == new.chat
            })
        });
        if let Some(row) = stored {
            return Ok(row.media.clone());
        }
        let id = inner.next_id();
        let media = new.into_media();
        let row = MediaRow { media: media.clone(), owner_id: Some(owner_id) };
        inner.media.entry(media.id.clone()).or_default().insert(id, row);
        Ok(media)
    }

    async fn readable_media(
        &self,
        id: &str,
        reader: &str,
        in_chat: Option<ChatId>,
    ) -> Result<Option<Media>> {
        let inner = self.lock();
        if !inner.users.contains_key(reader) {
            return Ok(None);
        }
        let wanted = |row: &&MediaRow| in_chat.is_none_or(|chat| row.media.chat == Some(chat));
        let readable = |row: &&MediaRow| match (row.media.kind, row.media.chat) {
            (MediaKind::Avatar, _) => true,
            (MediaKind::Attachment, Some(chat)) => {
                inner.chats.get(&chat).is_some_and(|chat| chat.members.contains_key(reader))
            }
            (MediaKind::Attachment, None) => false,
        };
        let rows = inner.media.get(id).into_iter().flat_map(BTreeMap::values);
        Ok(rows.filter(wanted).find(readable).map(|row| row.media.clone()))
    }

    async fn set_pusher(&self, username: &str, pusher: NewPusher) -> Result<()> {
        self.lock().set_pusher(username, pusher)
    }

    async fn remove_pusher(&self, username: &str, app_id: &str, pushkey: &str) -> Result<()> {
        self.lock().remove_pusher(username, app_id, pushkey);
        Ok(())
    }

    async fn push_settings(&self, username: &str) -> Result<PushSettings> {
        self.lock().push_settings(username)
    }

    async fn mute_chat(&self, chat: ChatId, username: &str, muted: bool) -> Result<()> {
        self.lock().mute_chat(chat, username, muted)
    }

    async fn push_targets(
        &self,
        chat: ChatId,
        usernames: &[String],
        up_to: Seq,
    ) -> Result<Vec<PushTarget>> {
        self.lock().push_targets(chat, usernames, up_to)
    }

    async fn queue_pushes(&self, pushes: Vec<NewPush>) -> Result<()> {
        self.lock().queue_pushes(pushes);
        Ok(())
    }

    async fn claim_pushes(
        &self,
        now: Timestamp,
        until: Timestamp,
        limit: u32,
    ) -> Result<Vec<QueuedPush>> {
        Ok(self.lock().claim_pushes(now, until, limit))
    }

    async fn push_sent(&self, ids: &[i64]) -> Result<()> {
        let mut inner = self.lock();
        for id in ids {
            inner.push_sent(*id);
        }
        Ok(())
    }

    async fn push_failed(&self, id: i64, attempts: u32, due: Timestamp) -> Result<()> {
        self.lock().push_failed(id, attempts, due);
        Ok(())
    }

    async fn reject_pushkey(&self, app_id: &str, pushkey: &str) -> Result<()> {
        self.lock().reject_pushkey(app_id, pushkey);
        Ok(())
    }

    async fn queued_pushes(&self) -> Result<u64> {
        Ok(self.lock().queued_pushes())
    }
}
