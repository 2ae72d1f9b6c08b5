-- Mirrors sqlite/0004: the last delivery result of each connection. `ok` is 0/1.
CREATE TABLE connection_results (
    name         TEXT PRIMARY KEY,
    kind         TEXT NOT NULL,
    ok           BIGINT NOT NULL,
    error        TEXT,
    at           BIGINT NOT NULL
);
