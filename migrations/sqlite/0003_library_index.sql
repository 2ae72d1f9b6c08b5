-- The library index keeps each series' on-disk episodes as one compact value (`1:1-12;2:1-3`),
-- written only when the series folder changed; file paths are read from the folder on demand.
-- The catalogue keeps what each provider lists per series and when it was asked, so missing
-- counts survive a restart without asking any site.
DROP TABLE episodes;
ALTER TABLE series ADD COLUMN episodes TEXT NOT NULL DEFAULT '';

CREATE TABLE catalogue (
    site         TEXT NOT NULL,
    key          TEXT NOT NULL,
    -- What the provider lists, as compact text; empty until it answered once.
    episodes     TEXT NOT NULL DEFAULT '',
    -- When the provider last answered (unix seconds); NULL = never.
    checked_at   INTEGER,
    -- The last failure, kept until the next success.
    error_code   TEXT,
    error        TEXT,
    failed_at    INTEGER,
    PRIMARY KEY (site, key)
);

-- The next scan reads every folder again, so every series row gets its episodes.
DELETE FROM scan_state;
