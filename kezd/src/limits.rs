//! The spam limits of SPEC §11 as keyed rate limiters (a steady rate with a burst of one
//! window's quota). The client and registration limits are checked for every request by the
//! service, one key each, with governor's GCRA. A send counts against several limits at once
//! (sender, one of the recipient's two budgets, first contacts, origin server), and a send
//! refused by one of them must spend nothing of the others, so those use limits/gcra.rs,
//! which checks them all and spends only when all admit. Which of them apply is decided by the
//! conversation between sender and recipient (kezd/src/conversation.rs), which the store
//! remembers. Keys are evicted by [`Limiters::retain_recent`] on a timer, so an attacker
//! cycling through addresses or senders cannot grow memory without bound.
//!
//! # In a cluster the counters are per instance
//!
//! The counters live in this process's memory; kezd instances sharing a PostgreSQL database
//! and NATS do not share them (the conversations that decide which counters a send uses are
//! shared: they are in the database). Each instance enforces the configured quotas on what
//! reaches *it*, so behind a load balancer that spreads one client over N instances, that
//! client (or sender, recipient, origin server) gets up to N times every quota: N ×
//! `client_per_minute`, N × `sender_per_minute`, N × `first_contacts_per_hour`, and so on.
//! That is the whole gain: a bounded multiple fixed by the operator's instance count, never
//! an unlimited rate, and the envelope and registration checks are unchanged. The server
//! document publishes that multiple, each quota × `[rate] cluster_instances`
//! (`handlers::server_document`): what the cluster as a whole accepts at most, since the
//! cluster is one server to its peers and clients.
//!
//! Shared counters were not built on purpose: a counter in PostgreSQL or NATS would put a
//! network round trip (and a write, for the database) in front of every request, including
//! the ones it refuses — the cheap rejection that makes a limit useful under a flood — and
//! would make rate limiting fail when the shared service is slow. Operators compensate
//! instead (deploy/README.md, "Rate limits in a cluster"): divide the configured quotas by
//! the instance count, so the cluster as a whole enforces the intended totals; or route each
//! client address to one instance (sticky routing by address, e.g. a hash of the client IP at
//! the load balancer), so the per-address limits hold exactly as configured.

mod gcra;

use std::net::IpAddr;
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::config::RateLimits;
use crate::conversation::Conversation;
use crate::error::ApiError;
use crate::store::Refusal;
use gcra::KeyedGcra;

const MINUTE: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);

/// Which limit refused a request: named in logs and in the error message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// Requests per client address.
    Client,
    /// Registrations per client address.
    Register,
    /// Sends per sender.
    Sender,
    /// Messages per recipient from its contacts.
    Recipient,
    /// Messages per recipient from senders it has not written to.
    RecipientStrangers,
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
            Limit::RecipientStrangers => "recipient_strangers",
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

/// How the store, which runs a send's limits at the moment it writes (store/admission.rs),
/// reports a refusal without knowing the limits.
impl From<Exceeded> for Refusal {
    fn from(exceeded: Exceeded) -> Self {
        Refusal {
            limit: exceeded.limit.name(),
            retry_after: exceeded.retry_after,
        }
    }
}

/// One send to count (SPEC §11): who writes to whom, what the store remembers of their
/// conversation, and for a federated envelope the origin server it came from.
#[derive(Debug, Clone, Copy)]
pub struct Send<'a> {
    /// The sender's address.
    pub sender: &'a str,
    /// The recipient's address.
    pub recipient: &'a str,
    /// What the store remembers of the two directions between them.
    pub conversation: Conversation,
    /// The origin server of a received transaction; `None` for a local send.
    pub origin: Option<&'a str>,
}

/// Every keyed limiter of the daemon.
#[derive(Debug)]
pub struct Limiters {
    /// All requests, by client address (forwarded only from trusted proxies).
    client: DefaultKeyedRateLimiter<IpAddr>,
    /// `POST /v1/register`, by client address.
    register: DefaultKeyedRateLimiter<IpAddr>,
    /// Sends, by sender address.
    sender: KeyedGcra,
    /// Messages from the recipient's contacts, by recipient address.
    recipient: KeyedGcra,
    /// Messages from everyone else, by recipient address: a separate budget, so that senders
    /// the recipient never wrote to cannot use up the one of those it did.
    strangers: KeyedGcra,
    /// First contacts, by sender address.
    first_contacts: KeyedGcra,
    /// Envelopes received over federation, by origin server name.
    origin: KeyedGcra,
    /// Look-ups at other servers on an unauthenticated client's word, by client address: what
    /// one party can make this server fetch (SPEC §13.2).
    remote_lookups: DefaultKeyedRateLimiter<IpAddr>,
    /// The same look-ups by destination host (the server name without its port, so that
    /// cycling ports gives no fresh budget): what all parties together can aim at one host.
    remote_lookups_per_server: KeyedGcra,
    /// The governor limiters' clock, to turn a refusal's instant into a wait.
    clock: DefaultClock,
    /// The quotas these limiters enforce, as the server document publishes them.
    rates: RateLimits,
}

