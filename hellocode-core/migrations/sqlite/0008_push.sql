-- HelloCode schema v8 (sqlite): push notifications (pushers, muted chats, the queue).

-- A device's pusher, in the shape of Matrix's push gateway API: the gateway (url) relays to
-- FCM or APNs by app_id and pushkey. A key is one device's, so (app_id, pushkey) is unique
-- across users: registering it again moves it to whoever registered it last.
CREATE TABLE pushers (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    app_id      TEXT NOT NULL,
    pushkey     TEXT NOT NULL,
    url         TEXT NOT NULL,
    device_name TEXT NOT NULL,
    lang        TEXT NOT NULL,
    previews    BOOLEAN NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE UNIQUE INDEX pushers_key ON pushers (app_id, pushkey);
CREATE INDEX pushers_user ON pushers (user_id);

-- A member's mute goes with their membership.
ALTER TABLE chat_participants ADD COLUMN muted BOOLEAN NOT NULL DEFAULT FALSE;

-- Notifications waiting for their gateway: each a ready request body for one pusher, sent
-- when due_at (ms) has passed. A worker claims rows by moving due_at past a lease, so a
-- crashed worker's rows come back; a removed pusher takes its rows with it.
CREATE TABLE push_queue (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    pusher_id INTEGER NOT NULL REFERENCES pushers (id) ON DELETE CASCADE,
    body      TEXT NOT NULL,
    attempts  INTEGER NOT NULL DEFAULT 0,
    due_at    INTEGER NOT NULL
);
CREATE INDEX push_queue_due ON push_queue (due_at);
CREATE INDEX push_queue_pusher ON push_queue (pusher_id);
