-- Aniworld Server schema (SQLite). Timestamps are UTC unix seconds; deleted_at marks soft deletes.

CREATE TABLE series (
    id           INTEGER PRIMARY KEY,
    key          TEXT NOT NULL,
    site         TEXT NOT NULL,
    name         TEXT NOT NULL,
    folder       TEXT NOT NULL,
    year         INTEGER,
    description  TEXT,
    cover        TEXT,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    deleted_at   INTEGER
);
CREATE UNIQUE INDEX series_key_live ON series(key) WHERE deleted_at IS NULL;
CREATE INDEX series_folder ON series(folder);

-- Episodes found on disk.
CREATE TABLE episodes (
    id           INTEGER PRIMARY KEY,
    series_id    INTEGER NOT NULL REFERENCES series(id) ON DELETE CASCADE,
    season       INTEGER NOT NULL,
    episode      INTEGER NOT NULL,
    path         TEXT NOT NULL,
    size         INTEGER,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    deleted_at   INTEGER
);
CREATE UNIQUE INDEX episodes_unique ON episodes(series_id, season, episode, path);

-- Per-folder scan state so an unchanged library rescans cheaply. `state` is the folder's scan
-- result as JSON; `fingerprint` summarises the modification times of the folder and its subfolders.
CREATE TABLE scan_folders (
    library      TEXT NOT NULL,
    folder       TEXT NOT NULL,
    fingerprint  TEXT NOT NULL,
    state        TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    PRIMARY KEY (library, folder)
);

-- Scraped provider data (series info as JSON) with a TTL.
CREATE TABLE provider_cache (
    site         TEXT NOT NULL,
    key          TEXT NOT NULL,
    body         TEXT NOT NULL,
    fetched_at   INTEGER NOT NULL,
    PRIMARY KEY (site, key)
);

CREATE TABLE queue_items (
    id            INTEGER PRIMARY KEY,
    key           TEXT NOT NULL,
    site          TEXT NOT NULL,
    folder        TEXT,
    season        INTEGER NOT NULL,
    episode       INTEGER NOT NULL,
    language      TEXT,
    status        TEXT NOT NULL CHECK (status IN ('pending','downloading','paused','completed','failed','cancelled')),
    priority      INTEGER NOT NULL DEFAULT 0,
    position      INTEGER NOT NULL,
    bytes         INTEGER NOT NULL DEFAULT 0,
    total         INTEGER,
    speed         REAL,
    eta           INTEGER,
    attempts      INTEGER NOT NULL DEFAULT 0,
    last_error    TEXT,
    path          TEXT,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    deleted_at    INTEGER
);
-- One live queue entry per episode.
CREATE UNIQUE INDEX queue_items_episode_live ON queue_items(key, season, episode)
    WHERE deleted_at IS NULL AND status IN ('pending','downloading','paused');
CREATE INDEX queue_items_order ON queue_items(status, priority DESC, position);

CREATE TABLE sessions (
    id           TEXT PRIMARY KEY,
    client       TEXT,
    expires_at   INTEGER NOT NULL,
    revoked_at   INTEGER,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    deleted_at   INTEGER
);

-- Small key/value settings (the master password hash lives here).
CREATE TABLE settings (
    name         TEXT PRIMARY KEY,
    value        TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
