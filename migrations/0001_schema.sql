-- storagetiers schema: tiers, users, pictures, expiring links, login throttling.
-- Times are milliseconds since the Unix epoch.

CREATE TABLE tiers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    -- JSON array of distinct heights in ascending order, e.g. [200,400]
    thumbnail_heights TEXT NOT NULL,
    allow_original INTEGER NOT NULL DEFAULT 0,
    allow_expiring_links INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);

INSERT INTO tiers (name, thumbnail_heights, allow_original, allow_expiring_links, created_at) VALUES
    ('Basic', '[200]', 0, 0, 0),
    ('Premium', '[200,400]', 1, 0, 0),
    ('Enterprise', '[200,400]', 1, 1, 0);

-- AUTOINCREMENT: ids of deleted users are never reused, so their tokens can never
-- authenticate as someone else.
CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    tier_id INTEGER NOT NULL DEFAULT 1 REFERENCES tiers(id),
    is_admin INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);
-- "is this tier still assigned?" when deleting a tier
CREATE INDEX users_by_tier ON users(tier_id);

CREATE TABLE pictures (
    id TEXT PRIMARY KEY,
    owner_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    content_type TEXT NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    size INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
-- the owner's pictures, newest first, with keyset pagination on (created_at, id)
CREATE INDEX pictures_by_owner ON pictures(owner_id, created_at DESC, id DESC);

CREATE TABLE links (
    id TEXT PRIMARY KEY,
    picture_id TEXT NOT NULL REFERENCES pictures(id) ON DELETE CASCADE,
    owner_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    -- NULL: the original; otherwise a thumbnail height
    height INTEGER,
    lifetime_secs INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
-- the owner's links, newest first, with keyset pagination
CREATE INDEX links_by_owner ON links(owner_id, created_at DESC, id DESC);
-- the cron's sweep of expired links
CREATE INDEX links_by_expiry ON links(expires_at);
-- removing a picture's links
CREATE INDEX links_by_picture ON links(picture_id);

-- failed logins per (username, client address) in a fixed window
CREATE TABLE login_failures (
    username TEXT NOT NULL,
    client TEXT NOT NULL,
    failures INTEGER NOT NULL,
    window_start INTEGER NOT NULL,
    PRIMARY KEY (username, client)
);
