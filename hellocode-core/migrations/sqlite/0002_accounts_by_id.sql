-- HelloCode schema v2 (sqlite): accounts are named by id, not by username (issue 13).

-- The key under which a username is unique: lowercase, then the Unicode TR39 confusable
-- skeleton (hellocode_core::model::username_key). SQL cannot compute it: the storage fills it
-- in for existing rows when it opens the database (NULL until then; NULLs never collide).
ALTER TABLE users ADD COLUMN username_key TEXT;
CREATE UNIQUE INDEX users_name_skeleton ON users (username_key);

-- Signed into login tokens; a password change moves it, which refuses older login tokens.
ALTER TABLE users ADD COLUMN token_generation INTEGER NOT NULL DEFAULT 0;

-- Messages record their author's account. Existing rows are matched by username; a row whose
-- author has no account any more gets none, and shows as deleted like every later one.
ALTER TABLE messages ADD COLUMN author_id INTEGER;
UPDATE messages SET author_id = (SELECT u.id FROM users u WHERE u.username = messages.author);
UPDATE messages SET author = author || ' (deleted)' WHERE author_id IS NULL;
CREATE INDEX messages_author ON messages (author_id);

-- Client ids are per account: an account that registers an old name again starts afresh.
DROP INDEX messages_client_id;
CREATE UNIQUE INDEX messages_client_id ON messages (chat_id, author_id, client_id)
    WHERE client_id IS NOT NULL;
