-- Follow: per series whether new episodes are looked for and queued by themselves (issue 14).
-- `seen` holds the episodes the provider listed at the last good check (compact text as in
-- `catalogue.episodes`); NULL = no baseline yet (the first good check sets it). Booleans are
-- 0/1 integers so the same queries run on PostgreSQL.
CREATE TABLE follows (
    site          TEXT NOT NULL,
    key           TEXT NOT NULL,
    followed      INTEGER NOT NULL DEFAULT 0,
    -- none | new | all
    monitor       TEXT NOT NULL DEFAULT 'none',
    language      TEXT,
    seen          TEXT,
    followed_at   INTEGER NOT NULL,
    -- The last check that read this series' provider data (unix seconds); NULL = never.
    checked_at    INTEGER,
    -- Why the last check could not read it (kept until the next good check).
    error_code    TEXT,
    error         TEXT,
    failed_at     INTEGER,
    PRIMARY KEY (site, key)
);

-- Episodes the checks found, and whether a check queued them: an episode is queued by a check
-- at most once, across checks and restarts.
CREATE TABLE follow_found (
    site          TEXT NOT NULL,
    key           TEXT NOT NULL,
    season        INTEGER NOT NULL,
    episode       INTEGER NOT NULL,
    found_at      INTEGER NOT NULL,
    queued        INTEGER NOT NULL DEFAULT 0,
    item_id       INTEGER,
    PRIMARY KEY (site, key, season, episode)
);
CREATE INDEX follow_found_recent ON follow_found(found_at);
