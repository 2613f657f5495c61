-- HelloCode schema v1 (SQLite). Timestamps are milliseconds since the Unix epoch.

CREATE TABLE languages (
    id   INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL
);
CREATE UNIQUE INDEX languages_name ON languages (lower(name));

CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    username      TEXT NOT NULL UNIQUE,
    email         TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    timezone      TEXT NOT NULL DEFAULT '',
    avatar        TEXT
);

CREATE TABLE user_languages (
    user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    language_id INTEGER NOT NULL REFERENCES languages (id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, language_id)
);
CREATE INDEX user_languages_language ON user_languages (language_id);

CREATE TABLE contacts (
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    contact_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, contact_id)
);

CREATE TABLE chats (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    -- Sequence number of the newest message; bumped in the appending transaction, so a
    -- rolled-back append leaves no gap.
    last_seq   INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);

CREATE TABLE chat_participants (
    chat_id  INTEGER NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    user_id  INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    read_seq INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (chat_id, user_id)
);
CREATE INDEX chat_participants_user ON chat_participants (user_id);

CREATE TABLE messages (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    chat_id    INTEGER NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    seq        INTEGER NOT NULL,
    -- The author's username, kept when the account is deleted.
    author     TEXT NOT NULL,
    content    TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    client_id  TEXT,
    edited_at  INTEGER,
    deleted    BOOLEAN NOT NULL DEFAULT FALSE
);
-- History pages and resume read this index; it also makes sequence numbers unique.
CREATE UNIQUE INDEX messages_chat_seq ON messages (chat_id, seq);
CREATE UNIQUE INDEX messages_client_id ON messages (chat_id, author, client_id)
    WHERE client_id IS NOT NULL;

-- Long-lived tokens users create for their bots; a revoked token is refused at once.
CREATE TABLE bot_tokens (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    revoked    BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX bot_tokens_user ON bot_tokens (user_id);
