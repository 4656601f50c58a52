-- KEZ PostgreSQL schema, version 1 (SPEC §8): users, inboxes with never-reused sequence
-- numbers, message-id deduplication and the federation outbox. Kept in step with
-- migrations/sqlite/0001_initial.sql: the same tables, columns and meaning, so the two stores
-- pass one test suite. Times are Unix milliseconds (BIGINT), as in SQLite.
--
-- Several kezd processes write here at once; kezd/src/store/postgres.rs explains how the row
-- lock on inbox_counters makes seq order equal commit order per inbox.

-- One row per registered handle. The signed registration is kept verbatim so anyone can
-- re-verify it; both the handle and the primary are unique (SPEC §2).
CREATE TABLE users (
    handle        TEXT   NOT NULL PRIMARY KEY,
    primary_key   TEXT   NOT NULL UNIQUE,
    registered_at BIGINT NOT NULL,
    registration  TEXT   NOT NULL
);

-- The highest seq ever assigned per inbox. Acknowledgement and retention delete message rows,
-- so MAX(seq) over messages could go backwards; this counter never does (SPEC §8.2). Its row
-- is also the lock that serialises the accepts of one inbox.
CREATE TABLE inbox_counters (
    recipient TEXT   NOT NULL PRIMARY KEY REFERENCES users (handle),
    last_seq  BIGINT NOT NULL CHECK (last_seq >= 0)
);

-- Inbox messages; the primary key is the (recipient, seq) range that pages and
-- acknowledgements scan. The id is not UNIQUE here: message_ids is the dedupe authority and
-- outlives the row.
CREATE TABLE messages (
    recipient   TEXT   NOT NULL REFERENCES users (handle),
    seq         BIGINT NOT NULL CHECK (seq >= 1),
    id          TEXT   NOT NULL,
    sender      TEXT   NOT NULL,
    received_at BIGINT NOT NULL,
    envelope    TEXT   NOT NULL,
    PRIMARY KEY (recipient, seq)
);

-- Age-based retention (SPEC §8.4) walks messages oldest first.
CREATE INDEX messages_received_at ON messages (received_at);

-- Every accepted message id, local or remote, with its first acceptance: accepting the same
-- envelope again (client retry, federation retry, replay) reports this row instead of storing
-- a copy, even after the recipient acknowledged and deleted the message. recipient and seq
-- are NULL for a remote route. Rows are forgotten with the age retention (see the store).
CREATE TABLE message_ids (
    id          TEXT   NOT NULL PRIMARY KEY,
    recipient   TEXT,
    seq         BIGINT,
    accepted_at BIGINT NOT NULL,
    CHECK ((recipient IS NULL) = (seq IS NULL))
);

CREATE INDEX message_ids_accepted_at ON message_ids (accepted_at);

-- Messages for other servers, written in the same transaction that accepts them (DESIGN §3,
-- durable outbox). position comes from a sequence, so it increases in acceptance order for
-- messages accepted one after another — which is every sender's own order (SPEC §9.5).
CREATE TABLE outbox (
    position        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id              TEXT   NOT NULL UNIQUE,
    destination     TEXT   NOT NULL,
    recipient       TEXT   NOT NULL,
    sender          TEXT   NOT NULL,
    envelope        TEXT   NOT NULL,
    accepted_at     BIGINT NOT NULL,
    state           TEXT   NOT NULL DEFAULT 'pending'
                           CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT,
    last_error      TEXT
);

-- Per-destination claim of pending work in acceptance order; delivered and failed rows stay
-- out of the index.
CREATE INDEX outbox_pending ON outbox (destination, position) WHERE state = 'pending';
