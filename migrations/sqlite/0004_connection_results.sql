-- The last delivery result of each connection (config `connections`), shown by GET /api/connections.
-- Keyed by the connection's name; the kind is kept so a renamed/reused name with another kind
-- starts without a stale result.
CREATE TABLE connection_results (
    name         TEXT PRIMARY KEY,
    kind         TEXT NOT NULL,
    ok           INTEGER NOT NULL,
    error        TEXT,
    at           INTEGER NOT NULL
);
