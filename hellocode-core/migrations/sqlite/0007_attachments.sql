-- HelloCode schema v7 (sqlite): files a post carries.

-- A post's attachments, as recorded when it was posted (name, type, size, image size, thumbnail),
-- as a JSON array; NULL for none. Content-addressed media never change, so a copy is exact.
ALTER TABLE messages ADD COLUMN attachments TEXT;
