-- Federation (SPEC §9): who sent each accepted message, for delivery status (§9.7, §7.6), and
-- the answers to received transactions, for idempotent retries (§9.4). Kept in step with
-- migrations/sqlite/0002_federation.sql.

-- The sender's address; NULL only for rows accepted before this column existed.
ALTER TABLE message_ids ADD COLUMN sender TEXT;

-- One row per (origin, transaction id) received: the response sent, replayed verbatim when the
-- origin retries. Kept at least 7 days (SPEC §9.4).
CREATE TABLE txns (
    origin      TEXT   NOT NULL,
    txn_id      TEXT   NOT NULL,
    response    TEXT   NOT NULL,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (origin, txn_id)
);

CREATE INDEX txns_received_at ON txns (received_at);

-- Per-destination backoff (SPEC §9.6): a destination that keeps failing is probed at this
-- pace, not sent every due message; persisted so a restart does not reset it.
CREATE TABLE destinations (
    destination TEXT   NOT NULL PRIMARY KEY,
    failures    BIGINT NOT NULL,
    retry_at    BIGINT NOT NULL
);

-- Destinations with due work, scanned by the delivery dispatcher.
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE state = 'pending';
