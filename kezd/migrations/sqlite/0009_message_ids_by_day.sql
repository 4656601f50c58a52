-- The id memory keyed by the day of the envelope's ts, then the id (SPEC §8.7,
-- kezd/src/store/sqlite/stored_ids.rs). Ids are SHA-256 hashes: keyed by id alone, each new
-- one lands on a page of its own anywhere in an index that holds weeks of them, so on a large
-- store nearly every send read, logged and checkpointed a page of its own. Keyed by day
-- first, the ids accepted now all go into the index's last few pages, and the retention
-- forgets whole days from its front. A look-up by envelope knows its ts; by id alone (the
-- delivery status), it asks each stored day. Version 9, SQLite only: PostgreSQL keeps its
-- index of ids.
--
-- ts_day is the envelope's ts divided by 86,400,000 (rounded down). No index on accepted_at:
-- the retention forgets by ts_day, which bounds accepted_at (an accepted ts is at most 300 s
-- after acceptance and at most 7 days before it).
--
-- The ids remembered so far keep their table under a new name, looked up by id as before,
-- until the retention has forgotten them all: their ts is not stored, so they cannot be
-- given a day.
ALTER TABLE message_ids RENAME TO message_ids_v1;

CREATE TABLE message_ids (
    ts_day      INTEGER NOT NULL,
    id          TEXT    NOT NULL,
    recipient   TEXT    NOT NULL,
    seq         INTEGER NOT NULL,
    accepted_at INTEGER NOT NULL,
    sender      TEXT    NOT NULL,
    PRIMARY KEY (ts_day, id)
) WITHOUT ROWID;
