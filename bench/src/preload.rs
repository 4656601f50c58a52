//! The large store's fixture: registered users and stored messages written straight into
//! kezd's own tables (after kezd created them), because a million registrations and five million
//! sends over HTTP would take hours. Every row is what kezd itself would have written: each user
//! has its own key and a signed registration, each message is a real envelope sealed to its
//! recipient and signed by its sender, with the id kezd computes. Sealing is the costly part, so
//! each inbox has at most two sealed bodies (one per sender), re-signed with a distinct
//! timestamp per message: every envelope stays valid and every id unique.
//!
//! Keys are derived from a per-run tag and the user's number, so the scenario can sign polls as
//! any preloaded user without keeping a million keys.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use kez_spec::envelope::{Envelope, SignedEnvelope};
use kez_spec::registration::Registration;
use kez_spec::{Address, Handle, Primary, ServerName, SigningKey};
use rand_core::{OsRng, RngCore};
use sqlx::postgres::PgConnection;
use sqlx::sqlite::SqliteConnection;
use sqlx::{Connection, QueryBuilder, Sqlite};

use crate::client::PLAINTEXT_BYTES;

/// The retention cap (kezd's default `retention.max_per_inbox`): the longest inbox.
pub const CAP: u32 = 10_000;

/// The probe inboxes the poll mix reads: users 0..4 hold exactly these many messages.
pub const PROBES: [u32; 4] = [CAP, 1_000, 100, 0];

/// kezd's default age limit (`retention.max_age_secs`, 30 days).
const MAX_AGE_MS: i64 = 30 * 24 * 3600 * 1000;

/// Stored messages span the age limit plus one hour: the 1/721 oldest are what an hourly
/// sweep finds expired, as on a server whose last sweep was an hour ago.
const SPAN_MS: i64 = MAX_AGE_MS + 3600 * 1000;

/// Rows per multi-row INSERT on SQLite (6 columns: well under its 32,766 variables).
const SQLITE_ROWS_PER_STATEMENT: usize = 500;

/// Messages generated (and inserted in one transaction) per chunk.
const CHUNK_MESSAGES: usize = 40_000;

/// Users per chunk, when their inboxes are short.
const CHUNK_USERS: usize = 20_000;

/// What to load, and the keys of everyone in it.
#[derive(Debug, Clone)]
pub struct Fixture {
    /// Random per run: keys of one run never match another's.
    tag: [u8; 16],
    /// The server's name, part of every address.
    pub server: ServerName,
    /// Messages in each user's inbox; user `i` is the handle `u<i>`.
    pub lengths: Vec<u32>,
    /// When the load started (Unix ms): every timestamp is before it.
    now_ms: i64,
}

/// The rows of one chunk of users and their inboxes, in kezd's column order.
#[derive(Debug, Default)]
struct Rows {
    /// users: handle, primary_key, registered_at, registration.
    users: Vec<(String, String, i64, String)>,
    /// inbox_counters: recipient, last_seq.
    counters: Vec<(String, i64)>,
    /// messages (and message_ids): recipient, seq, id, sender, received_at, envelope.
    messages: Vec<(String, i64, String, String, i64, String)>,
    /// conversations: sender, recipient, last_at.
    conversations: Vec<(String, String, i64)>,
}

impl Fixture {
    /// `users` users holding `messages` messages: the [`PROBES`] first, then a Zipf-like spread
    /// (the k-th busiest inbox holds about 1/k of the busiest, capped at [`CAP`]) over half of
    /// the others; the other half are empty.
    pub fn new(server: &str, users: usize, messages: usize) -> Result<Fixture> {
        let probe_total: usize = PROBES.iter().map(|&n| n as usize).sum();
        if users < PROBES.len() * 2 || messages < probe_total {
            bail!("a large store needs at least 8 users and {probe_total} messages");
        }
        let mut tag = [0u8; 16];
        OsRng.fill_bytes(&mut tag);
        let now_ms = i64::try_from(crate::client::now_ms())?;
        Ok(Fixture {
            tag,
            server: ServerName::parse(server)?,
            lengths: spread(users, messages),
            now_ms,
        })
    }

