//! The spam limits of SPEC §11 as keyed rate limiters (governor's GCRA: a steady rate with a
//! burst of one window's quota). The client limit is checked for every request by the
//! service; the others are checked by handlers, which know the sender and the recipient.
//! Keys are evicted by [`Limiters::retain_recent`] on a timer, so an attacker cycling through
//! addresses or senders cannot grow memory without bound.
//!
//! # In a cluster the limits are per instance
//!
//! The limiters live in this process's memory; kezd instances sharing a PostgreSQL database
//! and NATS do not share them. Each instance enforces the configured quotas on what reaches
//! *it*, so behind a load balancer that spreads one client over N instances, that client (or
//! sender, recipient, origin server) gets up to N times every quota: N × `client_per_minute`,
//! N × `sender_per_minute`, N × `first_contacts_per_hour`, and so on. That is the whole gain:
//! a bounded multiple fixed by the operator's instance count, never an unlimited rate, and
//! the envelope and registration checks are unchanged.
//!
//! Shared limits were not built on purpose: a counter in PostgreSQL or NATS would put a
//! network round trip (and a write, for the database) in front of every request, including
//! the ones it refuses — the cheap rejection that makes a limit useful under a flood — and
//! would make rate limiting fail when the shared service is slow. Operators compensate
//! instead (deploy/README.md, "Rate limits in a cluster"): divide the configured quotas by
//! the instance count, so the cluster as a whole enforces the intended totals; or route each
//! client address to one instance (sticky routing by address, e.g. a hash of the client IP at
//! the load balancer), so the per-address limits hold exactly as configured.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::config::RateLimits;
use crate::error::ApiError;

/// How long a conversation is remembered for the first-contact quota: its window.
const CONVERSATION_MEMORY: Duration = Duration::from_secs(3600);

/// Which limit refused a request: named in logs and in the error message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// Requests per client address.
    Client,
    /// Registrations per client address.
    Register,
    /// Sends per sender.
    Sender,
    /// Messages per recipient.
    Recipient,
    /// New conversations per sender.
    FirstContacts,
    /// Envelopes per origin server.
    Origin,
    /// Outbound look-ups made on a client's word, per client address.
    RemoteLookups,
    /// Outbound look-ups made on a client's word, per destination host.
    RemoteLookupsPerServer,
}

impl Limit {
    /// The limit's name.
    pub fn name(self) -> &'static str {
        match self {
            Limit::Client => "client",
            Limit::Register => "register",
            Limit::Sender => "sender",
            Limit::Recipient => "recipient",
            Limit::FirstContacts => "first_contacts",
            Limit::Origin => "origin",
            Limit::RemoteLookups => "remote_lookups",
            Limit::RemoteLookupsPerServer => "remote_lookups_per_server",
        }
    }
}

/// A limit was reached; `retry_after` is when a request can next succeed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the {} limit is reached; retry after {retry_after:?}", limit.name())]
pub struct Exceeded {
    /// Which limit.
    pub limit: Limit,
    /// How long to wait.
    pub retry_after: Duration,
}

impl From<Exceeded> for ApiError {
    fn from(exceeded: Exceeded) -> Self {
        ApiError::RateLimited {
            limit: exceeded.limit.name(),
            retry_after: exceeded.retry_after,
        }
    }
}

/// Every keyed limiter of the daemon.
#[derive(Debug)]
pub struct Limiters {
    /// All requests, by client address (forwarded only from trusted proxies).
    client: DefaultKeyedRateLimiter<IpAddr>,
    /// `POST /v1/register`, by client address.
    register: DefaultKeyedRateLimiter<IpAddr>,
    /// Sends, by sender address.
    sender: DefaultKeyedRateLimiter<String>,
    /// Messages, by recipient address.
    recipient: DefaultKeyedRateLimiter<String>,
    /// First contacts, by sender address.
    first_contacts: DefaultKeyedRateLimiter<String>,
    /// (sender, recipient) pairs that wrote within the last hour, and when they last did: a
    /// message in a known conversation is not a first contact.
    contacts: Mutex<HashMap<(String, String), Instant>>,
    /// Envelopes received over federation, by origin server name.
    origin: DefaultKeyedRateLimiter<String>,
    /// Look-ups at other servers on an unauthenticated client's word, by client address: what
    /// one party can make this server fetch (SPEC §13.2).
    remote_lookups: DefaultKeyedRateLimiter<IpAddr>,
    /// The same look-ups by destination host (the server name without its port, so that
    /// cycling ports gives no fresh budget): what all parties together can aim at one host.
    remote_lookups_per_server: DefaultKeyedRateLimiter<String>,
    /// The limiters' clock, to turn a refusal's instant into a wait.
    clock: DefaultClock,
}

