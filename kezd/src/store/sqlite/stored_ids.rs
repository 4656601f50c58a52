//! Which of many message ids are already stored, in one statement: the duplicate check of a
//! group of accepts (on the writer) and of a received transaction (on the read pool) alike.
//!
//! An id is stored in one of two places: `message_ids` for a message accepted into a local
//! inbox, and the outbox for one accepted for another server. The outbox's own unique index
//! on `id` already names every message it holds (a row is kept while it is pending and for
//! the delivery status a week after, longer than SPEC §8.7 asks an id to be remembered), so a
//! remote message's id is not written a second time into `message_ids`: both are random-key
//! B-trees, whose inserts dirty pages all over the index, and the second copy was two fifths
//! of a sending server's disk writes (28.4 → 17.3 KB per message at 3,000/s, BENCHMARKS.md).

use sqlx::{QueryBuilder, Sqlite};

/// The most ids one statement asks about (two parameters each, far below SQLite's default
/// limit of 32,766); more are asked about in several statements.
pub(in crate::store::sqlite) const IDS_PER_STATEMENT: usize = 512;

/// Writes a query for those of `ids` (at most [`IDS_PER_STATEMENT`]) that are already stored,
/// each with its first acceptance's seq (none for a message that went to the outbox), into
/// `query`. Its text varies with the number of ids; each connection keeps the sizes it is
/// asked about prepared.
pub(in crate::store::sqlite) fn push<'a>(
    query: &mut QueryBuilder<Sqlite>,
    ids: impl IntoIterator<Item = &'a str> + Clone,
) {
    query.push("SELECT id, seq FROM message_ids WHERE id IN (");
    push_list(query, ids.clone());
    query.push(") UNION ALL SELECT id, NULL FROM outbox WHERE id IN (");
    push_list(query, ids);
    query.push(")");
}

fn push_list<'a>(query: &mut QueryBuilder<Sqlite>, ids: impl IntoIterator<Item = &'a str>) {
    let mut list = query.separated(", ");
    for id in ids {
        list.push_bind(id);
    }
}
