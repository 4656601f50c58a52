-- Account deletion (SPEC §4.7): one tombstone per deleted account. The users row, the inbox
-- and its counter are gone; the tombstone is what keeps the handle from being registered again
-- until released_at (deleted_at + 8 days + 300 s, kez_spec::deletion::HANDLE_HOLD_MS) and the
-- primary from ever being registered again on this server, and what lookups and sends answer
-- 410 account_deleted from. deletion is the owner's signed deletion, kept as proof of the
-- request, or, for `kezd admin users delete`, the operator's note.
-- Version 7 on both stores.
CREATE TABLE deleted_accounts (
    primary_key TEXT    NOT NULL PRIMARY KEY,
    handle      TEXT    NOT NULL,
    deleted_at  INTEGER NOT NULL,
    released_at INTEGER NOT NULL CHECK (released_at >= deleted_at),
    deletion    TEXT    NOT NULL
);

-- Lookups and registrations ask for a handle's newest tombstone not yet released.
CREATE INDEX deleted_accounts_handle ON deleted_accounts (handle, released_at);
