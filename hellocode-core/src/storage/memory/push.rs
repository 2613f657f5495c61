//! The in-memory backend's push notifications: pushers, mutes and the queue, with the same
//! rules as the SQL backends (checked by the same conformance cases).

use std::collections::BTreeMap;

use super::Inner;
use crate::model::{
    ChatId, ChatKind, MAX_PUSHERS_PER_USER, NewPush, NewPusher, PushSettings, PushTarget, Pusher,
    QueuedPush, Seq, Timestamp,
};
use crate::{Error, Result};

/// Pushers by `(app id, push key)`, unique across users, and their queue.
#[derive(Debug, Default)]
pub(super) struct PushState {
    pushers: BTreeMap<(String, String), PusherRow>,
    /// `(chat, username)` → the join (counter value) the mute was made in: a mute ends with
    /// the membership, so one made before the member left and came back is no mute.
    mutes: BTreeMap<(ChatId, String), u64>,
    queue: BTreeMap<i64, QueueRow>,
}

#[derive(Debug)]
struct PusherRow {
    id: i64,
    username: String,
    pusher: Pusher,
}

#[derive(Debug)]
struct QueueRow {
    pusher_id: i64,
    body: String,
    attempts: u32,
    due: Timestamp,
}

impl Inner {
    pub(super) fn set_pusher(&mut self, username: &str, new: NewPusher) -> Result<()> {
        self.user_row(username)?;
        let key = (new.app_id.clone(), new.pushkey.clone());
        let mine = |row: &PusherRow| row.username == username;
        let existing = self.push.pushers.get(&key);
        if !existing.is_some_and(mine) {
            let count = self.push.pushers.values().filter(|row| mine(row)).count();
            if count >= MAX_PUSHERS_PER_USER {
                return Err(Error::TooManyPushers {
                    username: username.to_owned(),
                    max: MAX_PUSHERS_PER_USER,
                });
            }
        }
        let id = match self.push.pushers.remove(&key) {
            Some(row) if row.username == username => row.id,
            Some(row) => {
                // The device changed hands: nothing queued for its last user goes to it.
                self.push.queue.retain(|_, queued| queued.pusher_id != row.id);
                self.next_id()
            }
            None => self.next_id(),
        };
        let row = PusherRow { id, username: username.to_owned(), pusher: new.into_pusher() };
        self.push.pushers.insert(key, row);
        Ok(())
    }

    /// Remove the pusher under `key` if `owned` says so, with its queue.
    fn drop_pusher(&mut self, key: (String, String), owned: impl Fn(&PusherRow) -> bool) {
        if let Some(row) = self.push.pushers.get(&key).filter(|row| owned(row)) {
            let id = row.id;
            self.push.pushers.remove(&key);
            self.push.queue.retain(|_, queued| queued.pusher_id != id);
        }
    }

    pub(super) fn remove_pusher(&mut self, username: &str, app_id: &str, pushkey: &str) {
        let key = (app_id.to_owned(), pushkey.to_owned());
        self.drop_pusher(key, |row| row.username == username);
    }

    pub(super) fn reject_pushkey(&mut self, app_id: &str, pushkey: &str) {
        self.drop_pusher((app_id.to_owned(), pushkey.to_owned()), |_| true);
    }

    /// A deleted user's pushers go with the account.
    pub(super) fn forget_pushers_of(&mut self, username: &str) {
        let theirs: Vec<_> = self
            .push
            .pushers
            .iter()
            .filter(|(_, row)| row.username == username)
            .map(|(key, _)| key.clone())
            .collect();
        for key in theirs {
            self.drop_pusher(key, |_| true);
        }
    }

    fn is_muted(&self, chat: ChatId, username: &str) -> bool {
        let joined = self.chats.get(&chat).and_then(|row| row.members.get(username));
        let muted = self.push.mutes.get(&(chat, username.to_owned()));
        matches!((joined, muted), (Some((_, joined)), Some(muted)) if joined == muted)
    }

