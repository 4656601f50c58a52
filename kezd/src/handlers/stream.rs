//! # `GET /v1/inbox/{handle}/stream` (SPEC §8.5, credentials §7.3–§7.4)
//!
//! The live stream, as Server-Sent Events. With a cursor (`since=` or `Last-Event-ID`) it
//! replays what is stored after the cursor, then announces `ready`, then sends messages as
//! they are committed. The broker only says "something new"; the store stays the source of
//! truth: the stream subscribes *before* it reads the store, sends each seq exactly once in
//! order, and whenever a notification is missing or late it reads the gap from the store. So
//! there is no gap and no duplicate at the switch to live, and a lagging stream is caught up,
//! never skipped.
//!
//! A notification that comes before its predecessors is held a moment for them (`reorder`);
//! a lost one is normally revealed by the next one (the gap does not fill). The
//! last message to a recipient has no next one: in a cluster, if the instance that stored it
//! lost its NATS publish (its own link broke while the others stayed connected), a stream on
//! another instance would not see it until the recipient got another message. So each
//! keep-alive tick also asks the store for the inbox's latest seq (one indexed read) and
//! catches up when it is ahead: a lost notification costs at most one keep-alive period. A
//! store this process alone writes (SQLite) counts its commits, and a tick that finds the
//! count where the previous check left it reads nothing: idle streams cost no store reads.
//!
//! The stream is a state machine polled by its connection's task (no task of its own), written
//! to the socket without hyper over HTTP/1.1 (crate::detach): an idle stream costs its socket,
//! a small task, an empty queue in the broker and a timer. It is pulled, never pushed: the
//! next event is made only when the writer asks for it, and a replay or catch-up reads the
//! store one page at a time (bounded by `[inbox] page_max_bytes` as well as by count), the
//! next page only once the previous one was handed to the writer. So a client that reads
//! slowly holds at most one page and one write in memory, and one that stops reading is cut
//! off by the connection's write deadline.
//!
//! Streams open at once are capped per handle and per client address (`[stream]
//! max_per_handle`, `max_per_address`; SPEC §8.5 allows both): one more is refused with 429
//! `rate_limited` after its credential is checked. Behind a trusted proxy the client address
//! is the forwarded one. The counts are per instance.

mod reorder;

use std::collections::VecDeque;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures_util::stream;
use http::{HeaderValue, StatusCode, header};
use kez_spec::Handle;
use kez_spec::auth::AuthRequest;
use kez_spec::cursor::Cursor;
use tokio::time::{Instant, Interval, MissedTickBehavior};

use crate::body;
use crate::broker::{Event, Published, Subscription, push_inbox_item};
use crate::budget::Reservation;
use crate::client_addr;
use crate::detach::Detachable;
use crate::error::ApiError;
use crate::handlers::{HandlerResult, RequestContext, auth, inbox};
use crate::metrics::LiveStreamGuard;
use crate::slots::Slot;
use crate::store::Store;
use kez_spec::api::inbox::ITEM_OVERHEAD;
use reorder::Reorder;

/// Messages read from the store per catch-up query, at most (`[inbox] page_max_bytes` bounds
/// their size).
const PAGE: u32 = 256;

/// How long a client refused for too many streams is asked to wait: streams last long, so
/// there is no moment a slot is known to free; this keeps a reconnecting client from
/// hammering the server.
const STREAM_RETRY_AFTER: Duration = Duration::from_secs(30);

/// Where a resumed stream starts (SPEC §7.4): `since` or `Last-Event-ID`, which must agree when
/// both are given; `None` for a live-only stream.
fn resume_cursor(ctx: &RequestContext) -> Result<Option<u64>, ApiError> {
    let since = inbox::cursor(ctx, "since")?;
    let last_event_id = match ctx.headers().get("last-event-id") {
        None => None,
        // The same grammar as `since` (SPEC §7.4, §8.2).
        Some(v) => Some(
            v.to_str()
                .ok()
                .and_then(|s| Cursor::parse(s).ok())
                .ok_or_else(|| ApiError::malformed("Last-Event-ID must be a seq"))?
                .0,
        ),
    };
    match (since, last_event_id) {
        (Some(a), Some(b)) if a != b && !crate::faults::on("stream_cursor_mismatch_allowed") => {
            Err(ApiError::malformed("since and Last-Event-ID differ"))
        }
        (a, b) => Ok(a.or(b)),
    }
}

