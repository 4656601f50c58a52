//! Statements the writer sends to SQLite together with its next one instead of alone.
//!
//! Why: every statement is a round trip to sqlx's connection thread — a channel send, a
//! wake-up of that thread, a reply, a wake-up of the writer — and on a virtual machine a
//! thread's wake-up costs more than most of the statements themselves (with one send in
//! flight, wake-ups were a third of kezd's CPU). The statements of a transaction that answer
//! nothing the writer needs (`BEGIN`, a group's inserts, the counters, `COMMIT`) wait here and
//! go as one multi-statement query with the next statement whose answer is needed, or with
//! the commit: a group of accepts costs two round trips instead of six.
//!
//! Parameters are bound in order across the statements of one query, so a deferred
//! statement may only use anonymous `?` parameters (sqlx numbers them on from the previous
//! statement's; a numbered `?1` would name the first of the whole query).

use sqlx::{QueryBuilder, Sqlite};

/// The statements waiting to be sent, as one query text with its arguments.
pub(super) struct Deferred {
    query: QueryBuilder<Sqlite>,
    empty: bool,
}

impl Default for Deferred {
    fn default() -> Self {
        Self {
            query: QueryBuilder::new(""),
            empty: true,
        }
    }
}

impl Deferred {
    /// Appends one statement, written by `statement` (SQL and `push_bind`s).
    pub(super) fn push(&mut self, statement: impl FnOnce(&mut QueryBuilder<Sqlite>)) {
        if !self.empty {
            self.query.push(";\n");
        }
        statement(&mut self.query);
        self.empty = false;
    }

    /// Whether nothing waits.
    pub(super) fn is_empty(&self) -> bool {
        self.empty
    }

    /// Takes what waits, followed by `last`: the query to send now.
    pub(super) fn then(
        &mut self,
        last: impl FnOnce(&mut QueryBuilder<Sqlite>),
    ) -> QueryBuilder<Sqlite> {
        self.push(last);
        self.take()
    }

    /// Takes what waits, leaving nothing.
    pub(super) fn take(&mut self) -> QueryBuilder<Sqlite> {
        std::mem::take(self).query
    }
}

#[cfg(test)]
mod tests {
    use sqlx::Connection;
    use sqlx::sqlite::SqliteConnection;

    use super::*;

    async fn memory() -> SqliteConnection {
        SqliteConnection::connect("sqlite::memory:")
            .await
            .expect("in-memory database")
    }

    #[tokio::test]
    async fn statements_run_in_order_with_their_own_arguments() {
        let mut conn = memory().await;
        let mut deferred = Deferred::default();
        assert!(deferred.is_empty());
        deferred.push(|q| {
            q.push("CREATE TABLE t (a INTEGER, b TEXT)");
        });
        deferred.push(|q| {
            q.push("INSERT INTO t VALUES (")
                .push_bind(1_i64)
                .push(", ")
                .push_bind("one")
                .push(")");
        });
        deferred.push(|q| {
            q.push("INSERT INTO t VALUES (")
                .push_bind(2_i64)
                .push(", ")
                .push_bind("two")
                .push(")");
        });
        assert!(!deferred.is_empty());
        // The deferred writes and the read that needs them go as one query.
        let mut query = deferred.then(|q| {
            q.push("SELECT a, b FROM t WHERE a >= ")
                .push_bind(1_i64)
                .push(" ORDER BY a");
        });
        assert!(deferred.is_empty());
        let rows: Vec<(i64, String)> = query
            .build_query_as()
            .persistent(false)
            .fetch_all(&mut conn)
            .await
            .expect("one multi-statement query");
        assert_eq!(rows, [(1, "one".to_owned()), (2, "two".to_owned())]);
    }

    #[tokio::test]
    async fn a_failing_statement_stops_the_ones_after_it() {
        let mut conn = memory().await;
        let mut deferred = Deferred::default();
        deferred.push(|q| {
            q.push("CREATE TABLE t (a INTEGER PRIMARY KEY)");
        });
        deferred.push(|q| {
            q.push("INSERT INTO t VALUES (1), (1)");
        });
        deferred.push(|q| {
            q.push("CREATE TABLE after_the_failure (a INTEGER)");
        });
        let failed = deferred.take().build().execute(&mut conn).await;
        assert!(failed.is_err(), "the duplicate key must fail the query");
        let later: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM sqlite_master WHERE name = 'after_the_failure'",
        )
        .fetch_one(&mut conn)
        .await
        .expect("count");
        assert_eq!(later, 0);
    }
}
