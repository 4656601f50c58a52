-- How long federation remembers (SPEC §9.4, §9.7): a finished outbox row (delivered or
-- failed) and a received transaction's response are kept at least 7 days, then forgotten, so
-- neither table grows for as long as the server runs. Version 4 on both stores (PostgreSQL's 3
-- is its outbox leases).

-- When the row stopped being pending; NULL while it is.
ALTER TABLE outbox ADD COLUMN finished_at INTEGER;

-- Rows finished before this column existed count from now.
UPDATE outbox SET finished_at = CAST(strftime('%s', 'now') AS INTEGER) * 1000
WHERE state <> 'pending';

-- Finished rows oldest first, for forgetting them: without it each sweep would read the whole
-- outbox to find none old enough.
CREATE INDEX outbox_finished ON outbox (finished_at) WHERE state <> 'pending';

-- Since this version a remote message's id is remembered by its outbox row alone, no longer
-- also in message_ids (kezd/src/store/sqlite/stored_ids.rs); rows written before stay until
-- the retention forgets them.
