-- Mirrors sqlite/0003: each series' on-disk episodes as one compact value, and the catalogue.
DROP TABLE episodes;
ALTER TABLE series ADD COLUMN episodes TEXT NOT NULL DEFAULT '';

CREATE TABLE catalogue (
    site         TEXT NOT NULL,
    key          TEXT NOT NULL,
    episodes     TEXT NOT NULL DEFAULT '',
    checked_at   BIGINT,
    error_code   TEXT,
    error        TEXT,
    failed_at    BIGINT,
    PRIMARY KEY (site, key)
);

DELETE FROM scan_state;
