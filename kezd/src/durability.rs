//! How far a commit is made durable before a send is acknowledged (SPEC §8.6): the operator's
//! choice, read by the configuration and kept by either store, which is why it belongs to
//! neither of them.

/// What a commit promises before `accept` answers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Durability {
    /// Every commit is on stable storage before it is acknowledged, so an acknowledged message
    /// survives a power loss. The default. SQLite fsyncs its log beside the writer rather than
    /// inside each COMMIT (store/sqlite/writer/flusher.rs); PostgreSQL flushes the commit
    /// record (`synchronous_commit = on`).
    #[default]
    Full,
    /// A commit survives a crash of kezd but the last commits may be lost on power loss or an
    /// OS crash (SQLite: WAL with `synchronous=NORMAL` and no flush before answering;
    /// PostgreSQL: `synchronous_commit = off`). Only ever an explicit operator choice.
    CrashOnly,
}