    /// User `i`'s key.
    pub fn key(&self, i: usize) -> SigningKey {
        let mut seed = [0u8; 32];
        seed[..16].copy_from_slice(&self.tag);
        seed[16..24].copy_from_slice(&(i as u64).to_le_bytes());
        SigningKey::from_bytes(&seed)
    }

    /// User `i`'s address.
    pub fn address(&self, i: usize) -> Result<Address> {
        Ok(Address::new(
            Handle::parse(&format!("u{i}"))?,
            self.server.clone(),
        ))
    }

    /// The two senders of inbox `r` (spread over every user, never `r` itself).
    fn senders(&self, r: usize) -> [usize; 2] {
        let n = self.lengths.len();
        let a = (r.wrapping_mul(7919) + 1) % n;
        let a = if a == r { (a + 1) % n } else { a };
        let b = (a + 1) % n;
        [a, if b == r { (b + 1) % n } else { b }]
    }

    /// Messages stored in all.
    pub fn messages(&self) -> usize {
        self.lengths.iter().map(|&n| n as usize).sum()
    }

    /// Messages whose age is past the limit (an hour's worth): what the first sweep deletes.
    pub fn expired(&self) -> usize {
        self.messages() / 721
    }

    /// The rows of users `start..end` and their inboxes, built on every core.
    fn rows(&self, start: usize, end: usize) -> Result<Rows> {
        let threads = std::thread::available_parallelism().map_or(2, usize::from);
        // Split by messages, not users: one inbox of 10,000 is most of a chunk's work.
        let total: usize = self.lengths[start..end]
            .iter()
            .map(|&n| n as usize + 1)
            .sum();
        let mut bounds = vec![start];
        let mut acc = 0;
        for i in start..end {
            acc += self.lengths[i] as usize + 1;
            if acc * threads >= total * bounds.len() && bounds.len() < threads {
                bounds.push(i + 1);
            }
        }
        bounds.push(end);
        bounds.dedup();
        let parts: Vec<Result<Rows>> = std::thread::scope(|scope| {
            let handles: Vec<_> = bounds
                .windows(2)
                .map(|w| {
                    let (a, b) = (w[0], w[1]);
                    scope.spawn(move || self.rows_one_thread(a, b))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|_| bail!("row builder panicked")))
                .collect()
        });
        let mut rows = Rows::default();
        for part in parts {
            let part = part?;
            rows.users.extend(part.users);
            rows.counters.extend(part.counters);
            rows.messages.extend(part.messages);
            rows.conversations.extend(part.conversations);
        }
        Ok(rows)
    }

    fn rows_one_thread(&self, start: usize, end: usize) -> Result<Rows> {
        let mut rows = Rows::default();
        let year_ms = 365 * 24 * 3600 * 1000;
        for r in start..end {
            let key = self.key(r);
            let address = self.address(r)?;
            let handle = address.handle().to_string();
            let registered_at = self.now_ms - year_ms + (r as i64 % year_ms);
            let registration = Registration {
                handle: address.handle().clone(),
                server: self.server.clone(),
                primary: Primary::from(&key),
                ts_ms: u64::try_from(registered_at)?,
            }
            .sign(&key);
            rows.users.push((
                handle.clone(),
                Primary::from(&key).to_string(),
                registered_at,
                String::from_utf8(kez_spec::json::canonical(&registration))?,
            ));
            let length = i64::from(self.lengths[r]);
            if length == 0 {
                continue;
            }
            rows.counters.push((handle.clone(), length));
            self.inbox(r, &key, &address, length, &mut rows)?;
        }
        Ok(rows)
    }

