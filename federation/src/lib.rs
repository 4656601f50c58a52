//! KEZ federation: how one server finds, authenticates and delivers to another.
//!
//! It will hold discovery (DNS SRV `_kez._tcp`, WebFinger, the signed server document at
//! `/.well-known/kez`, with caches), the server's own keys, signing and verifying
//! server-to-server requests (SPEC §9), the durable outbox's delivery workers and the SSRF guard.
//! Both `kezd` and `kezctl` use it; it knows nothing of HTTP routing or SQL.
