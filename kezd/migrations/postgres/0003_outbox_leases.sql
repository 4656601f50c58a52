-- Outbox claims between kezd instances (DESIGN §3: several kezd share this database). Only
-- the PostgreSQL store has this table: an SQLite file has one kezd process, whose dispatcher
-- already runs at most one delivery task per destination.
--
-- A destination's due work is claimed by one instance at a time: the instance that lists it
-- as due takes (or renews) the lease, and the others skip it until the lease expires — which
-- is how an instance that died hands its destinations over. Expiry uses the database's clock,
-- so instances with skewed clocks agree on it.
CREATE TABLE outbox_leases (
    destination TEXT   NOT NULL PRIMARY KEY,
    holder      TEXT   NOT NULL,
    expires_at  BIGINT NOT NULL
);