    /// Inbox `r`'s messages, oldest first, evenly over [`SPAN_MS`] with a per-inbox phase.
    fn inbox(
        &self,
        r: usize,
        key: &SigningKey,
        to: &Address,
        length: i64,
        rows: &mut Rows,
    ) -> Result<()> {
        let recipient = to.handle().to_string();
        let primary = Primary::from(key);
        let phase = (r as i64).wrapping_mul(2_654_435_761) % SPAN_MS;
        let oldest = self.now_ms - SPAN_MS - 60_000;
        let mut sealed = Vec::with_capacity(2);
        for (k, s) in self.senders(r).into_iter().enumerate() {
            if k as i64 >= length {
                break;
            }
            let sender_key = self.key(s);
            let from = self.address(s)?;
            let mut nonce = [0u8; 12];
            OsRng.fill_bytes(&mut nonce);
            let text = format!(
                "{:<PLAINTEXT_BYTES$}",
                format!("kez-bench stored message {r}")
            );
            let envelope = Envelope::seal(
                &sender_key,
                from.clone(),
                to.clone(),
                &primary,
                0,
                nonce,
                &kez_spec::plaintext::Plaintext::bytes(&text),
            )?;
            sealed.push((sender_key, from.to_string(), envelope, 0i64));
        }
        for seq in 1..=length {
            let at = oldest + ((seq - 1) * SPAN_MS + phase) / length;
            let n = sealed.len();
            let (sender_key, from, envelope, last_at) = &mut sealed[(seq as usize) % n];
            envelope.ts_ms = u64::try_from(at)?;
            let signed = envelope.sign(sender_key).to_string();
            let parsed = SignedEnvelope::parse(signed.as_bytes()).context("own envelope parses")?;
            *last_at = at;
            rows.messages.push((
                recipient.clone(),
                seq,
                parsed.id.to_string(),
                from.clone(),
                at,
                parsed.canonical,
            ));
        }
        for (_, from, _, last_at) in sealed {
            rows.conversations.push((from, to.to_string(), last_at));
        }
        Ok(())
    }

    /// User ranges of about [`CHUNK_MESSAGES`] messages or [`CHUNK_USERS`] users each.
    fn chunks(&self) -> Vec<(usize, usize)> {
        let mut chunks = Vec::new();
        let (mut start, mut acc) = (0, 0);
        for (i, &n) in self.lengths.iter().enumerate() {
            acc += n as usize;
            if acc >= CHUNK_MESSAGES || i + 1 - start >= CHUNK_USERS {
                chunks.push((start, i + 1));
                (start, acc) = (i + 1, 0);
            }
        }
        if start < self.lengths.len() {
            chunks.push((start, self.lengths.len()));
        }
        chunks
    }
}

