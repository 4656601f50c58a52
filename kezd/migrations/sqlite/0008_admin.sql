-- Operator administration (`kezd admin`, kezd/src/admin/). Version 8 on both stores.

-- Suspended users (SPEC §10 `account_suspended`): a row refuses the user's own requests
-- (send, poll, stream, acknowledge, status) while messages to them are still accepted and
-- kept. Deleting the row lifts the suspension; deleting the user removes it.
CREATE TABLE suspensions (
    handle       TEXT    NOT NULL PRIMARY KEY REFERENCES users (handle) ON DELETE CASCADE,
    suspended_at INTEGER NOT NULL,
    reason       TEXT
) WITHOUT ROWID;

-- Servers blocked by an operator's `kezd admin servers block` (SPEC §9.9). The configuration
-- file's `[federation] block` is the other source; the policy in force refuses both.
CREATE TABLE server_blocks (
    server     TEXT    NOT NULL PRIMARY KEY,
    blocked_at INTEGER NOT NULL,
    reason     TEXT
) WITHOUT ROWID;

-- Every admin action: who (the local user id), what, on what, when (Unix ms) and how it
-- ended. Only ever appended to.
CREATE TABLE admin_audit (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    at      INTEGER NOT NULL,
    actor   TEXT    NOT NULL,
    action  TEXT    NOT NULL,
    target  TEXT,
    outcome TEXT    NOT NULL
);
