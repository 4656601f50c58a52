//! Which message ids the store may already hold, kept in memory, so that the writer asks
//! SQLite only about the ids that may be duplicates.
//!
//! Why: the duplicate look-up of a group of accepts (accepts.rs) is a round trip to sqlx's
//! connection thread of its own, and the group's inserts cannot be written before its answer.
//! Nearly every id a server is sent is new. A Bloom filter of every stored id answers
//! "certainly not stored" for those (and "maybe" for about one in a hundred new ones); when
//! no id of a batch may be stored, its `BEGIN`, inserts and `COMMIT` go as one query: one
//! round trip per batch instead of two, two thread wake-ups fewer per lone send.
//!
//! Why "certainly not stored" is exact: only the writer stores ids (`message_ids` for a local
//! inbox, the outbox for another server, stored_ids.rs). When the filter is made, a loader
//! reads every stored id on a read connection, in one read transaction (one snapshot) that starts
//! after the writer began recording the ids it writes; those are added when the loader is
//! done. Every id stored before the loader's snapshot is in what it read, every id written
//! after is in what the writer recorded. Until the filter is loaded, every id is looked up.
//! The filter never forgets: an id removed from the store (retention, an account deletion)
//! only costs a look-up that finds nothing. A filter holding more ids than it was sized for is
//! made again, twice as large, the same way, once the batch that filled it has ended: the ids
//! it wrote before are then committed (so in the loader's snapshot) or rolled back.

use std::hash::{BuildHasher, RandomState};

use sqlx::sqlite::SqlitePool;
use tokio::sync::oneshot;

/// Bits per id the filter is sized for: with [`PROBES`] bits set per id, about one new id in
/// a hundred is answered "maybe" when the filter is full, fewer before.
const BITS_PER_ID: usize = 10;
/// Bits set per id.
const PROBES: u32 = 7;
/// The fewest ids a filter is sized for (2 MiB of bits), so that a new server does not make
/// its filter again after each doubling.
const MIN_IDS: usize = 1 << 20;

/// The writer's view of the stored ids.
pub(in crate::store::sqlite) struct SeenIds {
    /// Hashes ids, with keys chosen at random per process, so that nobody can choose ids that
    /// all fall on the same bits and make every send look a duplicate (which would only cost
    /// look-ups, but those are what the filter saves).
    hasher: RandomState,
    /// The read connections the loader uses.
    readers: SqlitePool,
    state: State,
}

enum State {
    /// A loader reads the stored ids; `written` holds the hashes of the ids the writer
    /// stored since it started, to be added when it is done.
    Loading {
        loaded: oneshot::Receiver<Result<Bloom, sqlx::Error>>,
        written: Vec<u64>,
    },
    Ready(Bloom),
    /// Loading failed: every id is looked up.
    Off,
}

impl SeenIds {
    /// Starts loading the ids stored in the database `readers` read. Must be called inside a
    /// Tokio runtime, before the writer stores anything.
    pub(in crate::store::sqlite) fn load(readers: SqlitePool) -> Self {
        let mut seen = SeenIds {
            hasher: RandomState::new(),
            readers,
            state: State::Off,
        };
        seen.reload();
        seen
    }

    /// Makes the filter again from what is stored.
    fn reload(&mut self) {
        let (done, loaded) = oneshot::channel();
        // The snapshot the loader reads is taken after this state records the writer's ids.
        self.state = State::Loading {
            loaded,
            written: Vec::new(),
        };
        let (readers, hasher) = (self.readers.clone(), self.hasher.clone());
        tokio::spawn(async move {
            // The writer may have stopped waiting (closed store): nothing to tell it then.
            drop(done.send(read_all(&readers, &hasher).await));
        });
    }

    /// False only if no stored id is `id`.
    pub(super) fn maybe_stored(&mut self, id: &str) -> bool {
        self.collect_loaded();
        match &self.state {
            State::Ready(bloom) => bloom.contains(self.hasher.hash_one(id)),
            State::Loading { .. } | State::Off => true,
        }
    }

    /// Records that `id` is (about to be) stored, whether or not its transaction commits.
    pub(super) fn written(&mut self, id: &str) {
        let hash = self.hasher.hash_one(id);
        match &mut self.state {
            State::Loading { written, .. } => written.push(hash),
            State::Ready(bloom) => bloom.insert(hash),
            State::Off => {}
        }
    }

    /// Called by the writer between two transactions. A full filter is made again only here:
    /// made within a batch, the loader's snapshot could miss the ids the batch wrote before
    /// the filter filled (not committed yet, and no longer in the filter), and a resend of
    /// one would be taken for new.
    pub(super) fn batch_ended(&mut self) {
        if matches!(&self.state, State::Ready(bloom) if bloom.is_full()) {
            self.reload();
        }
    }

