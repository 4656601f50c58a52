//! Which of many message ids are already stored, in one statement: the duplicate check of a
//! group of accepts (on the writer) and of a received transaction (on the read pool) alike.

use sqlx::{QueryBuilder, Sqlite};

/// The most ids one statement asks about (one parameter each, far below SQLite's default limit
/// of 32,766); more are asked about in several statements.
pub(in crate::store::sqlite) const IDS_PER_STATEMENT: usize = 512;

/// Writes `SELECT id, seq FROM message_ids WHERE id IN (…)` for `ids` (at most
/// [`IDS_PER_STATEMENT`]) into `query`: the stored ones, each with its first acceptance's seq
/// (none for a message that went to the outbox). Its text varies with the number of ids: the
/// writer, which asks about groups of a few sizes all day, keeps it prepared; a one-off
/// question runs it with `persistent(false)`.
pub(in crate::store::sqlite) fn push<'a>(
    query: &mut QueryBuilder<Sqlite>,
    ids: impl IntoIterator<Item = &'a str>,
) {
    query.push("SELECT id, seq FROM message_ids WHERE id IN (");
    let mut list = query.separated(", ");
    for id in ids {
        list.push_bind(id);
    }
    query.push(")");
}
