//! `[rate]`: the spam limits (SPEC §11).

use std::num::NonZeroU32;

use super::ConfigError;
use super::checks::nonzero_u32;
use super::raw::RawRate;

/// Spam limits (SPEC §11), each a count per window per key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimits {
    /// Requests per client address per minute, on every route.
    pub client_per_minute: NonZeroU32,
    /// Registrations per client address per hour.
    pub register_per_hour: NonZeroU32,
    /// Sends per sender address per minute.
    pub sender_per_minute: NonZeroU32,
    /// Messages per recipient per minute from its contacts: senders it has written to
    /// (SPEC §11).
    pub recipient_per_minute: NonZeroU32,
    /// Messages per recipient per minute from everyone else, a separate budget so strangers
    /// cannot lock an inbox against its contacts (SPEC §11).
    pub recipient_strangers_per_minute: NonZeroU32,
    /// New sender→recipient pairs per sender per hour.
    pub first_contacts_per_hour: NonZeroU32,
    /// Envelopes per minute accepted from one origin server (SPEC §11).
    pub origin_per_minute: NonZeroU32,
    /// Look-ups at other servers made on a client's word, per client address per minute
    /// (SPEC §11, §13.2): what one party can make this server fetch.
    pub remote_lookups_per_minute: NonZeroU32,
    /// The same look-ups per destination host per minute: what many parties together can make
    /// this server send to one host.
    pub remote_lookups_per_server_per_minute: NonZeroU32,
    /// How many kezd instances of a cluster enforce these quotas, each with counters of its
    /// own (kezd/src/limits.rs): the server document publishes each quota times this, what the
    /// cluster as a whole accepts at most from one client, sender, recipient or origin.
    pub cluster_instances: NonZeroU32,
}

impl RateLimits {
    /// A quota as the server document publishes it: what all the instances together accept.
    pub fn published(&self, quota: NonZeroU32) -> u64 {
        u64::from(quota.get()) * u64::from(self.cluster_instances.get())
    }

    /// Validates `[rate]`: every quota at least 1.
    pub(super) fn from_raw(raw: RawRate) -> Result<Self, ConfigError> {
        Ok(RateLimits {
            client_per_minute: nonzero_u32("rate.client_per_minute", raw.client_per_minute)?,
            register_per_hour: nonzero_u32("rate.register_per_hour", raw.register_per_hour)?,
            sender_per_minute: nonzero_u32("rate.sender_per_minute", raw.sender_per_minute)?,
            recipient_per_minute: nonzero_u32(
                "rate.recipient_per_minute",
                raw.recipient_per_minute,
            )?,
            recipient_strangers_per_minute: nonzero_u32(
                "rate.recipient_strangers_per_minute",
                raw.recipient_strangers_per_minute,
            )?,
            first_contacts_per_hour: nonzero_u32(
                "rate.first_contacts_per_hour",
                raw.first_contacts_per_hour,
            )?,
            origin_per_minute: nonzero_u32("rate.origin_per_minute", raw.origin_per_minute)?,
            remote_lookups_per_minute: nonzero_u32(
                "rate.remote_lookups_per_minute",
                raw.remote_lookups_per_minute,
            )?,
            remote_lookups_per_server_per_minute: nonzero_u32(
                "rate.remote_lookups_per_server_per_minute",
                raw.remote_lookups_per_server_per_minute,
            )?,
            cluster_instances: nonzero_u32("rate.cluster_instances", raw.cluster_instances)?,
        })
    }

    /// `[rate]` as written in the file.
    pub(super) fn to_raw(&self) -> RawRate {
        RawRate {
            client_per_minute: self.client_per_minute.get().into(),
            register_per_hour: self.register_per_hour.get().into(),
            sender_per_minute: self.sender_per_minute.get().into(),
            recipient_per_minute: self.recipient_per_minute.get().into(),
            recipient_strangers_per_minute: self.recipient_strangers_per_minute.get().into(),
            first_contacts_per_hour: self.first_contacts_per_hour.get().into(),
            origin_per_minute: self.origin_per_minute.get().into(),
            remote_lookups_per_minute: self.remote_lookups_per_minute.get().into(),
            remote_lookups_per_server_per_minute: self
                .remote_lookups_per_server_per_minute
                .get()
                .into(),
            cluster_instances: self.cluster_instances.get().into(),
        }
    }
}
