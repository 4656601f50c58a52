//! The scenarios, one per file; each returns one or more reports.

pub mod cluster;
pub mod federation;
pub mod flood;
pub mod floor;
pub mod idle;
pub mod large;
pub mod send;
pub mod startup;
