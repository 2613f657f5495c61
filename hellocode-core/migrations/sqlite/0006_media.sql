-- HelloCode schema v6 (sqlite): uploaded media (avatars, attachments) and their bytes.

-- Each upload is recorded per use, so that who may read a file follows from why it was
-- uploaded: an 'avatar' (any user may read it; no chat) or an 'attachment' (the members of its
-- chat may; it goes with the chat). content_id addresses the bytes: the lowercase hex SHA-256
-- of what the server keeps, so the same file uploaded twice is stored once and recorded twice.
-- The owner's account becomes NULL when it is deleted; owner_name, the name it uploaded under,
-- then shows as deleted (hellocode_core::model::deleted_author), as a message's author does.
CREATE TABLE media (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    content_id   TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('avatar', 'attachment')),
    owner_id     INTEGER REFERENCES users (id) ON DELETE SET NULL,
    owner_name   TEXT NOT NULL,
    chat_id      INTEGER REFERENCES chats (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size         INTEGER NOT NULL CHECK (size >= 0),
    -- An image's size in pixels, and its thumbnail's content_id.
    width        INTEGER,
    height       INTEGER,
    thumbnail    TEXT,
    created_at   INTEGER NOT NULL,
    CHECK ((kind = 'avatar') = (chat_id IS NULL))
);
-- One record per (content, owner, kind, chat): recording it again returns the first. An avatar
-- has no chat, and NULLs never collide, hence the COALESCE (chat ids start at 1). Reading a
-- content's records (readable_media) uses it too.
CREATE UNIQUE INDEX media_uses ON media (content_id, owner_id, kind, COALESCE(chat_id, 0));
-- For the cascades when a chat or an owner's account is deleted.
CREATE INDEX media_chat ON media (chat_id);
CREATE INDEX media_owner ON media (owner_id);

-- The bytes by content_id, for servers that share the database (SqlMediaStore); a single node
-- may keep them in a directory instead. Written once: an address always has the same bytes.
CREATE TABLE media_blobs (
    id    TEXT PRIMARY KEY,
    bytes BLOB NOT NULL
);
