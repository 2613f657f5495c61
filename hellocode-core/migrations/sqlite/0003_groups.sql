-- HelloCode schema v3 (sqlite): groups with roles, and every change a sequenced event.

-- A chat is 'direct' (two members, no roles, no name) or a 'group' (roles, a name, a topic).
-- Existing chats: those of exactly two participants become direct, every other one a group.
-- (SQLite adds a NOT NULL column only with a default; the storage always names the kind.)
ALTER TABLE chats ADD COLUMN kind TEXT NOT NULL DEFAULT 'group'
    CHECK (kind IN ('direct', 'group'));
ALTER TABLE chats ADD COLUMN name TEXT;
ALTER TABLE chats ADD COLUMN topic TEXT;
UPDATE chats SET kind = 'direct'
    WHERE (SELECT COUNT(*) FROM chat_participants p WHERE p.chat_id = chats.id) = 2;

-- A member's role ('member' in direct chats too, where none is shown), and when they joined
-- (milliseconds): the roster's order is joined_at, then username, so the oldest admin or member
-- is the one who takes over when the owner leaves. Existing members joined at 0: the same
-- moment, so they are ordered by username.
ALTER TABLE chat_participants ADD COLUMN role TEXT NOT NULL DEFAULT 'member'
    CHECK (role IN ('owner', 'admin', 'member'));
ALTER TABLE chat_participants ADD COLUMN joined_at INTEGER NOT NULL DEFAULT 0;
-- An existing group's owner is its participant with the lowest user id (its oldest account).
UPDATE chat_participants SET role = 'owner'
    WHERE chat_id IN (SELECT id FROM chats WHERE kind = 'group')
    AND user_id = (SELECT MIN(p.user_id) FROM chat_participants p
                   WHERE p.chat_id = chat_participants.chat_id);

-- A chat's items are posts ('message', every existing row) and events that took the chat's next
-- sequence number: 'edit' and 'delete' name the post they changed (target, its seq), membership
-- events the member (their username then) and, for 'join' and 'role', the role. History pages
-- (posts only) still read messages_chat_seq, skipping the events between posts.
ALTER TABLE messages ADD COLUMN kind TEXT NOT NULL DEFAULT 'message'
    CHECK (kind IN ('message', 'edit', 'delete', 'join', 'leave', 'remove', 'role', 'rename',
                    'topic'));
ALTER TABLE messages ADD COLUMN target INTEGER;
ALTER TABLE messages ADD COLUMN member TEXT;
ALTER TABLE messages ADD COLUMN role TEXT CHECK (role IN ('owner', 'admin', 'member'));