    /// Takes the loader's filter, once it is done, with the ids written meanwhile.
    fn collect_loaded(&mut self) {
        let State::Loading { loaded, written } = &mut self.state else {
            return;
        };
        match loaded.try_recv() {
            Err(oneshot::error::TryRecvError::Empty) => {}
            Ok(Ok(mut bloom)) => {
                written.iter().for_each(|&hash| bloom.insert(hash));
                self.state = State::Ready(bloom);
            }
            Ok(Err(error)) => {
                tracing::warn!(%error, "reading the stored message ids failed; each is looked up");
                self.state = State::Off;
            }
            Err(oneshot::error::TryRecvError::Closed) => {
                tracing::warn!("the stored message ids were not read; each is looked up");
                self.state = State::Off;
            }
        }
    }

    /// Whether the loader is done (for tests, which wait for it).
    #[cfg(test)]
    pub(super) fn is_loaded(&mut self) -> bool {
        self.collect_loaded();
        matches!(self.state, State::Ready(_))
    }
}

/// Ids read per statement: each statement answers them as one JSON array, in one row.
const IDS_PER_READ: i64 = 16_384;

/// A chunk of at most `?3` of one day's (`?1`) ids in `message_ids`, in the order of its
/// primary key, after the last id the previous chunk held (`?2`): one JSON array, with that
/// last id.
const DAY_CHUNK: &str = "SELECT json_group_array(id), max(id) FROM \
     (SELECT id FROM message_ids WHERE ts_day = ?1 AND id > ?2 ORDER BY id LIMIT ?3)";

/// The first day after `?1` that `message_ids` holds ids of: one seek into its primary key.
const NEXT_DAY: &str = "SELECT MIN(ts_day) FROM message_ids WHERE ts_day > ?1";

/// [`DAY_CHUNK`] for the tables keyed by id alone (the outbox's ids are UNIQUE, so indexed
/// too); they have no day, and leave `?1` out.
const ID_CHUNKS: [&str; 2] = [
    "SELECT json_group_array(id), max(id) FROM \
     (SELECT id FROM message_ids_v1 WHERE id > ?2 ORDER BY id LIMIT ?3)",
    "SELECT json_group_array(id), max(id) FROM \
     (SELECT id FROM outbox WHERE id > ?2 ORDER BY id LIMIT ?3)",
];

/// A filter of every id stored, sized for twice as many, read in one snapshot (one read
/// transaction) a chunk at a time.
///
/// Why chunks of one row each: read one row per id, every id crosses from sqlx's connection
/// thread to this task as a row of its own, and that hand-off, not SQLite, made the load cost
/// about 2 µs of CPU per id (11 s for 5,000,000, docs/BENCHMARKS.md), taken from the sends of
/// a server that has just started. Stored ids are 64 hex characters (SPEC §2.6), so a chunk is
/// read as borrowed strings; an id that is not (an escape in its JSON) fails the load, and
/// every id is then looked up, as when reading fails.
async fn read_all(readers: &SqlitePool, hasher: &RandomState) -> Result<Bloom, sqlx::Error> {
    let started = std::time::Instant::now();
    let mut snapshot = readers.begin().await?;
    let count: i64 = sqlx::query_scalar(
        "SELECT (SELECT COUNT(*) FROM message_ids) + (SELECT COUNT(*) FROM message_ids_v1) \
         + (SELECT COUNT(*) FROM outbox)",
    )
    .fetch_one(&mut *snapshot)
    .await?;
    let mut bloom = Bloom::for_ids(usize::try_from(count).unwrap_or(0).saturating_mul(2));
    let next_day = |after: i64| sqlx::query_scalar(NEXT_DAY).bind(after);
    let mut day: Option<i64> = next_day(i64::MIN).fetch_one(&mut *snapshot).await?;
    while let Some(this_day) = day {
        add_chunks(&mut snapshot, DAY_CHUNK, this_day, &mut bloom, hasher).await?;
        day = next_day(this_day).fetch_one(&mut *snapshot).await?;
    }
    for chunk in ID_CHUNKS {
        add_chunks(&mut snapshot, chunk, 0, &mut bloom, hasher).await?;
    }
    snapshot.rollback().await?;
    tracing::info!(
        ids = bloom.ids,
        elapsed_ms = started.elapsed().as_millis(),
        "stored message ids read: only ids that may be stored are looked up"
    );
    Ok(bloom)
}

