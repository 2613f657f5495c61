-- HelloCode schema v5 (sqlite): idempotency keys on every mutating command.

-- A chat records who created it and the creation's idempotency key: a creation retried with
-- the same key returns the chat it made instead of making another. (Events record theirs in
-- messages.client_id, unique per chat and author since schema v2.)
ALTER TABLE chats ADD COLUMN creator_id INTEGER REFERENCES users (id) ON DELETE SET NULL;
ALTER TABLE chats ADD COLUMN client_id TEXT;
CREATE UNIQUE INDEX chats_client_id ON chats (creator_id, client_id) WHERE client_id IS NOT NULL;