impl Limiters {
    /// Limiters with the configured quotas.
    pub fn new(rates: &RateLimits) -> Self {
        Limiters {
            client: DefaultKeyedRateLimiter::keyed(Quota::per_minute(rates.client_per_minute)),
            register: DefaultKeyedRateLimiter::keyed(Quota::per_hour(rates.register_per_hour)),
            sender: DefaultKeyedRateLimiter::keyed(Quota::per_minute(rates.sender_per_minute)),
            recipient: DefaultKeyedRateLimiter::keyed(Quota::per_minute(
                rates.recipient_per_minute,
            )),
            first_contacts: DefaultKeyedRateLimiter::keyed(Quota::per_hour(
                rates.first_contacts_per_hour,
            )),
            origin: DefaultKeyedRateLimiter::keyed(Quota::per_minute(rates.origin_per_minute)),
            remote_lookups: DefaultKeyedRateLimiter::keyed(Quota::per_minute(
                rates.remote_lookups_per_minute,
            )),
            remote_lookups_per_server: DefaultKeyedRateLimiter::keyed(Quota::per_minute(
                rates.remote_lookups_per_server_per_minute,
            )),
            contacts: Mutex::default(),
            clock: DefaultClock::default(),
        }
    }

    /// Counts one request from `client` (the service calls this for every request).
    pub fn check_client(&self, client: IpAddr) -> Result<(), Exceeded> {
        self.check(&self.client, &client, Limit::Client)
    }

    /// Counts one registration attempt from `client`.
    pub fn check_register(&self, client: IpAddr) -> Result<(), Exceeded> {
        self.check(&self.register, &client, Limit::Register)
    }

    /// Counts one send by `sender` (an address, `alice@kez.lat`).
    pub fn check_sender(&self, sender: &str) -> Result<(), Exceeded> {
        self.check(&self.sender, &sender.to_owned(), Limit::Sender)
    }

    /// Counts one message to `recipient` (an address).
    pub fn check_recipient(&self, recipient: &str) -> Result<(), Exceeded> {
        self.check(&self.recipient, &recipient.to_owned(), Limit::Recipient)
    }

    /// Counts a message from `sender` to `recipient` against the first-contact quota (SPEC §11)
    /// unless the two have exchanged a message, in either direction, within the last hour.
    /// Conversations are remembered per instance, like every limit here.
    pub fn check_contact(&self, sender: &str, recipient: &str) -> Result<(), Exceeded> {
        let now = Instant::now();
        {
            let mut seen = self.contacts.lock().unwrap_or_else(PoisonError::into_inner);
            let reply = (recipient.to_owned(), sender.to_owned());
            if seen.contains_key(&reply) {
                return Ok(());
            }
            if let Some(last) = seen.get_mut(&(sender.to_owned(), recipient.to_owned())) {
                *last = now;
                return Ok(());
            }
        }
        self.check_first_contact(sender)?;
        self.contacts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert((sender.to_owned(), recipient.to_owned()), now);
        Ok(())
    }

    /// Counts one new conversation opened by `sender`.
    pub fn check_first_contact(&self, sender: &str) -> Result<(), Exceeded> {
        self.check(
            &self.first_contacts,
            &sender.to_owned(),
            Limit::FirstContacts,
        )
    }

    /// Counts one envelope received from `origin` (a server name).
    pub fn check_origin(&self, origin: &str) -> Result<(), Exceeded> {
        self.check(&self.origin, &origin.to_owned(), Limit::Origin)
    }

    /// Counts one look-up that `client` makes this server send to `host` (SPEC §11, §13.2).
    /// Callers count only look-ups that would go out: a cached answer costs nothing. The
    /// client's quota is checked first, so a client over its own quota spends nothing of the
    /// destination's, which other clients share.
    pub fn check_remote_lookup(&self, client: IpAddr, host: &str) -> Result<(), Exceeded> {
        self.check(&self.remote_lookups, &client, Limit::RemoteLookups)?;
        self.check(
            &self.remote_lookups_per_server,
            &host.to_owned(),
            Limit::RemoteLookupsPerServer,
        )
    }