/// Adds every id `chunk` finds on `day` to `bloom`, chunk after chunk, each one after the last
/// id the previous chunk held.
async fn add_chunks(
    snapshot: &mut sqlx::SqliteConnection,
    chunk: &'static str,
    day: i64,
    bloom: &mut Bloom,
    hasher: &RandomState,
) -> Result<(), sqlx::Error> {
    let mut after = String::new();
    loop {
        let (ids, last): (String, Option<String>) = sqlx::query_as(chunk)
            .bind(day)
            .bind(&after)
            .bind(IDS_PER_READ)
            .fetch_one(&mut *snapshot)
            .await?;
        add_chunk(bloom, hasher, &ids)?;
        match last {
            Some(last) => after = last,
            None => return Ok(()),
        }
    }
}

/// Adds a chunk's ids, a JSON array of strings, to `bloom`.
fn add_chunk(bloom: &mut Bloom, hasher: &RandomState, ids: &str) -> Result<(), sqlx::Error> {
    let ids: Vec<&str> = serde_json::from_str(ids).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
    for id in ids {
        bloom.insert(hasher.hash_one(id));
    }
    Ok(())
}

/// A Bloom filter over 64-bit hashes: a power of two of bits, [`PROBES`] of them per hash.
struct Bloom {
    bits: Vec<u64>,
    /// The number of bits less one, to pick a bit from a hash.
    mask: u64,
    /// Ids added, counting repeats.
    ids: usize,
    /// The ids it was sized for.
    capacity: usize,
}

impl Bloom {
    fn for_ids(ids: usize) -> Self {
        let capacity = ids.max(MIN_IDS);
        let bits = capacity
            .saturating_mul(BITS_PER_ID)
            .next_power_of_two()
            .max(64);
        Bloom {
            bits: vec![0; bits / 64],
            mask: (bits - 1) as u64,
            ids: 0,
            capacity,
        }
    }

    /// The bits of `hash`: double hashing, the second step odd so it visits distinct bits.
    fn probes(&self, hash: u64) -> impl Iterator<Item = (usize, u64)> + use<> {
        let (mask, step) = (self.mask, hash.rotate_left(32) | 1);
        (0..u64::from(PROBES)).map(move |i| {
            let bit = hash.wrapping_add(i.wrapping_mul(step)) & mask;
            // In range: bit ≤ mask < bits.len() × 64.
            ((bit / 64) as usize, 1 << (bit % 64))
        })
    }

    fn insert(&mut self, hash: u64) {
        for (word, bit) in self.probes(hash) {
            self.bits[word] |= bit;
        }
        self.ids += 1;
    }

    fn contains(&self, hash: u64) -> bool {
        self.probes(hash)
            .all(|(word, bit)| self.bits[word] & bit != 0)
    }

    fn is_full(&self) -> bool {
        self.ids > self.capacity
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

    use super::*;

    #[test]
    fn a_bloom_filter_holds_what_was_added_and_little_else() {
        let hasher = RandomState::new();
        let mut bloom = Bloom::for_ids(0);
        for i in 0..MIN_IDS {
            bloom.insert(hasher.hash_one(format!("stored-{i}")));
        }
        assert!(!bloom.is_full());
        for i in 0..MIN_IDS {
            assert!(bloom.contains(hasher.hash_one(format!("stored-{i}"))));
        }
        let maybe = (0..100_000)
            .filter(|i| bloom.contains(hasher.hash_one(format!("new-{i}"))))
            .count();
        assert!(maybe < 2_000, "{maybe} of 100,000 new ids answered maybe");
        bloom.insert(1);
        assert!(bloom.is_full());
    }

    async fn database() -> (tempfile::TempDir, SqlitePool) {
        let dir = tempfile::tempdir().expect("tempdir");
        let pool = SqlitePoolOptions::new()
            .max_connections(2)
            .connect_with(
                SqliteConnectOptions::new()
                    .filename(dir.path().join("ids.db"))
                    .create_if_missing(true),
            )
            .await
            .expect("database");
        for statement in [
            "CREATE TABLE message_ids (ts_day INTEGER, id TEXT, PRIMARY KEY (ts_day, id)) \
             WITHOUT ROWID",
            "CREATE TABLE message_ids_v1 (id TEXT PRIMARY KEY)",
            "CREATE TABLE outbox (position INTEGER PRIMARY KEY, id TEXT UNIQUE)",
            "INSERT INTO message_ids VALUES (20000, 'local-1'), (20001, 'local-2')",
            "INSERT INTO message_ids_v1 VALUES ('legacy-1')",
            "INSERT INTO outbox (id) VALUES ('remote-1')",
        ] {
            sqlx::query(statement)
                .execute(&pool)
                .await
                .expect("statement");
        }
        (dir, pool)
    }

    async fn loaded(seen: &mut SeenIds) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while !seen.is_loaded() {
            assert!(tokio::time::Instant::now() < deadline, "never loaded");
            tokio::task::yield_now().await;
        }
    }

