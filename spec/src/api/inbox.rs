//! # `GET /v1/inbox/{handle}` (SPEC §8.2) and the stream's events (SPEC §8.5)
//!
//! One message of an inbox is the same JSON in a poll page and in a stream event's `data:`.
//! A server holds each envelope as the canonical JSON it stored, so an item carries it as a
//! [`RawValue`]: written out as is, never parsed into a tree and serialised again.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// One message of an inbox.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InboxItem<'a> {
    /// Its sequence number in the recipient's inbox.
    pub seq: u64,
    /// The message id (SPEC §6.4).
    #[serde(borrow)]
    pub id: Cow<'a, str>,
    /// When the recipient's server stored it, Unix milliseconds.
    pub received_at: u64,
    /// The signed envelope, as stored.
    pub envelope: Cow<'a, RawValue>,
}

impl<'a> InboxItem<'a> {
    /// An item borrowing a stored message: `envelope` is the envelope's JSON text, checked to
    /// be JSON (a scan, no tree) so that a damaged store cannot make a page that is not.
    pub fn borrowed(
        seq: u64,
        id: &'a str,
        received_at: u64,
        envelope: &'a str,
    ) -> Result<Self, serde_json::Error> {
        Ok(InboxItem {
            seq,
            id: Cow::Borrowed(id),
            received_at,
            envelope: Cow::Borrowed(serde_json::from_str(envelope)?),
        })
    }
}

impl InboxItem<'_> {
    /// Writes the item for an envelope the caller verified and stored itself (SPEC §6.5),
    /// splicing its JSON text in without scanning it again: the hot path of every poll page
    /// and live event, where [`borrowed`](InboxItem::borrowed)'s check would cost five times
    /// the rest. The bytes are what serde writes for the same item (a test holds the two
    /// together). Writing to memory cannot fail; the `Result` is serde's.
    pub fn write_verified(
        out: &mut Vec<u8>,
        seq: u64,
        id: &str,
        received_at: u64,
        envelope: &str,
    ) -> Result<(), serde_json::Error> {
        out.extend_from_slice(br#"{"seq":"#);
        serde_json::to_writer(&mut *out, &seq)?;
        out.extend_from_slice(br#","id":"#);
        serde_json::to_writer(&mut *out, id)?;
        out.extend_from_slice(br#","received_at":"#);
        serde_json::to_writer(&mut *out, &received_at)?;
        out.extend_from_slice(br#","envelope":"#);
        out.extend_from_slice(envelope.as_bytes());
        out.push(b'}');
        Ok(())
    }

    /// The item, owning what it borrowed.
    pub fn into_owned(self) -> InboxItem<'static> {
        InboxItem {
            seq: self.seq,
            id: Cow::Owned(self.id.into_owned()),
            received_at: self.received_at,
            envelope: Cow::Owned(self.envelope.into_owned()),
        }
    }
}

/// A poll answer: the messages after `since`, and where the next poll continues.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InboxPage<'a> {
    /// The messages, ascending by seq.
    #[serde(borrow)]
    pub messages: Vec<InboxItem<'a>>,
    /// The seq of the last message returned, or `since` when none is.
    pub next_since: u64,
}

/// Writes an [`InboxPage`] one item at a time, so a server can stop at a byte bound it checks
/// against what is written so far, without holding the items twice. The bytes are exactly
/// what serde writes for the page (a test holds the two together).
#[derive(Debug)]
pub struct PageWriter {
    out: Vec<u8>,
    items: usize,
}

impl PageWriter {
    /// Starts a page in a buffer of `capacity` bytes.
    pub fn with_capacity(capacity: usize) -> Self {
        let mut out = Vec::with_capacity(capacity);
        out.extend_from_slice(br#"{"messages":["#);
        PageWriter { out, items: 0 }
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.out.len()
    }

    /// True before the first item.
    pub fn is_empty(&self) -> bool {
        self.items == 0
    }

    /// Appends an item.
    pub fn push(&mut self, item: &InboxItem<'_>) -> Result<(), serde_json::Error> {
        self.separate();
        serde_json::to_writer(&mut self.out, item)
    }

    /// Appends an item for a verified, stored envelope ([`InboxItem::write_verified`]).
    pub fn push_verified(
        &mut self,
        seq: u64,
        id: &str,
        received_at: u64,
        envelope: &str,
    ) -> Result<(), serde_json::Error> {
        self.separate();
        InboxItem::write_verified(&mut self.out, seq, id, received_at, envelope)
    }

    /// The comma before every item but the first, and the count.
    fn separate(&mut self) {
        if self.items > 0 {
            self.out.push(b',');
        }
        self.items += 1;
    }

    /// Ends the page with its `next_since`.
    pub fn finish(mut self, next_since: u64) -> Result<Vec<u8>, serde_json::Error> {
        self.out.extend_from_slice(br#"],"next_since":"#);
        serde_json::to_writer(&mut self.out, &next_since)?;
        self.out.push(b'}');
        Ok(self.out)
    }
}

/// Bytes an item takes beyond its envelope, at most: the member names, a 16-digit seq, a
/// 64-hex-digit id, a 16-digit time, and the separator before it in a page.
pub const ITEM_OVERHEAD: usize = 160;

/// Bytes a page takes around its items, at most: `{"messages":[` and `],"next_since":<16
/// digits>}`.
pub const PAGE_OVERHEAD: usize = 48;

#[cfg(test)]
mod tests {
    use super::*;

    /// SPEC §8.2: an item embeds the envelope as stored and reads back.
    #[test]
    fn item_round_trip() {
        let envelope = r#"{"b":1,"a":[2]}"#;
        let item = InboxItem::borrowed(7, "ab", 9, envelope).expect("json");
        let text = serde_json::to_string(&item).expect("json");
        assert_eq!(
            text,
            r#"{"seq":7,"id":"ab","received_at":9,"envelope":{"b":1,"a":[2]}}"#
        );
        assert!(text.len() <= envelope.len() + ITEM_OVERHEAD);
        let back: InboxItem<'_> = serde_json::from_str(&text).expect("parses");
        assert_eq!(back.envelope.get(), envelope);
        assert!(InboxItem::borrowed(1, "x", 1, "{").is_err());
        let page = InboxPage {
            messages: vec![item],
            next_since: 7,
        };
        let text = serde_json::to_string(&page).expect("json");
        let back: InboxPage<'_> = serde_json::from_str(&text).expect("parses");
        assert_eq!(back.next_since, 7);
        assert_eq!(back.messages[0].seq, 7);
    }

    /// A page written item by item is the page serde writes, empty or not, whether its
    /// items are pushed as checked items or as verified envelopes spliced in.
    #[test]
    fn page_writer_is_serde() {
        let items = [
            InboxItem::borrowed(1, "a", 5, r#"{"x":1}"#).expect("json"),
            InboxItem::borrowed(2, "b\"\u{1}", 6, r#"[]"#).expect("json"),
        ];
        for n in 0..=items.len() {
            let mut writer = PageWriter::with_capacity(0);
            let mut spliced = PageWriter::with_capacity(0);
            for item in &items[..n] {
                writer.push(item).expect("writes");
                spliced
                    .push_verified(item.seq, &item.id, item.received_at, item.envelope.get())
                    .expect("writes");
            }
            let page = InboxPage {
                messages: items[..n].to_vec(),
                next_since: 9,
            };
            let serde = serde_json::to_vec(&page).expect("json");
            assert_eq!(writer.finish(9).expect("writes"), serde);
            assert_eq!(spliced.finish(9).expect("writes"), serde);
        }
    }
}
