-- KEZ SQLite schema, version 1 (SPEC §8): users, inboxes with never-reused sequence numbers,
-- message-id deduplication and the federation outbox.
--
-- Only the store's single writer connection writes to these tables; see
-- kezd/src/store/sqlite/writer.rs for why that makes seq order equal commit order.

-- One row per registered handle. The signed registration is kept verbatim so anyone can
-- re-verify it; both the handle and the primary are unique (SPEC §2).
CREATE TABLE users (
    handle        TEXT    NOT NULL PRIMARY KEY,
    primary_key   TEXT    NOT NULL UNIQUE,
    registered_at INTEGER NOT NULL,
    registration  TEXT    NOT NULL
);

-- The highest seq ever assigned per inbox. Acknowledgement and retention delete message rows,
-- so MAX(seq) over messages could go backwards; this counter never does (SPEC §8.2).
CREATE TABLE inbox_counters (
    recipient TEXT    NOT NULL PRIMARY KEY REFERENCES users (handle),
    last_seq  INTEGER NOT NULL CHECK (last_seq >= 0)
) WITHOUT ROWID;

-- Inbox messages. A rowid table rather than WITHOUT ROWID: envelopes are typically about
-- 1 KB and up to 256 KB, far above the 1/20-page row size for which SQLite recommends
-- WITHOUT ROWID, and rowid inserts append at the end of the table. The primary key is the
-- (recipient, seq) index that inbox pages and acknowledgements scan as one range.
-- The id is not UNIQUE here: message_ids is the dedupe authority and outlives the row.
CREATE TABLE messages (
    recipient   TEXT    NOT NULL REFERENCES users (handle),
    seq         INTEGER NOT NULL CHECK (seq >= 1),
    id          TEXT    NOT NULL,
    sender      TEXT    NOT NULL,
    received_at INTEGER NOT NULL,
    envelope    TEXT    NOT NULL,
    PRIMARY KEY (recipient, seq)
);

-- Age-based retention (SPEC §8.4) walks messages oldest first.
CREATE INDEX messages_received_at ON messages (received_at);

-- Every accepted message id, local or remote, with its first acceptance: accepting the same
-- envelope again (client retry, federation retry, replay) reports this row instead of storing
-- a copy, even after the recipient acknowledged and deleted the message. recipient and seq
-- are NULL for a remote route. Rows are forgotten with the age retention (see the store).
CREATE TABLE message_ids (
    id          TEXT    NOT NULL PRIMARY KEY,
    recipient   TEXT,
    seq         INTEGER,
    accepted_at INTEGER NOT NULL,
    CHECK ((recipient IS NULL) = (seq IS NULL))
) WITHOUT ROWID;

CREATE INDEX message_ids_accepted_at ON message_ids (accepted_at);

-- Messages for other servers, written in the same transaction that accepts them (DESIGN §3,
-- durable outbox). position is the rowid: it increases in acceptance order, so claiming a
-- destination's pending rows by position keeps each sender's order (SPEC §9.5).
CREATE TABLE outbox (
    position        INTEGER PRIMARY KEY,
    id              TEXT    NOT NULL UNIQUE,
    destination     TEXT    NOT NULL,
    recipient       TEXT    NOT NULL,
    sender          TEXT    NOT NULL,
    envelope        TEXT    NOT NULL,
    accepted_at     INTEGER NOT NULL,
    state           TEXT    NOT NULL DEFAULT 'pending'
                            CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER,
    last_error      TEXT
);

-- Per-destination claim of pending work in acceptance order; delivered and failed rows stay
-- out of the index.
CREATE INDEX outbox_pending ON outbox (destination, position) WHERE state = 'pending';
