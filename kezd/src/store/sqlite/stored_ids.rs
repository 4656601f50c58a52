//! Which of many message ids are already stored, in one statement: the duplicate check of a
//! group of accepts (on the writer) and of a received transaction (on the read pool) alike.
//!
//! An id is stored in one of three places: `message_ids` for a message accepted into a local
//! inbox, the outbox for one accepted for another server, and `message_ids_v1` for a local
//! one accepted before schema version 9. The outbox's own unique index on `id` already names
//! every message it holds (a row is kept while it is pending and for the delivery status a
//! week after, longer than SPEC §8.7 asks an id to be remembered), so a remote message's id is
//! not written a second time into `message_ids`: both are random-key B-trees, whose inserts
//! dirty pages all over the index, and the second copy was two fifths of a sending server's
//! disk writes (28.4 → 17.3 KB per message at 3,000/s, BENCHMARKS.md).
//!
//! Why `message_ids` is keyed by the day of the envelope's `ts` before the id: ids are
//! SHA-256 hashes, so an index of ids alone puts each new one on a page of its own anywhere
//! in it. On a store of 5,000,000 ids (450 MB of index) nearly every send read a page the
//! writer's cache did not hold, and wrote it to the log and back into the database on its
//! own: 24.7–53.2 KB written per message in scenario 1a, against 13 KB on an empty store, and
//! four to five times its p99 (BENCHMARKS.md "Ids by day"). Keyed by day first, the ids a
//! server accepts now all go into today's part of the index, which stays small and in memory
//! however large the rest grows; the retention then forgets whole days from the front of the
//! index (writer/retention.rs). Every look-up by envelope knows its `ts` (store/mod.rs,
//! `MessageKey`); a look-up by id alone (the delivery status, SPEC §9.7) asks each stored day
//! in turn ([`LOCAL_STATUS`]).

use sqlx::{QueryBuilder, Sqlite};

/// The most ids one statement asks about (four parameters each, far below SQLite's default
/// limit of 32,766); more are asked about in several statements.
pub(in crate::store::sqlite) const IDS_PER_STATEMENT: usize = 512;

/// Milliseconds in a day: an id is stored under `ts` divided by this.
const DAY_MS: i64 = 86_400_000;

/// The day `message_ids` stores the id of an envelope with this `ts` under.
pub(in crate::store::sqlite) fn ts_day(ts_ms: i64) -> i64 {
    ts_ms.div_euclid(DAY_MS)
}

/// The sender and seq of local message `?1`, by id alone: each day `message_ids` holds is
/// found from the last with one index seek (a store remembers a few weeks of days), then the
/// id is looked up within it; and the ids stored before version 9.
pub(in crate::store::sqlite) const LOCAL_STATUS: &str = "WITH RECURSIVE days(day) AS ( \
       SELECT MIN(ts_day) FROM message_ids \
       UNION ALL \
       SELECT (SELECT MIN(ts_day) FROM message_ids WHERE ts_day > days.day) FROM days \
       WHERE days.day IS NOT NULL) \
     SELECT m.sender, m.seq FROM days JOIN message_ids m ON m.ts_day = days.day AND m.id = ?1 \
     UNION ALL SELECT sender, seq FROM message_ids_v1 WHERE id = ?1";

/// Writes a query for those of `keys` (ids with their envelope's `ts`, at most
/// [`IDS_PER_STATEMENT`]) that are already stored, each with its first acceptance's seq (none
/// for a message that went to the outbox), into `query`. Its text varies with the number of
/// ids; each connection keeps the sizes it is asked about prepared.
pub(in crate::store::sqlite) fn push<'a>(
    query: &mut QueryBuilder<Sqlite>,
    keys: impl IntoIterator<Item = (&'a str, i64)> + Clone,
) {
    // A join from the keys, not `(ts_day, id) IN (…)`: SQLite reads the whole table for a
    // row value in a list, and seeks the primary key for each joined row.
    query.push("SELECT m.id, m.seq FROM (VALUES ");
    let mut list = query.separated(", ");
    for (id, ts_ms) in keys.clone() {
        list.push("(")
            .push_bind_unseparated(ts_day(ts_ms))
            .push_unseparated(", ")
            .push_bind_unseparated(id)
            .push_unseparated(")");
    }
    query.push(
        ") AS k JOIN message_ids m ON m.ts_day = k.column1 AND m.id = k.column2 \
         UNION ALL SELECT id, seq FROM message_ids_v1 WHERE id IN (",
    );
    push_list(query, keys.clone().into_iter().map(|(id, _)| id));
    query.push(") UNION ALL SELECT id, NULL FROM outbox WHERE id IN (");
    push_list(query, keys.into_iter().map(|(id, _)| id));
    query.push(")");
}

fn push_list<'a>(query: &mut QueryBuilder<Sqlite>, ids: impl IntoIterator<Item = &'a str>) {
    let mut list = query.separated(", ");
    for id in ids {
        list.push_bind(id);
    }
}
