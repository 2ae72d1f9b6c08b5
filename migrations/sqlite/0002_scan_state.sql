-- The scan state moves from one JSON row per series folder to 64 compact binary shards per
-- library (format in core/src/scanner/state.rs): reading 10,000 JSON rows back cost more than
-- the rescan they saved. The old rows are only a cache; dropping them means one full scan.
DROP TABLE scan_folders;

CREATE TABLE scan_state (
    library      TEXT NOT NULL,
    shard        INTEGER NOT NULL,
    state        BLOB NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    PRIMARY KEY (library, shard)
);
