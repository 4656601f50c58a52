//! The daemon's reading of wall-clock time: kez-spec's, which every KEZ crate shares (its
//! checks take `now`), so every timestamp window in kezd is judged against these two functions.

pub use kez_spec::clock::now_ms;

/// Unix seconds now.
pub fn now_secs() -> u64 {
    now_ms() / 1000
}
