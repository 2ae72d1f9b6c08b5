-- Aniworld Server schema (PostgreSQL), mirroring migrations/sqlite version by version.
-- Timestamps are UTC unix seconds (BIGINT); deleted_at marks soft deletes; every integer is
-- BIGINT and flags are 0/1 BIGINTs, so one set of queries serves both dialects.

CREATE TABLE series (
    id           BIGSERIAL PRIMARY KEY,
    key          TEXT NOT NULL,
    site         TEXT NOT NULL,
    name         TEXT NOT NULL,
    folder       TEXT NOT NULL,
    year         BIGINT,
    description  TEXT,
    cover        TEXT,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    deleted_at   BIGINT
);
CREATE UNIQUE INDEX series_key_live ON series(key) WHERE deleted_at IS NULL;
CREATE INDEX series_folder ON series(folder);

-- Episodes found on disk.
CREATE TABLE episodes (
    id           BIGSERIAL PRIMARY KEY,
    series_id    BIGINT NOT NULL REFERENCES series(id) ON DELETE CASCADE,
    season       BIGINT NOT NULL,
    episode      BIGINT NOT NULL,
    path         TEXT NOT NULL,
    size         BIGINT,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    deleted_at   BIGINT
);
CREATE UNIQUE INDEX episodes_unique ON episodes(series_id, season, episode, path);

CREATE TABLE scan_folders (
    library      TEXT NOT NULL,
    folder       TEXT NOT NULL,
    fingerprint  TEXT NOT NULL,
    state        TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (library, folder)
);

-- Scraped provider data (series info as JSON) with a TTL.
CREATE TABLE provider_cache (
    site         TEXT NOT NULL,
    key          TEXT NOT NULL,
    body         TEXT NOT NULL,
    fetched_at   BIGINT NOT NULL,
    PRIMARY KEY (site, key)
);

CREATE TABLE queue_items (
    id            BIGSERIAL PRIMARY KEY,
    key           TEXT NOT NULL,
    site          TEXT NOT NULL,
    folder        TEXT,
    season        BIGINT NOT NULL,
    episode       BIGINT NOT NULL,
    language      TEXT,
    status        TEXT NOT NULL CHECK (status IN ('pending','downloading','paused','completed','failed','cancelled')),
    priority      BIGINT NOT NULL DEFAULT 0,
    position      BIGINT NOT NULL,
    bytes         BIGINT NOT NULL DEFAULT 0,
    total         BIGINT,
    speed         DOUBLE PRECISION,
    eta           BIGINT,
    attempts      BIGINT NOT NULL DEFAULT 0,
    last_error    TEXT,
    path          TEXT,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    deleted_at    BIGINT
);
-- One live queue entry per episode.
CREATE UNIQUE INDEX queue_items_episode_live ON queue_items(key, season, episode)
    WHERE deleted_at IS NULL AND status IN ('pending','downloading','paused');
CREATE INDEX queue_items_order ON queue_items(status, priority DESC, position);

CREATE TABLE sessions (
    id           TEXT PRIMARY KEY,
    client       TEXT,
    expires_at   BIGINT NOT NULL,
    revoked_at   BIGINT,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    deleted_at   BIGINT
);

-- Small key/value settings (the master password hash, the JWT signing key, queue flags).
CREATE TABLE settings (
    name         TEXT PRIMARY KEY,
    value        TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