impl Limiters {
    /// Limiters with the configured quotas.
    pub fn new(rates: &RateLimits) -> Self {
        Limiters {
            client: DefaultKeyedRateLimiter::keyed(Quota::per_minute(rates.client_per_minute)),
            register: DefaultKeyedRateLimiter::keyed(Quota::per_hour(rates.register_per_hour)),
            sender: KeyedGcra::new(rates.sender_per_minute, MINUTE),
            recipient: KeyedGcra::new(rates.recipient_per_minute, MINUTE),
            strangers: KeyedGcra::new(rates.recipient_strangers_per_minute, MINUTE),
            first_contacts: KeyedGcra::new(rates.first_contacts_per_hour, HOUR),
            origin: KeyedGcra::new(rates.origin_per_minute, MINUTE),
            remote_lookups: DefaultKeyedRateLimiter::keyed(Quota::per_minute(
                rates.remote_lookups_per_minute,
            )),
            remote_lookups_per_server: KeyedGcra::new(
                rates.remote_lookups_per_server_per_minute,
                MINUTE,
            ),
            clock: DefaultClock::default(),
            rates: rates.clone(),
        }
    }

    /// The quotas in force.
    pub fn rates(&self) -> &RateLimits {
        &self.rates
    }

    /// Counts one request from `client` (the service calls this for every request).
    pub fn check_client(&self, client: IpAddr) -> Result<(), Exceeded> {
        self.check(&self.client, &client, Limit::Client)
    }

    /// Counts one registration attempt from `client`.
    pub fn check_register(&self, client: IpAddr) -> Result<(), Exceeded> {
        self.check(&self.register, &client, Limit::Register)
    }

    /// Counts `send` against every limit that applies to it, or, when one of them refuses it,
    /// against none (SPEC §11): the sender's, the recipient's budget for its contacts or the
    /// one for strangers, the sender's first contacts when neither has written to the other,
    /// and the origin server's for a federated envelope.
    pub fn admit_send(&self, send: &Send<'_>) -> Result<(), Exceeded> {
        let recipient = if send.conversation.from_contact() {
            (&self.recipient, Limit::Recipient)
        } else {
            (&self.strangers, Limit::RecipientStrangers)
        };
        let mut charges = vec![
            (&self.sender, send.sender, Limit::Sender),
            (recipient.0, send.recipient, recipient.1),
        ];
        if send.conversation.is_first_contact() {
            charges.push((&self.first_contacts, send.sender, Limit::FirstContacts));
        }
        if let Some(origin) = send.origin {
            charges.push((&self.origin, origin, Limit::Origin));
        }
        let keys: Vec<(&KeyedGcra, &str)> = charges.iter().map(|&(l, k, _)| (l, k)).collect();
        gcra::spend_all(&keys, Instant::now()).map_err(|(index, retry_after)| Exceeded {
            limit: charges[index].2,
            retry_after,
        })
    }

    /// Counts one look-up that `client` makes this server send to `host` (SPEC §11, §13.2).
    /// Callers count only look-ups that would go out: a cached answer costs nothing. The
    /// client's quota is checked first, so a client over its own quota spends nothing of the
    /// destination's, which other clients share.
    pub fn check_remote_lookup(&self, client: IpAddr, host: &str) -> Result<(), Exceeded> {
        self.check(&self.remote_lookups, &client, Limit::RemoteLookups)?;
        gcra::spend_all(&[(&self.remote_lookups_per_server, host)], Instant::now()).map_err(
            |(_, retry_after)| Exceeded {
                limit: Limit::RemoteLookupsPerServer,
                retry_after,
            },
        )
    }

    /// Forgets keys whose limits are back to full, bounding memory to the keys active within
    /// one window. Called periodically by the maintenance task.
    pub fn retain_recent(&self) {
        for limiter in [&self.client, &self.register, &self.remote_lookups] {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        let now = Instant::now();
        self.remote_lookups_per_server.retain_recent(now);
        for limiter in self.sends() {
            limiter.retain_recent(now);
        }
    }

    /// Keys currently remembered, over all limiters (for tests and metrics).
    pub fn tracked_keys(&self) -> usize {
        self.client.len() + self.register.len() + self.sends().map(KeyedGcra::len).sum::<usize>()
    }

    /// The limiters a send counts against.
    fn sends(&self) -> impl Iterator<Item = &KeyedGcra> {
        [
            &self.sender,
            &self.recipient,
            &self.strangers,
            &self.first_contacts,
            &self.origin,
        ]
        .into_iter()
    }

    fn check(
        &self,
        limiter: &DefaultKeyedRateLimiter<IpAddr>,
        key: &IpAddr,
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
            recipient_strangers_per_minute: n,
            first_contacts_per_hour: n,
            origin_per_minute: n,
            remote_lookups_per_minute: n,
            remote_lookups_per_server_per_minute: n,
            cluster_instances: NonZeroU32::MIN,
        }
    }

