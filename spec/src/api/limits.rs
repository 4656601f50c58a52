//! The limits a server document publishes (SPEC §9.2): those of §6.5, §8.2, §8.4, §9.4 and
//! §11, in bytes, counts, seconds or per-period counts as named.

use serde::{Deserialize, Serialize};

/// The document's `limits` member.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// The largest envelope, canonical bytes (SPEC §6.5).
    pub max_envelope_bytes: u64,
    /// The largest send body (SPEC §6.5).
    pub max_body_bytes: u64,
    /// Envelopes per transaction (SPEC §9.4).
    pub max_txn_envelopes: u64,
    /// Transaction body bytes (SPEC §9.4).
    pub max_txn_bytes: u64,
    /// The largest poll page, in messages (SPEC §8.2).
    pub inbox_page_max: u64,
    /// Rate limits (SPEC §11).
    pub rate: RateLimits,
    /// How long a conversation is remembered (SPEC §11).
    pub conversations: ConversationLimits,
    /// Inbox retention (SPEC §8.4).
    pub retention: RetentionLimits,
}

/// SPEC §11's rates.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLimits {
    /// Requests per client address per minute.
    pub client_per_minute: u64,
    /// Registrations per client address per hour.
    pub register_per_hour: u64,
    /// Sends per sender per minute.
    pub sender_per_minute: u64,
    /// Envelopes per origin server per minute.
    pub origin_per_minute: u64,
    /// Messages per recipient per minute.
    pub recipient_per_minute: u64,
    /// Messages per recipient per minute from senders it has no conversation with.
    pub recipient_strangers_per_minute: u64,
    /// New conversations a sender may open per hour.
    pub first_contacts_per_hour: u64,
    /// Remote look-ups per client address per minute.
    pub remote_lookups_per_minute: u64,
    /// Remote look-ups per remote server per minute.
    pub remote_lookups_per_server_per_minute: u64,
}

/// SPEC §11's conversation memory.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationLimits {
    /// Seconds a conversation is remembered after its last message.
    pub memory: u64,
}

/// SPEC §8.4's retention.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetentionLimits {
    /// Seconds a message is kept after `received_at`.
    pub max_age: u64,
    /// Messages kept per inbox, the newest.
    pub max_per_inbox: u64,
}
