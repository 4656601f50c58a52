//! The attacks, one file each, named for the attack; [`all`] is the registry, in the order
//! the suite runs them (cheap and quick first, so a broken kezd fails fast).

pub mod budget_share;
pub mod connection_exhaustion;
pub mod deep_json;
pub mod encoded_handle_path;
pub mod h2_rapid_reset;
pub mod http_layer_errors;
pub mod huge_query;
pub mod numeric_server_names;
pub mod request_smuggling;
pub mod shutdown_stuck_bodies;
pub mod slow_heads;
pub mod stream_caps;
pub mod trickled_bodies;
pub mod unread_responses;

use crate::scenario::Scenario;

/// Every scenario, in run order.
pub fn all() -> Vec<Scenario> {
    vec![
        http_layer_errors::SCENARIO,
        request_smuggling::SCENARIO,
        huge_query::SCENARIO,
        deep_json::SCENARIO,
        encoded_handle_path::SCENARIO,
        numeric_server_names::SCENARIO,
        slow_heads::SCENARIO,
        trickled_bodies::SCENARIO,
        budget_share::SCENARIO,
        shutdown_stuck_bodies::SCENARIO,
        stream_caps::SCENARIO,
        connection_exhaustion::SCENARIO,
        h2_rapid_reset::SCENARIO,
        unread_responses::SCENARIO,
    ]
}