/// Opens a stream (SPEC §8.5): the credential's user through the user cache
/// ([`Store::user_by_handle`]), [`Store::latest_seq`] where no cursor is given, and
/// [`Store::inbox`] for every catch-up from storage.
///
/// [`Store::user_by_handle`]: crate::store::Store::user_by_handle
/// [`Store::latest_seq`]: crate::store::Store::latest_seq
/// [`Store::inbox`]: crate::store::Store::inbox
pub async fn get(ctx: RequestContext) -> HandlerResult {
    let credential: String = ctx
        .query("auth")?
        .ok_or(ApiError::MissingAuth)
        .map_err(|e| {
            if crate::faults::on("stream_missing_auth_unauthorized") {
                auth::unauthorized()
            } else {
                e
            }
        })?;
    let cursor = resume_cursor(&ctx)?;
    let handle = auth::path_handle(&ctx)?;
    let request = match cursor {
        Some(_) if crate::faults::on("stream_accepts_live_credential_with_cursor") => {
            AuthRequest::StreamLive { handle: &handle }
        }
        Some(since) => AuthRequest::StreamCursor {
            handle: &handle,
            since,
        },
        None => AuthRequest::StreamLive { handle: &handle },
    };
    // Listening before the credential is checked: a deletion committed after the check ends
    // the stream (SPEC §4.7).
    let departure = ctx.state().departure(handle.as_str());
    auth::verify(&ctx, &handle, request, Some(&credential)).await?;

    let state = ctx.state().clone();
    let slots = take_slots(&ctx, &handle)?;
    // Subscribe first: whatever commits after this point is either in the store read below or
    // announced to this subscription (or both — duplicates are dropped by seq).
    let subscription = state.broker().subscribe(handle.as_str()).await;
    let (last, replay) = match cursor {
        Some(since) => (
            since + u64::from(crate::faults::on("resume_drops_first_message")),
            true,
        ),
        None if crate::faults::on("ready_reports_stored_max") => {
            let stored = state
                .store()
                .inbox(handle.as_str(), 0, u32::MAX, usize::MAX)
                .await?;
            (stored.last().map_or(0, |m| m.seq), false)
        }
        None => (state.store().latest_seq(handle.as_str()).await?, false),
    };
    let keep_alive = state.config().stream.keep_alive;
    let keep_alive = if crate::faults::on("no_keepalive") {
        Duration::from_secs(86_400)
    } else {
        keep_alive
    };
    let shutdown = state.shutdown().signalled();
    let suspended = state.user_cache().suspension(handle.as_str());
    // One allocation for every reason to end, held for the stream's life: an idle stream's
    // memory is mostly such small boxes.
    let ended = async move {
        tokio::select! {
            () = shutdown => {}
            () = departure, if !crate::faults::on("stream_outlives_deletion") => {}
            () = suspended => {}
        }
    };
    let live = LiveStream {
        store: state.store().clone(),
        subscription,
        handle,
        last,
        checked: last,
        checked_at: None,
        phase: if replay { Phase::Replay } else { Phase::Ready },
        // The reconnection delay comes first (SPEC §8.5).
        pending: VecDeque::from([Bytes::from_static(b"retry: 3000\n\n")]),
        reorder: Reorder::default(),
        keep_alive: keep_alive_timer(keep_alive),
        ended: Box::pin(ended),
        guard: state.metrics().live_stream(),
        page_max_bytes: state.config().inbox.page_max_bytes.get(),
        held: ctx.budget().empty(),
        _slots: slots,
    };
    let events = stream::unfold(live, |mut live| async move {
        let chunk = live.next_chunk().await?;
        Some((chunk, live))
    });
    // Over HTTP/1.1 the connection writes the events itself, without hyper (crate::detach).
    let (events, detachable) = Detachable::new(events);
    let mut response = body::response(StatusCode::OK, "text/event-stream", events);
    response.extensions_mut().insert(detachable);
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // Tells buffering reverse proxies (nginx) to pass events through as they are written.
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok(response)
}

/// A stream's places under the per-handle and per-address caps, freed when it ends.
struct StreamSlots {
    _handle: Slot<String>,
    _address: Slot<IpAddr>,
}