    fn send<'a>(sender: &'a str, recipient: &'a str, conversation: Conversation) -> Send<'a> {
        Send {
            sender,
            recipient,
            conversation,
            origin: None,
        }
    }

    const FIRST: Conversation = Conversation {
        sent_ms: None,
        replied_ms: None,
    };
    const FOLLOW_UP: Conversation = Conversation {
        sent_ms: Some(1),
        replied_ms: None,
    };
    const FROM_CONTACT: Conversation = Conversation {
        sent_ms: Some(1),
        replied_ms: Some(1),
    };

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

    /// SPEC §11: only new conversations count as first contacts, with an hourly window.
    #[test]
    fn first_contacts_count_new_conversations_only() {
        let mut rates = rates(100);
        rates.first_contacts_per_hour = NonZeroU32::MIN;
        let limiters = Limiters::new(&rates);
        assert!(limiters.admit_send(&send("a@x", "b@y", FIRST)).is_ok());
        assert!(limiters.admit_send(&send("a@x", "b@y", FOLLOW_UP)).is_ok());
        assert!(
            limiters
                .admit_send(&send("a@x", "c@z", FROM_CONTACT))
                .is_ok()
        );
        let refused = limiters
            .admit_send(&send("a@x", "d@z", FIRST))
            .expect_err("a second new one");
        assert_eq!(refused.limit, Limit::FirstContacts);
        assert!(
            refused.retry_after > Duration::from_secs(3000),
            "an hourly window"
        );
        assert_eq!(ApiError::from(refused).code(), "rate_limited");
    }

    /// SPEC §11: a recipient's contacts and strangers have separate budgets.
    #[test]
    fn strangers_cannot_spend_the_contacts_budget() {
        let mut rates = rates(100);
        rates.recipient_strangers_per_minute = NonZeroU32::MIN;
        let limiters = Limiters::new(&rates);
        assert!(limiters.admit_send(&send("s1@x", "v@y", FIRST)).is_ok());
        let refused = limiters
            .admit_send(&send("s2@x", "v@y", FOLLOW_UP))
            .expect_err("the strangers' budget is spent");
        assert_eq!(refused.limit, Limit::RecipientStrangers);
        assert!(
            limiters
                .admit_send(&send("friend@x", "v@y", FROM_CONTACT))
                .is_ok()
        );
    }

    /// SPEC §11: a send refused by one limit spends nothing of the others.
    #[test]
    fn a_refused_send_spends_nothing() {
        let mut rates = rates(2);
        rates.first_contacts_per_hour = NonZeroU32::MIN;
        let limiters = Limiters::new(&rates);
        assert!(limiters.admit_send(&send("a@x", "b@y", FIRST)).is_ok());
        for _ in 0..5 {
            let refused = limiters
                .admit_send(&send("a@x", "c@y", FIRST))
                .expect_err("spent");
            assert_eq!(refused.limit, Limit::FirstContacts);
        }
        assert!(
            limiters
                .admit_send(&send("a@x", "b@y", FROM_CONTACT))
                .is_ok(),
            "the refusals left the sender's second send"
        );
        assert_eq!(
            limiters
                .admit_send(&send("a@x", "b@y", FROM_CONTACT))
                .map_err(|e| e.limit),
            Err(Limit::Sender)
        );
    }

    #[test]
    fn the_origin_counts_federated_envelopes() {
        let limiters = Limiters::new(&rates(1));
        let mut federated = send("a@x", "b@y", FROM_CONTACT);
        federated.origin = Some("x");
        assert!(limiters.admit_send(&federated).is_ok());
        federated.sender = "c@x";
        federated.recipient = "d@y";
        assert_eq!(
            limiters.admit_send(&federated).map_err(|e| e.limit),
            Err(Limit::Origin)
        );
    }

    #[test]
    fn retain_recent_keeps_keys_that_are_still_limited() {
        let limiters = Limiters::new(&Config::default().rate);
        limiters
            .admit_send(&send("a@x", "b@y", FOLLOW_UP))
            .expect("first");
        limiters.retain_recent();
        assert_eq!(
            limiters.tracked_keys(),
            2,
            "the sender's and recipient's keys are kept"
        );
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
