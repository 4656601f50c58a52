//! The size of a federation transaction this server accepts and publishes (SPEC §9.4's
//! defaults `max_txn_envelopes` and `max_txn_bytes`): protocol figures read by the route that
//! receives transactions, the server document that announces them, the outbox that sends
//! them, and the configuration, whose memory budget must hold the largest one.

/// Envelopes per transaction.
pub const MAX_ENVELOPES: usize = 100;

/// Transaction body size in bytes: the transaction route's body limit.
pub const MAX_BYTES: usize = 8 * 1024 * 1024;