/// Takes the stream's places, or refuses with 429 when either cap is full.
fn take_slots(ctx: &RequestContext, handle: &Handle) -> Result<StreamSlots, ApiError> {
    let state = ctx.state();
    let address = client_addr::group(ctx.client_addr(), state.config().http.ipv6_prefix_len);
    let refused = |limit| {
        state.metrics().stream_refused();
        ApiError::RateLimited {
            limit,
            retry_after: STREAM_RETRY_AFTER,
        }
    };
    let by_handle = state
        .streams_per_handle()
        .try_take(&handle.as_str().to_owned())
        .ok_or_else(|| refused("streams per handle"))?;
    let by_address = state
        .streams_per_address()
        .try_take(&address)
        .ok_or_else(|| refused("streams per address"))?;
    Ok(StreamSlots {
        _handle: by_handle,
        _address: by_address,
    })
}

/// The stream's keep-alive ticks, on whole seconds of the wall clock: every stream's ticks
/// fall on the same instants, so the runtime wakes once a second for all the streams due then
/// rather than once per stream at scattered times. The first tick comes up to a second
/// early, never late (SPEC §8.5: at least every period); a late tick is not made up for, so
/// the ticks stay on the grid.
fn keep_alive_timer(period: Duration) -> Interval {
    let due = Instant::now() + period;
    let into_second = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(Duration::ZERO, |since| {
            Duration::from_nanos(since.subsec_nanos().into())
        });
    let first = due.checked_sub(into_second).unwrap_or(due);
    let mut timer = tokio::time::interval_at(first, period);
    timer.set_missed_tick_behavior(MissedTickBehavior::Skip);
    timer
}

/// Where a stream is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Replaying stored messages after the client's cursor; `ready` follows.
    Replay,
    /// Replay done (or live-only): announce `ready` next.
    Ready,
    /// Following the broker.
    Live,
    /// Reading a gap from the store, then back to live.
    CatchUp,
}

struct LiveStream {
    store: Arc<dyn Store>,
    subscription: Box<dyn Subscription>,
    handle: Handle,
    /// The highest seq sent (or, before anything is sent, the cursor): the invariant is that
    /// every seq ≤ `last` that still exists has been sent, and none above it.
    last: u64,
    /// The store's latest seq at the last keep-alive check: a check that finds nothing newer
    /// (say the messages above `last` were acknowledged meanwhile) does not read the inbox.
    checked: u64,
    /// The store's count of local commits taken before that check's read
    /// ([`Store::local_commits`]): while it stays the same, nothing was stored since and the
    /// next check reads nothing at all, so idle streams leave the store alone.
    ///
    /// [`Store::local_commits`]: crate::store::Store::local_commits
    checked_at: Option<u64>,
    phase: Phase,
    pending: VecDeque<Bytes>,
    /// Notifications ahead of `last + 1`, waiting for the ones before them.
    reorder: Reorder,
    keep_alive: Interval,
    /// Resolves when the stream must end: kezd stops, the account is deleted (SPEC §4.7) or
    /// the user suspended (SPEC §8.8; reconnecting is then refused with `account_suspended`).
    ended: Pin<Box<dyn Future<Output = ()> + Send>>,
    /// Counts the stream as open, and its catch-ups.
    guard: LiveStreamGuard,
    /// Bytes of envelopes read from the store at once, at most (one message if larger).
    page_max_bytes: usize,
    /// The events read from the store and not yet handed to the writer, held against the
    /// memory budget (crate::budget): every open stream may replay at once, and only the
    /// budget bounds them together.
    held: Reservation,
    /// Held for the stream's life: its places under the stream caps.
    _slots: StreamSlots,
}

impl LiveStream {
    /// The next bytes to write, or `None` to end the stream (shutdown, the user suspended, the
    /// account deleted, broker gone, or a store failure — the client reconnects with
    /// `Last-Event-ID` and loses nothing, or, for a suspended or deleted account, is refused).
    async fn next_chunk(&mut self) -> Option<Bytes> {
        loop {
            if let Some(chunk) = self.pending.pop_front() {
                let left = self.held.bytes().saturating_sub(len_u64(chunk.len()));
                self.held.shrink_to(left);
                return Some(chunk);
            }
            match self.phase {
                Phase::Replay | Phase::CatchUp => {
                    if !self.read_page().await? {
                        self.phase = if self.phase == Phase::Replay {
                            Phase::Ready
                        } else {
                            Phase::Live
                        };
                    }
                }
                Phase::Ready => {
                    self.phase = Phase::Live;
                    let ready = format!("event: ready\ndata: {{\"seq\":{}}}\n\n", self.last);
                    let ready = if crate::faults::on("ready_reports_zero") {
                        "event: ready\ndata: {\"seq\":0}\n\n".to_owned()
                    } else {
                        ready
                    };
                    if crate::faults::on("duplicate_on_resume") && self.last > 0 {
                        (self.last, self.phase) = (self.last - 1, Phase::CatchUp);
                    }
                    return Some(Bytes::from(ready));
                }
                Phase::Live => {
                    if let Some(next) = self.reorder.next_after(self.last) {
                        self.last = next.seq;
                        return Some(event_bytes(&next));
                    }
                    tokio::select! {
                        () = &mut self.ended => return None,
                        // A gap that did not fill: its notification was lost.
                        () = self.reorder.expired() => self.catch_up(),
                        _ = self.keep_alive.tick() => {
                            if self.store_is_ahead().await? {
                                self.catch_up();
                            } else {
                                return Some(Bytes::from_static(b": keep-alive\n\n"));
                            }
                        }
                        event = self.subscription.next() => match event? {
                            Event::Message(m) if m.seq <= self.last => {}
                            Event::Message(m) if m.seq == self.last + 1 => {
                                self.last = m.seq;
                                return Some(event_bytes(&m));
                            }
                            Event::Message(early) => {
                                if !self.reorder.hold(early) {
                                    self.catch_up();
                                }
                            }
                            // Notifications were dropped: the store has everything committed.
                            Event::Lagged => self.catch_up(),
                        },
                    }
                }
            }
        }
    }

