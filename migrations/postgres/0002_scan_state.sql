-- Mirrors sqlite/0002: the scan state as 64 compact binary shards per library.
DROP TABLE scan_folders;

CREATE TABLE scan_state (
    library      TEXT NOT NULL,
    shard        BIGINT NOT NULL,
    state        BYTEA NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (library, shard)
);
