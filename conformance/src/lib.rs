//! The KEZ conformance suite.
//!
//! It will judge any KEZ server over the network only, never by importing `kezd`: cases tagged
//! with the SPEC section they check, a local testnet spawner (N `kezd` binaries, a private DNS
//! server, a test CA), a rogue peer, and JUnit/JSON reports.