    /// Reads from the store from `last` on, then follows the broker again.
    fn catch_up(&mut self) {
        self.guard.count_catch_up();
        self.reorder.clear();
        self.phase = Phase::CatchUp;
    }

    /// Whether the store holds a seq this stream has not caught up to (a notification was
    /// lost with no later one to reveal the gap); `None` ends the stream, as in `read_page`.
    async fn store_is_ahead(&mut self) -> Option<bool> {
        let commits = self.store.local_commits();
        if commits.is_some() && commits == self.checked_at {
            return Some(false);
        }
        let latest = match self.store.latest_seq(self.handle.as_str()).await {
            Ok(latest) => latest,
            Err(e) => {
                tracing::warn!(error = %e, "live stream ends: store read failed");
                return None;
            }
        };
        let ahead = latest > self.last.max(self.checked);
        self.checked = latest;
        self.checked_at = commits;
        Some(ahead)
    }

    /// Reads one page after `last` into `pending`, one event per message; false when there
    /// was nothing more (an empty page).
    async fn read_page(&mut self) -> Option<bool> {
        let page = match self
            .store
            .inbox(self.handle.as_str(), self.last, PAGE, self.page_max_bytes)
            .await
        {
            Ok(page) => page,
            Err(e) => {
                tracing::warn!(error = %e, "live stream ends: store read failed");
                return None;
            }
        };
        let Some(newest) = page.last() else {
            return Some(false);
        };
        let size: usize = page
            .iter()
            .map(|m| EVENT_OVERHEAD + ITEM_OVERHEAD + m.envelope_json.len())
            .sum();
        if let Err(refused) = self.held.try_grow(len_u64(size)) {
            // The client resumes from its Last-Event-ID when room is back and loses nothing.
            tracing::warn!(error = %refused, "live stream ends: memory budget full");
            return None;
        }
        self.last = newest.seq;
        for message in page {
            let mut event =
                Vec::with_capacity(EVENT_OVERHEAD + ITEM_OVERHEAD + message.envelope_json.len());
            event_head(&mut event, message.seq);
            if let Err(error) = push_inbox_item(&mut event, &message) {
                tracing::warn!(%error, "live stream ends: a stored envelope is not JSON");
                return None;
            }
            event.extend_from_slice(b"\n\n");
            // The message's own copy is freed as soon as its event exists.
            drop(message);
            self.pending.push_back(Bytes::from(event));
        }
        // A page shorter than asked may have been cut by bytes: read on until one is empty.
        Some(true)
    }
}

/// A length as the budget counts it.
fn len_u64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// An event's lines around its data, at most: `id: <16 digits>`, `event: message`, `data: `.
const EVENT_OVERHEAD: usize = 48;

/// The lines of a message event up to its data.
fn event_head(out: &mut Vec<u8>, seq: u64) {
    use std::io::Write as _;
    // Writing to a Vec cannot fail.
    let _ = write!(out, "id: {seq}\nevent: message\ndata: ");
}

fn event_bytes(message: &Published) -> Bytes {
    let mut event = Vec::with_capacity(EVENT_OVERHEAD + message.data.len());
    event_head(&mut event, message.seq);
    event.extend_from_slice(message.data.as_bytes());
    event.extend_from_slice(b"\n\n");
    Bytes::from(event)
}