    /// Forgets keys whose limits are back to full, bounding memory to the keys active within
    /// one window. Called periodically by the maintenance task.
    pub fn retain_recent(&self) {
        self.contacts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|_, last| last.elapsed() < CONVERSATION_MEMORY);
        for limiter in [&self.client, &self.register, &self.remote_lookups] {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        for limiter in [
            &self.sender,
            &self.recipient,
            &self.first_contacts,
            &self.origin,
            &self.remote_lookups_per_server,
        ] {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }

    /// Keys currently remembered, over all limiters (for tests and metrics).
    pub fn tracked_keys(&self) -> usize {
        self.client.len()
            + self.register.len()
            + self.sender.len()
            + self.recipient.len()
            + self.first_contacts.len()
    }

    fn check<K: Clone + Hash + Eq>(
        &self,
        limiter: &DefaultKeyedRateLimiter<K>,
        key: &K,
        limit: Limit,
    ) -> Result<(), Exceeded> {
        limiter.check_key(key).map_err(|not_until| Exceeded {
            limit,
            retry_after: not_until.wait_time_from(self.clock.now()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use std::num::NonZeroU32;

    fn rates(per: u32) -> RateLimits {
        let n = NonZeroU32::new(per).expect("non-zero");
        RateLimits {
            client_per_minute: n,
            register_per_hour: n,
            sender_per_minute: n,
            recipient_per_minute: n,
            first_contacts_per_hour: n,
            origin_per_minute: n,
            remote_lookups_per_minute: n,
            remote_lookups_per_server_per_minute: n,
        }
    }

    #[test]
    fn refuses_past_the_burst_with_a_wait() {
        let limiters = Limiters::new(&rates(2));
        let ip: IpAddr = "192.0.2.1".parse().expect("ip");
        assert!(limiters.check_client(ip).is_ok());
        assert!(limiters.check_client(ip).is_ok());
        let refused = limiters.check_client(ip).expect_err("third is over");
        assert_eq!(refused.limit, Limit::Client);
        assert!(
            refused.retry_after > Duration::ZERO && refused.retry_after <= Duration::from_secs(30)
        );
        let other: IpAddr = "192.0.2.2".parse().expect("ip");
        assert!(limiters.check_client(other).is_ok(), "keys are independent");
    }

    #[test]
    fn each_helper_uses_its_own_limiter() {
        let limiters = Limiters::new(&rates(1));
        assert!(limiters.check_sender("a@x").is_ok());
        assert_eq!(
            limiters.check_sender("a@x").map_err(|e| e.limit),
            Err(Limit::Sender)
        );
        assert!(
            limiters.check_recipient("a@x").is_ok(),
            "recipient is separate"
        );
        assert!(limiters.check_first_contact("a@x").is_ok());
        let hourly = limiters.check_first_contact("a@x").expect_err("over");
        assert!(
            hourly.retry_after > Duration::from_secs(3000),
            "an hourly window"
        );
        assert_eq!(ApiError::from(hourly).code(), "rate_limited");
    }

    /// SPEC §11: only new conversations count; replies and follow-ups are free.
    #[test]
    fn first_contacts_count_new_conversations_only() {
        let limiters = Limiters::new(&rates(1));
        assert!(limiters.check_contact("a@x", "b@y").is_ok());
        assert!(
            limiters.check_contact("a@x", "b@y").is_ok(),
            "same conversation"
        );
        assert!(limiters.check_contact("b@y", "a@x").is_ok(), "a reply");
        let refused = limiters
            .check_contact("a@x", "c@z")
            .expect_err("a second new one");
        assert_eq!(refused.limit, Limit::FirstContacts);
    }

    #[test]
    fn retain_recent_keeps_keys_that_are_still_limited() {
        let limiters = Limiters::new(&Config::default().rate);
        limiters.check_sender("a@x").expect("first");
        limiters.retain_recent();
        assert_eq!(limiters.tracked_keys(), 1, "a key mid-window is kept");
    }

    /// SPEC §11, §13.2: remote look-ups are limited per client address and per destination
    /// host (ports do not split a host); a client over its own quota spends none of the host's.
    #[test]
    fn remote_lookups_per_client_and_per_host() {
        let limiters = Limiters::new(&RateLimits {
            remote_lookups_per_minute: NonZeroU32::new(2).expect("non-zero"),
            ..rates(3)
        });
        let (a, b): (IpAddr, IpAddr) = (
            "192.0.2.1".parse().expect("ip"),
            "192.0.2.2".parse().expect("ip"),
        );
        assert!(limiters.check_remote_lookup(a, "x.test").is_ok());
        assert!(limiters.check_remote_lookup(a, "y.test").is_ok());
        let refused = limiters
            .check_remote_lookup(a, "x.test")
            .expect_err("a's third");
        assert_eq!(refused.limit, Limit::RemoteLookups);
        assert!(refused.retry_after > Duration::ZERO);
        // x.test has been charged once (a's refused attempt cost it nothing): two more fit.
        assert!(limiters.check_remote_lookup(b, "x.test").is_ok());
        assert!(limiters.check_remote_lookup(b, "x.test").is_ok());
        let refused = limiters
            .check_remote_lookup("192.0.2.3".parse().expect("ip"), "x.test")
            .expect_err("x.test's fourth");
        assert_eq!(refused.limit, Limit::RemoteLookupsPerServer);
        assert_eq!(ApiError::from(refused).code(), "rate_limited");
    }
}
