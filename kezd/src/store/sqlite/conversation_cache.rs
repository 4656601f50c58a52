//! Conversations as last read, kept in memory so that a send does not read the database for
//! the one row its limits depend on (SPEC §11, kezd/src/conversation.rs).
//!
//! Why: every send looked its conversation up on the read pool, a round trip to one of sqlx's
//! SQLite threads (a channel send, that thread's wake-up, the reply, the handler's wake-up) for
//! a row that changes once a day per pair at most: at 1,000 sends/s the read connections' threads
//! were about a seventh of kezd's CPU samples. A conversation changes only through the writer
//! (records and forgetting are writer requests), so the cache can be kept exact rather than
//! merely fresh enough.
//!
//! Why an entry is never stale: the writer calls [`ConversationCache::written`] after the
//! transaction holding a conversation write has ended, which drops the entries it touched and
//! moves the generation on. A look-up that missed takes the generation before it reads the
//! database and keeps what it read only if the generation has not moved by then: a read that
//! began before such a commit either is refused (the generation moved) or is dropped with the
//! entries it touched (it was kept before the writer came to it). A read that began after the
//! commit saw it. Sound for the same reason as the commit count (commits.rs): nothing but the
//! writer writes the file.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::store::Conversation;

/// The most pairs kept. A full cache is emptied and fills again from reads (at worst each
/// look-up reads the database, as it did without a cache); 16,384 pairs hold about 3 MiB.
const CAPACITY: usize = 16_384;

/// The conversations of `(sender, recipient)` pairs as last read from the database.
#[derive(Debug, Default)]
pub(super) struct ConversationCache(Mutex<Entries>);

#[derive(Debug, Default)]
struct Entries {
    /// Moves on with every conversation write the writer finished.
    generation: u64,
    /// By sender, then recipient (so that a look-up by borrowed names allocates nothing); an
    /// entry also holds the reverse direction (`replied_ms`).
    pairs: HashMap<String, HashMap<String, Conversation>>,
    /// How many entries `pairs` holds.
    len: usize,
}

/// What a conversation write touched.
#[derive(Debug)]
pub(super) enum Touched {
    /// Records of these `(sender, recipient)` directions.
    Pairs(Vec<(String, String)>),
    /// Any conversation (forgetting old ones).
    All,
}

/// The generation a look-up that missed saw, to hand back with what it read.
#[derive(Debug, Clone, Copy)]
pub(super) struct Miss(u64);

impl ConversationCache {
    fn lock(&self) -> MutexGuard<'_, Entries> {
        // Every critical section is one look-up, insert or removal: the map stays consistent.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The conversation of `sender` with `recipient` if it is kept, or what to hand to
    /// [`Self::keep`] with the database's answer.
    pub(super) fn get(&self, sender: &str, recipient: &str) -> Result<Conversation, Miss> {
        let entries = self.lock();
        match entries.pairs.get(sender).and_then(|r| r.get(recipient)) {
            Some(conversation) => Ok(*conversation),
            None => Err(Miss(entries.generation)),
        }
    }

    /// Keeps `conversation`, read from the database after `miss`, unless a conversation write
    /// ended since.
    pub(super) fn keep(
        &self,
        miss: Miss,
        sender: &str,
        recipient: &str,
        conversation: Conversation,
    ) {
        let mut entries = self.lock();
        if entries.generation != miss.0 {
            return;
        }
        if entries.len >= CAPACITY {
            entries.clear();
        }
        let added = entries
            .pairs
            .entry(sender.to_owned())
            .or_default()
            .insert(recipient.to_owned(), conversation)
            .is_none();
        entries.len += usize::from(added);
    }

    /// Called by the writer once the transaction holding a conversation write has ended
    /// (committed or not): the touched entries go, in both directions.
    pub(super) fn written(&self, touched: Touched) {
        let mut entries = self.lock();
        entries.generation += 1;
        match touched {
            Touched::All => entries.clear(),
            Touched::Pairs(pairs) => {
                for (sender, recipient) in &pairs {
                    entries.remove(sender, recipient);
                    entries.remove(recipient, sender);
                }
            }
        }
    }
}

impl Entries {
    fn clear(&mut self) {
        self.pairs = HashMap::new();
        self.len = 0;
    }

    fn remove(&mut self, sender: &str, recipient: &str) {
        if let Some(recipients) = self.pairs.get_mut(sender) {
            self.len -= usize::from(recipients.remove(recipient).is_some());
            if recipients.is_empty() {
                self.pairs.remove(sender);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sent(ms: i64) -> Conversation {
        Conversation {
            sent_ms: Some(ms),
            replied_ms: None,
        }
    }

    #[test]
    fn a_kept_read_answers_until_a_write_touches_it() {
        let cache = ConversationCache::default();
        let miss = cache.get("a", "b").expect_err("empty");
        cache.keep(miss, "a", "b", Conversation::default());
        assert_eq!(cache.get("a", "b").ok(), Some(Conversation::default()));
        let other = cache.get("c", "d").expect_err("not read yet");
        cache.keep(other, "c", "d", sent(1));
        // A record from b to a changes a→b's replied_ms: both directions go.
        cache.written(Touched::Pairs(vec![("b".into(), "a".into())]));
        assert!(cache.get("a", "b").is_err());
        assert_eq!(cache.get("c", "d").ok(), Some(sent(1)), "untouched");
        cache.written(Touched::All);
        assert!(cache.get("c", "d").is_err());
    }

    #[test]
    fn a_read_that_raced_a_write_is_not_kept() {
        let cache = ConversationCache::default();
        let miss = cache.get("a", "b").expect_err("empty");
        // The writer ended a conversation write while this read ran: what it read may be
        // from before that commit.
        cache.written(Touched::Pairs(vec![("x".into(), "y".into())]));
        cache.keep(miss, "a", "b", Conversation::default());
        assert!(cache.get("a", "b").is_err());
    }

    #[test]
    fn a_full_cache_starts_over() {
        let cache = ConversationCache::default();
        for i in 0..CAPACITY {
            let miss = cache.get("a", &i.to_string()).expect_err("new");
            cache.keep(miss, "a", &i.to_string(), sent(1));
        }
        let miss = cache.get("a", "last").expect_err("new");
        cache.keep(miss, "a", "last", sent(2));
        assert_eq!(cache.get("a", "last").ok(), Some(sent(2)));
        assert!(cache.get("a", "0").is_err(), "emptied when full");
    }
}