    /// Stored ids (of all three tables) and ids written while the loader ran are "maybe"; before
    /// the load is done, everything is.
    #[tokio::test]
    async fn stored_and_written_ids_are_never_certainly_new() {
        let (_dir, pool) = database().await;
        let mut seen = SeenIds::load(pool.clone());
        assert!(seen.maybe_stored("never-stored"), "answered before loading");
        seen.written("written-while-loading");
        loaded(&mut seen).await;
        for id in [
            "local-1",
            "local-2",
            "legacy-1",
            "remote-1",
            "written-while-loading",
        ] {
            assert!(seen.maybe_stored(id), "{id} certainly new");
        }
        assert!(!seen.maybe_stored("never-stored"));
        seen.written("written-after");
        assert!(seen.maybe_stored("written-after"));
    }

    /// A full filter is made again from the store, and stays exact meanwhile.
    #[tokio::test]
    async fn a_full_filter_is_made_again() {
        let (_dir, pool) = database().await;
        let mut seen = SeenIds::load(pool);
        loaded(&mut seen).await;
        for i in 0..=MIN_IDS {
            seen.written(&format!("id-{i}"));
        }
        assert!(seen.is_loaded(), "made again within a batch");
        seen.batch_ended();
        assert!(!seen.is_loaded(), "a full filter is loaded again");
        assert!(seen.maybe_stored("never-stored"), "answered while loading");
        seen.written("written-while-reloading");
        loaded(&mut seen).await;
        assert!(seen.maybe_stored("local-1"));
        assert!(seen.maybe_stored("written-while-reloading"));
        assert!(!seen.maybe_stored("never-stored"));
    }

    /// Waits until the loader is done, whether it succeeded or not.
    async fn settled(seen: &mut SeenIds) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            seen.collect_loaded();
            if !matches!(seen.state, State::Loading { .. }) {
                return;
            }
            assert!(tokio::time::Instant::now() < deadline, "never settled");
            tokio::task::yield_now().await;
        }
    }

    /// Tables of several chunks each are read whole, each id once, the ids stored by day a day
    /// at a time, over several days of several chunks each.
    #[tokio::test]
    async fn every_chunk_of_all_tables_is_read() {
        let (_dir, pool) = database().await;
        let (local, legacy, remote) = (2 * IDS_PER_READ + 7, IDS_PER_READ, IDS_PER_READ + 1);
        for (sql, n) in [
            // Two days of 16,387 and 16,388 ids: each is read in two chunks.
            (
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1) \
                 INSERT INTO message_ids SELECT i % 2, printf('many-local-%d', i) FROM n",
                local,
            ),
            (
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1) \
                 INSERT INTO message_ids_v1 SELECT printf('many-legacy-%d', i) FROM n",
                legacy,
            ),
            (
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1) \
                 INSERT INTO outbox (id) SELECT printf('many-remote-%d', i) FROM n",
                remote,
            ),
        ] {
            sqlx::query(sql).bind(n).execute(&pool).await.expect("rows");
        }
        let mut seen = SeenIds::load(pool);
        loaded(&mut seen).await;
        let State::Ready(bloom) = &seen.state else {
            unreachable!("loaded");
        };
        // The four rows every test database holds, and the many.
        assert_eq!(
            bloom.ids,
            usize::try_from(4 + local + legacy + remote).expect("count")
        );
        for (kind, n) in [("local", local), ("legacy", legacy), ("remote", remote)] {
            for i in 1..=n {
                let id = format!("many-{kind}-{i}");
                assert!(seen.maybe_stored(&id), "{id}");
            }
        }
        assert!(!seen.maybe_stored("never-stored"));
    }

    /// A stored id the loader cannot read as plain text turns the filter off: every id is then
    /// looked up, none is taken for certainly new.
    #[tokio::test]
    async fn an_unreadable_id_turns_the_filter_off() {
        let (_dir, pool) = database().await;
        sqlx::query("INSERT INTO message_ids VALUES (20002, 'quoted\"id')")
            .execute(&pool)
            .await
            .expect("row");
        let mut seen = SeenIds::load(pool);
        settled(&mut seen).await;
        assert!(matches!(seen.state, State::Off));
        assert!(seen.maybe_stored("never-stored"));
    }
}
