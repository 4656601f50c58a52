//! `[inbox]`: poll page sizes (SPEC §8.2), bounded by the memory budget a poll holds them in.

use std::num::{NonZeroU32, NonZeroUsize};

use super::ConfigError;
use super::checks::{as_u64, invalid, nonzero_u32, nonzero_usize};
use super::http::HttpLimits;
use super::raw::RawInbox;

/// Inbox page sizes (SPEC §8.2). `page_default ≤ page_max` holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxPaging {
    /// Page size when the request has no `limit`.
    pub page_default: NonZeroU32,
    /// Largest page; a larger `limit` is capped to it.
    pub page_max: NonZeroU32,
    /// Largest page body in bytes; a page always holds at least one message.
    pub page_max_bytes: NonZeroUsize,
}

impl InboxPaging {
    /// Validates `[inbox]` against the memory budget of `http`.
    pub(super) fn from_raw(raw: RawInbox, http: &HttpLimits) -> Result<Self, ConfigError> {
        let inbox = InboxPaging {
            page_default: nonzero_u32("inbox.page_default", raw.page_default)?,
            page_max: nonzero_u32("inbox.page_max", raw.page_max)?,
            page_max_bytes: nonzero_usize("inbox.page_max_bytes", raw.page_max_bytes)?,
        };
        if inbox.page_default > inbox.page_max {
            return Err(invalid(
                "inbox.page_default",
                "must not exceed inbox.page_max",
            ));
        }
        // A poll holds the envelopes it read and the page it builds from them at once
        // (handlers::inbox), both against the budget: a budget smaller would refuse every poll.
        if u64::try_from(inbox.page_max_bytes.get()).map_or(true, |n| {
            n.saturating_mul(2)
                > http
                    .max_inflight_bytes
                    .min(http.max_inflight_bytes_per_address)
        }) {
            return Err(invalid(
                "inbox.page_max_bytes",
                "twice it must fit http.max_inflight_bytes and its per-address share (a poll holds the envelopes and the page)",
            ));
        }
        Ok(inbox)
    }

    /// `[inbox]` as written in the file.
    pub(super) fn to_raw(&self) -> RawInbox {
        RawInbox {
            page_default: self.page_default.get().into(),
            page_max: self.page_max.get().into(),
            page_max_bytes: as_u64(self.page_max_bytes.get()),
        }
    }
}
