-- HelloCode schema v4 (sqlite): invitations to groups, and invite links.

-- An owner or admin of a group invites a user who is not a member. The invitation stays
-- 'pending' until it is settled, once: 'accepted' (the invitee joined: by accepting it, or in
-- any other way, so that a stale invitation cannot bring back someone removed later),
-- 'declined' (by the invitee) or 'cancelled' (by its inviter, an owner or an admin). Who may
-- do what is decided by the storage's rules (hellocode_core::storage::membership), in the
-- writing transaction. The chat's deletion, or that of either account, takes it along.
CREATE TABLE invitations (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    chat_id     INTEGER NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    invitee_id  INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    inviter_id  INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    state       TEXT NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending', 'accepted', 'declined', 'cancelled')),
    created_at  INTEGER NOT NULL,
    -- When it was settled (milliseconds); NULL while pending.
    answered_at INTEGER
);
-- At most one pending invitation per (chat, invitee): inviting again returns it.
CREATE UNIQUE INDEX invitations_pending ON invitations (chat_id, invitee_id)
    WHERE state = 'pending';
-- A user's pending invitations, by id (list_invitations).
CREATE INDEX invitations_invitee ON invitations (invitee_id, id) WHERE state = 'pending';
-- For the cascade when an inviter's account is deleted.
CREATE INDEX invitations_inviter ON invitations (inviter_id);

-- Invite links. The token is shown to its creator once and never stored: token_hash is its
-- SHA-256 in lowercase hex (hellocode_core::model::invite_token_hash), the key a join looks
-- it up by. A link joins anyone who is not a member, as a member, until expires_at
-- (milliseconds; the first moment it no longer works), until it is revoked, or once it has
-- been used max_uses times (NULL: no limit); each join counts one use in its transaction.
CREATE TABLE invite_links (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    chat_id    INTEGER NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    creator_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    max_uses   INTEGER CHECK (max_uses > 0),
    uses       INTEGER NOT NULL DEFAULT 0,
    revoked    BOOLEAN NOT NULL DEFAULT FALSE
);
-- A chat's links, by id (list_invite_links).
CREATE INDEX invite_links_chat ON invite_links (chat_id, id);
-- For the cascade when a creator's account is deleted.
CREATE INDEX invite_links_creator ON invite_links (creator_id);
