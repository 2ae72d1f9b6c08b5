-- Follow: per series whether new episodes are looked for and queued by themselves (issue 14).
-- Mirrors migrations/sqlite/0006_follow.sql: every integer a BIGINT (the queries read them as
-- i64), booleans as 0/1.
CREATE TABLE follows (
    site          TEXT NOT NULL,
    key           TEXT NOT NULL,
    followed      BIGINT NOT NULL DEFAULT 0,
    monitor       TEXT NOT NULL DEFAULT 'none',
    language      TEXT,
    seen          TEXT,
    followed_at   BIGINT NOT NULL,
    checked_at    BIGINT,
    error_code    TEXT,
    error         TEXT,
    failed_at     BIGINT,
    PRIMARY KEY (site, key)
);

CREATE TABLE follow_found (
    site          TEXT NOT NULL,
    key           TEXT NOT NULL,
    season        BIGINT NOT NULL,
    episode       BIGINT NOT NULL,
    found_at      BIGINT NOT NULL,
    queued        BIGINT NOT NULL DEFAULT 0,
    item_id       BIGINT,
    PRIMARY KEY (site, key, season, episode)
);
CREATE INDEX follow_found_recent ON follow_found(found_at);