    pub(super) fn push_settings(&self, username: &str) -> Result<PushSettings> {
        self.user_row(username)?;
        let pushers = self
            .push
            .pushers
            .values()
            .filter(|row| row.username == username)
            .map(|row| row.pusher.clone())
            .collect();
        let muted_chats =
            self.chats.keys().copied().filter(|chat| self.is_muted(*chat, username)).collect();
        Ok(PushSettings { pushers, muted_chats })
    }

    pub(super) fn mute_chat(&mut self, chat: ChatId, username: &str, muted: bool) -> Result<()> {
        let joined =
            self.chat_for(chat, username)?.members.get(username).map(|(_, joined)| *joined);
        let key = (chat, username.to_owned());
        match joined {
            Some(joined) if muted => {
                self.push.mutes.insert(key, joined);
            }
            _ => {
                self.push.mutes.remove(&key);
            }
        }
        Ok(())
    }

    pub(super) fn push_targets(
        &self,
        chat: ChatId,
        usernames: &[String],
        up_to: Seq,
    ) -> Result<Vec<PushTarget>> {
        let row = self.chat_row(chat)?;
        let mut names: Vec<&String> =
            usernames.iter().filter(|name| row.members.contains_key(*name)).collect();
        names.sort_unstable();
        names.dedup();
        let mut targets = Vec::new();
        for username in names {
            if self.is_muted(chat, username) {
                continue;
            }
            let read = row.reads.get(username).copied().unwrap_or_default();
            let unread = row
                .messages
                .iter()
                .filter(|m| m.seq > read && m.seq <= up_to && m.is_post())
                .filter(|m| !m.deleted && m.author != *username)
                .count() as u64;
            let room_name = row.name.clone().filter(|_| row.kind == ChatKind::Group);
            let pushers = self.push.pushers.values().filter(|p| p.username == *username);
            targets.extend(pushers.map(|p| PushTarget {
                username: username.clone(),
                pusher: p.pusher.clone(),
                unread,
                room_name: room_name.clone(),
            }));
        }
        Ok(targets)
    }

    pub(super) fn queue_pushes(&mut self, pushes: Vec<NewPush>) {
        for push in pushes {
            let key = (push.app_id, push.pushkey);
            let Some(pusher_id) = self.push.pushers.get(&key).map(|row| row.id) else {
                continue;
            };
            let id = self.next_id();
            let row = QueueRow { pusher_id, body: push.body, attempts: 0, due: push.due };
            self.push.queue.insert(id, row);
        }
    }

    pub(super) fn claim_pushes(
        &mut self,
        now: Timestamp,
        until: Timestamp,
        limit: u32,
    ) -> Vec<QueuedPush> {
        let mut due: Vec<(Timestamp, i64)> = self
            .push
            .queue
            .iter()
            .filter(|(_, row)| row.due <= now)
            .map(|(id, row)| (row.due, *id))
            .collect();
        due.sort_unstable();
        due.truncate(limit as usize);
        let by_id: BTreeMap<i64, &Pusher> =
            self.push.pushers.values().map(|row| (row.id, &row.pusher)).collect();
        let mut claimed = Vec::new();
        for (_, id) in due {
            let Some(row) = self.push.queue.get_mut(&id) else { continue };
            let Some(pusher) = by_id.get(&row.pusher_id) else { continue };
            row.due = until;
            claimed.push(QueuedPush {
                id,
                app_id: pusher.app_id.clone(),
                pushkey: pusher.pushkey.clone(),
                url: pusher.url.clone(),
                body: row.body.clone(),
                attempts: row.attempts,
            });
        }
        claimed
    }

    pub(super) fn push_sent(&mut self, id: i64) {
        self.push.queue.remove(&id);
    }

    pub(super) fn push_failed(&mut self, id: i64, attempts: u32, due: Timestamp) {
        if let Some(row) = self.push.queue.get_mut(&id) {
            row.attempts = attempts;
            row.due = due;
        }
    }

    pub(super) fn queued_pushes(&self) -> u64 {
        self.push.queue.len() as u64
    }
}
