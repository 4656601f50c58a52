//! Federation between real kezd processes (SPEC §9): three servers on the testnet — a private
//! DNS server with their SRV records, a generated CA, HTTPS everywhere — and clients that speak
//! only HTTP to their own server.

mod net;

mod delivery;
