//! The SQLite side of conversations (SPEC §11, kezd/src/conversation.rs): the writes the
//! group-commit writer runs for `Guarded::Conversations`, inside the batch's transaction. The
//! look-up runs on the read pool (sqlite.rs).

use sqlx::SqliteConnection;

use super::conversation_cache::Touched;
use crate::store::StoreError;
use crate::store::conversations::{FORGET, RECORD};

/// A conversation write.
#[derive(Debug)]
pub(in crate::store) enum ConversationWrite {
    /// Messages from each `(sender, recipient)` were accepted at `at_ms`.
    Record {
        pairs: Vec<(String, String)>,
        at_ms: i64,
    },
    /// One bounded step of forgetting conversations recorded before `before_ms`.
    Forget { before_ms: i64, budget: i64 },
}

impl ConversationWrite {
    /// The conversations this write may change, for the readers' cache.
    pub(super) fn touched(&self) -> Touched {
        match self {
            ConversationWrite::Record { pairs, .. } => Touched::Pairs(pairs.clone()),
            ConversationWrite::Forget { .. } => Touched::All,
        }
    }
}

/// Runs a conversation write; returns the rows changed.
pub(in crate::store) async fn apply(
    conn: &mut SqliteConnection,
    write: ConversationWrite,
) -> Result<u64, StoreError> {
    match write {
        ConversationWrite::Record { pairs, at_ms } => {
            let mut changed = 0;
            for (sender, recipient) in pairs {
                changed += sqlx::query(RECORD)
                    .bind(sender)
                    .bind(recipient)
                    .bind(at_ms)
                    .execute(&mut *conn)
                    .await?
                    .rows_affected();
            }
            Ok(changed)
        }
        ConversationWrite::Forget { before_ms, budget } => Ok(sqlx::query(FORGET)
            .bind(before_ms)
            .bind(budget)
            .execute(&mut *conn)
            .await?
            .rows_affected()),
    }
}