/// Where the rows go.
pub enum Target<'a> {
    /// kezd's SQLite file, on a connection of the loader's own.
    Sqlite(&'a mut SqliteConnection),
    /// kezd's PostgreSQL database.
    Postgres(&'a mut PgConnection),
}

/// How long the load took and how much of that was building rows.
#[derive(Debug, Clone, Copy)]
pub struct LoadTimes {
    /// From the first row built to the last committed.
    pub total: Duration,
    /// Building (sealing, signing) rows, on every core.
    pub build: Duration,
}

/// Writes the whole fixture; the next chunk is built while the previous one is inserted.
pub async fn load(fixture: &Fixture, mut target: Target<'_>) -> Result<LoadTimes> {
    let started = std::time::Instant::now();
    let mut build = Duration::ZERO;
    let chunks = fixture.chunks();
    let shared = std::sync::Arc::new(fixture.clone());
    let spawn = |(a, b): (usize, usize)| {
        let f = std::sync::Arc::clone(&shared);
        tokio::task::spawn_blocking(move || {
            let t = std::time::Instant::now();
            f.rows(a, b).map(|rows| (rows, t.elapsed()))
        })
    };
    let mut next = chunks.first().map(|&c| spawn(c));
    for i in 0..chunks.len() {
        let Some(pending) = next.take() else { break };
        let (rows, took) = pending.await??;
        build += took;
        next = chunks.get(i + 1).map(|&c| spawn(c));
        match &mut target {
            Target::Sqlite(conn) => insert_sqlite(conn, &rows).await?,
            Target::Postgres(conn) => copy_postgres(conn, &rows).await?,
        }
    }
    Ok(LoadTimes {
        total: started.elapsed(),
        build,
    })
}

/// One transaction per chunk, multi-row INSERTs into each table.
async fn insert_sqlite(conn: &mut SqliteConnection, rows: &Rows) -> Result<()> {
    let mut tx = conn.begin().await?;
    // Since its schema version 9 kezd keys its SQLite id memory by the day of the envelope's
    // ts (kezd/src/store/sqlite/stored_ids.rs); a kezd from before, measured beside it, by
    // the id alone.
    let by_day: bool = sqlx::query_scalar(
        "SELECT COUNT(*) > 0 FROM pragma_table_info('message_ids') WHERE name = 'ts_day'",
    )
    .fetch_one(&mut *tx)
    .await?;
    for part in rows.users.chunks(SQLITE_ROWS_PER_STATEMENT) {
        QueryBuilder::<Sqlite>::new(
            "INSERT INTO users (handle, primary_key, registered_at, registration) ",
        )
        .push_values(part, |mut b, (h, p, at, r)| {
            b.push_bind(h).push_bind(p).push_bind(at).push_bind(r);
        })
        .build()
        .execute(&mut *tx)
        .await?;
    }
    for part in rows.counters.chunks(SQLITE_ROWS_PER_STATEMENT) {
        QueryBuilder::<Sqlite>::new("INSERT INTO inbox_counters (recipient, last_seq) ")
            .push_values(part, |mut b, (h, n)| {
                b.push_bind(h).push_bind(n);
            })
            .build()
            .execute(&mut *tx)
            .await?;
    }
    for part in rows.messages.chunks(SQLITE_ROWS_PER_STATEMENT) {
        QueryBuilder::<Sqlite>::new(
            "INSERT INTO messages (recipient, seq, id, sender, received_at, envelope) ",
        )
        .push_values(part, |mut b, (h, seq, id, from, at, env)| {
            b.push_bind(h)
                .push_bind(seq)
                .push_bind(id)
                .push_bind(from)
                .push_bind(at)
                .push_bind(env);
        })
        .build()
        .execute(&mut *tx)
        .await?;
        QueryBuilder::<Sqlite>::new(if by_day {
            "INSERT INTO message_ids (ts_day, id, recipient, seq, accepted_at, sender) "
        } else {
            "INSERT INTO message_ids (id, recipient, seq, accepted_at, sender) "
        })
        .push_values(part, |mut b, (h, seq, id, from, at, _)| {
            // Each envelope here is sent when it is received.
            if by_day {
                b.push_bind(at.div_euclid(86_400_000));
            }
            b.push_bind(id)
                .push_bind(h)
                .push_bind(seq)
                .push_bind(at)
                .push_bind(from);
        })
        .build()
        .execute(&mut *tx)
        .await?;
    }
    for part in rows.conversations.chunks(SQLITE_ROWS_PER_STATEMENT) {
        QueryBuilder::<Sqlite>::new("INSERT INTO conversations (sender, recipient, last_at) ")
            .push_values(part, |mut b, (s, r, at)| {
                b.push_bind(s).push_bind(r).push_bind(at);
            })
            .build()
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// One COPY per table and chunk (text format), in one transaction.
async fn copy_postgres(conn: &mut PgConnection, rows: &Rows) -> Result<()> {
    let mut tx = conn.begin().await?;
    let tables: [(&str, String); 5] =
        [
            (
                "users (handle, primary_key, registered_at, registration)",
                copy_text(rows.users.iter().map(|(h, p, at, r)| {
                    [h.clone(), p.clone(), at.to_string(), r.clone()].to_vec()
                })),
            ),
            (
                "inbox_counters (recipient, last_seq)",
                copy_text(
                    rows.counters
                        .iter()
                        .map(|(h, n)| [h.clone(), n.to_string()].to_vec()),
                ),
            ),
            (
                "messages (recipient, seq, id, sender, received_at, envelope)",
                copy_text(rows.messages.iter().map(|(h, seq, id, from, at, env)| {
                    [
                        h.clone(),
                        seq.to_string(),
                        id.clone(),
                        from.clone(),
                        at.to_string(),
                        env.clone(),
                    ]
                    .to_vec()
                })),
            ),
            (
                "message_ids (id, recipient, seq, accepted_at, sender)",
                copy_text(rows.messages.iter().map(|(h, seq, id, from, at, _)| {
                    [
                        id.clone(),
                        h.clone(),
                        seq.to_string(),
                        at.to_string(),
                        from.clone(),
                    ]
                    .to_vec()
                })),
            ),
            (
                "conversations (sender, recipient, last_at)",
                copy_text(
                    rows.conversations
                        .iter()
                        .map(|(s, r, at)| [s.clone(), r.clone(), at.to_string()].to_vec()),
                ),
            ),
        ];
    for (table, data) in tables {
        if data.is_empty() {
            continue;
        }
        let mut copy = tx.copy_in_raw(&format!("COPY {table} FROM STDIN")).await?;
        copy.send(data.into_bytes()).await?;
        copy.finish().await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Rows in COPY's text format: tab-separated, backslash escapes.
fn copy_text(rows: impl Iterator<Item = Vec<String>>) -> String {
    let mut out = String::new();
    for row in rows {
        for (i, field) in row.iter().enumerate() {
            if i > 0 {
                out.push('\t');
            }
            for c in field.chars() {
                match c {
                    '\\' => out.push_str("\\\\"),
                    '\t' => out.push_str("\\t"),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    c => out.push(c),
                }
            }
        }
        out.push('\n');
    }
    out
}

/// Inbox lengths for `users` users and `messages` messages: [`PROBES`] first, then about
/// `c / k` messages for the k-th of half the rest (at most [`CAP`]), `c` chosen so the
/// lengths add up to `messages`, the last few hundred spread one by one.
fn spread(users: usize, messages: usize) -> Vec<u32> {
    let mut lengths: Vec<u32> = PROBES.to_vec();
    let rest = messages - PROBES.iter().map(|&n| n as usize).sum::<usize>();
    let ranks = (users - PROBES.len()) / 2;
    let total = |c: f64| -> usize {
        (1..=ranks)
            .map(|k| ((c / k as f64) as usize).min(CAP as usize))
            .sum()
    };
    let (mut low, mut high) = (0.0, rest as f64 + 1.0);
    for _ in 0..60 {
        let mid = f64::midpoint(low, high);
        if total(mid) <= rest {
            low = mid;
        } else {
            high = mid;
        }
    }
    let mut busy: Vec<u32> = (1..=ranks)
        .map(|k| ((low / k as f64) as u32).min(CAP))
        .collect();
    let mut left = rest - busy.iter().map(|&n| n as usize).sum::<usize>();
    for n in busy.iter_mut().rev() {
        if left == 0 {
            break;
        }
        if *n < CAP {
            *n += 1;
            left -= 1;
        }
    }
    lengths.extend(busy);
    lengths.resize(users, 0);
    lengths
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spread_adds_up_and_stays_under_the_cap() {
        for (users, messages) in [(10_000, 50_000), (100_000, 500_000), (1_000, 20_000)] {
            let lengths = spread(users, messages);
            assert_eq!(lengths.len(), users);
            assert_eq!(lengths[..4], PROBES);
            assert_eq!(lengths.iter().map(|&n| n as usize).sum::<usize>(), messages);
            assert!(lengths.iter().all(|&n| n <= CAP));
            let empty = lengths.iter().filter(|&&n| n == 0).count();
            assert!(
                empty >= (users - PROBES.len()) / 2,
                "{empty} empty of {users}"
            );
        }
    }

    #[test]
    fn chunks_cover_every_user_once() {
        let fixture = Fixture::new("localhost:1", 5_000, 30_000).expect("fixture");
        let chunks = fixture.chunks();
        assert_eq!(chunks.first().map(|c| c.0), Some(0));
        assert_eq!(chunks.last().map(|c| c.1), Some(5_000));
        assert!(chunks.windows(2).all(|w| w[0].1 == w[1].0));
    }

    #[test]
    fn stored_envelopes_are_valid_and_unique() {
        let fixture = Fixture::new("localhost:1", 12, 11_200).expect("fixture");
        let rows = fixture.rows(0, 12).expect("rows");
        assert_eq!(rows.users.len(), 12);
        assert_eq!(rows.messages.len(), 11_200);
        let mut ids: Vec<&str> = rows.messages.iter().map(|m| m.2.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 11_200);
        for m in rows.messages.iter().step_by(997) {
            let parsed = SignedEnvelope::parse(m.5.as_bytes()).expect("parses");
            parsed.verify().expect("signature holds");
            assert_eq!(parsed.id.to_string(), m.2);
            let r: usize = m.0[1..].parse().expect("u<n>");
            parsed
                .envelope
                .open(&fixture.key(r))
                .expect("opens for its recipient");
        }
    }
}
