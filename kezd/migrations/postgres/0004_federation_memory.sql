-- How long federation remembers (SPEC §9.4, §9.7): a finished outbox row (delivered or
-- failed) and a received transaction's response are kept at least 7 days, then forgotten, so
-- neither table grows for as long as the server runs. Same version and meaning as SQLite's.

-- When the row stopped being pending (the database's clock); NULL while it is.
ALTER TABLE outbox ADD COLUMN finished_at BIGINT;

-- Rows finished before this column existed count from now.
UPDATE outbox SET finished_at = (EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT
WHERE state <> 'pending';

-- Finished rows oldest first, for forgetting them: without it each sweep would read the whole
-- outbox to find none old enough.
CREATE INDEX outbox_finished ON outbox (finished_at) WHERE state <> 'pending';
