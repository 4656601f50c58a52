//! The list of every configuration key with its kind: the one table that finds unknown keys
//! (and the known key a typo was meant to be), types `KEZ_*` variables and `--set` flags
//! (which arrive as text), names the key in every type error, and lets a test prove the example
//! file documents every key.

/// What a key's value must be in TOML.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A string.
    Str,
    /// A non-negative integer.
    Uint,
    /// An array of strings; from the environment or a flag, comma-separated.
    StrList,
    /// `true` or `false`.
    Bool,
}

impl Kind {
    /// How the kind is described in an error.
    pub fn describe(self) -> &'static str {
        match self {
            Kind::Str => "a string",
            Kind::Uint => "a non-negative integer",
            Kind::StrList => "an array of strings",
            Kind::Bool => "true or false",
        }
    }
}

/// One configuration key, by its dotted path (`http.max_connections`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    /// The dotted path; the first part is a section when there is a dot.
    pub path: &'static str,
    /// The value's kind.
    pub kind: Kind,
}

const fn key(path: &'static str, kind: Kind) -> Key {
    Key { path, kind }
}

/// Every key kezd reads. `RawConfig` has exactly these fields (a test checks it).
pub const KEYS: &[Key] = &[
    key("bind", Kind::Str),
    key("server_name", Kind::Str),
    key("public_base_url", Kind::Str),
    key("data_dir", Kind::Str),
    key("database_url", Kind::Str),
    key("durability", Kind::Str),
    key("database.max_connections", Kind::Uint),
    key("broker_url", Kind::Str),
    key("broker_prefix", Kind::Str),
    key("web_dir", Kind::Str),
    key("trusted_proxies", Kind::StrList),
    key("tls.cert", Kind::Str),
    key("tls.key", Kind::Str),
    key("log.level", Kind::Str),
    key("log.format", Kind::Str),
    key("log.client_addresses", Kind::Bool),
    key("http.max_connections", Kind::Uint),
    key("http.header_read_timeout_ms", Kind::Uint),
    key("http.max_body_bytes", Kind::Uint),
    key("http.max_message_bytes", Kind::Uint),
    key("http.drain_timeout_ms", Kind::Uint),
    key("http.max_connections_per_address", Kind::Uint),
    key("http.ipv6_prefix_len", Kind::Uint),
    key("http.idle_timeout_ms", Kind::Uint),
    key("http.write_timeout_ms", Kind::Uint),
    key("http.body_timeout_ms", Kind::Uint),
    key("http.body_min_bytes_per_sec", Kind::Uint),
    key("http.max_inflight_bytes", Kind::Uint),
    key("http.max_inflight_bytes_per_address", Kind::Uint),
    key("rate.client_per_minute", Kind::Uint),
    key("rate.register_per_hour", Kind::Uint),
    key("rate.sender_per_minute", Kind::Uint),
    key("rate.recipient_per_minute", Kind::Uint),
    key("rate.recipient_strangers_per_minute", Kind::Uint),
    key("rate.first_contacts_per_hour", Kind::Uint),
    key("skew.registration_secs", Kind::Uint),
    key("skew.auth_secs", Kind::Uint),
    key("skew.envelope_secs", Kind::Uint),
    key("stream.keep_alive_secs", Kind::Uint),
    key("stream.max_per_handle", Kind::Uint),
    key("stream.max_per_address", Kind::Uint),
    key("retention.max_age_secs", Kind::Uint),
    key("retention.max_per_inbox", Kind::Uint),
    key("retention.sweep_interval_secs", Kind::Uint),
    key("inbox.page_default", Kind::Uint),
    key("inbox.page_max", Kind::Uint),
    key("inbox.page_max_bytes", Kind::Uint),
    key("rate.origin_per_minute", Kind::Uint),
    key("rate.remote_lookups_per_minute", Kind::Uint),
    key("rate.remote_lookups_per_server_per_minute", Kind::Uint),
    key("rate.cluster_instances", Kind::Uint),
    key("federation.resolver", Kind::Str),
    key("federation.extra_roots", Kind::StrList),
    key("federation.allow_private_addresses", Kind::Bool),
    key("federation.allowed_private_addresses", Kind::StrList),
    key("federation.block", Kind::StrList),
    key("federation.allow", Kind::StrList),
    key("federation.retry_window_secs", Kind::Uint),
    key("federation.backoff_initial_secs", Kind::Uint),
    key("federation.backoff_max_secs", Kind::Uint),
    key("federation.request_timeout_secs", Kind::Uint),
    key("federation.max_inflight_txns_per_origin", Kind::Uint),
    key("federation.max_inflight_txns", Kind::Uint),
    key("federation.sender_lookup_concurrency", Kind::Uint),
    key("registration.policy", Kind::Str),
    key("registration.reserved_handles", Kind::StrList),
];

/// The key with this dotted path.
pub fn find(path: &str) -> Option<Key> {
    KEYS.iter().copied().find(|k| k.path == path)
}

/// Whether `name` is a section (a table) in the configuration.
pub fn is_section(name: &str) -> bool {
    KEYS.iter().any(|k| {
        k.path
            .split_once('.')
            .is_some_and(|(section, _)| section == name)
    })
}

/// The environment variable that sets `key`: `KEZ_` + the path uppercased, dots as `_`
/// (`http.max_connections` → `KEZ_HTTP_MAX_CONNECTIONS`).
pub fn env_name(key: &Key) -> String {
    format!("KEZ_{}", key.path.replace('.', "_").to_ascii_uppercase())
}

/// The key an environment variable sets, if it is one of ours.
pub fn from_env_name(name: &str) -> Option<Key> {
    KEYS.iter().copied().find(|k| env_name(k) == name)
}

/// The known key an unknown `path` was most likely meant to be: the same name in another
/// section (`max_connections` → `http.max_connections`), or the key a few typed characters
/// away (`htpp.max_conections` → `http.max_connections`).
pub fn suggest(path: &str) -> Option<&'static str> {
    let last = |p: &str| p.rsplit('.').next().unwrap_or_default().to_owned();
    let name = last(path);
    // Of several sections with that name (`http.max_connections`, `database.max_connections`),
    // the one closest to what was typed.
    if let Some(moved) = KEYS
        .iter()
        .filter(|k| last(k.path) == name)
        .min_by_key(|k| strsim::levenshtein(path, k.path))
    {
        return Some(moved.path);
    }
    nearest(path, KEYS.iter().map(|k| (k.path, k.path.to_owned())))
}

/// The variable an unknown `KEZ_*` variable was most likely meant to be, if it is a few
/// characters from one, or names a section of kezd's (`KEZ_HTTP_…`).
pub fn suggest_env(name: &str) -> Option<String> {
    let names = KEYS.iter().map(|k| (k.path, env_name(k)));
    if let Some(path) = nearest(name, names) {
        return find(path).map(|k| env_name(&k));
    }
    KEYS.iter()
        .find(|k| {
            k.path.split_once('.').is_some_and(|(section, _)| {
                name.starts_with(&format!("KEZ_{}_", section.to_ascii_uppercase()))
            })
        })
        .map(|k| format!("a KEZ_{}_… variable", section_of(k).to_ascii_uppercase()))
}

fn section_of(key: &Key) -> &'static str {
    key.path
        .split_once('.')
        .map_or(key.path, |(section, _)| section)
}

/// The candidate closest to `typed` by edit distance, when close enough to be a typo: two
/// edits, or one in five characters for long names.
fn nearest(
    typed: &str,
    candidates: impl Iterator<Item = (&'static str, String)>,
) -> Option<&'static str> {
    let (path, distance) = candidates
        .map(|(path, text)| (path, strsim::levenshtein(typed, &text)))
        .min_by_key(|(_, distance)| *distance)?;
    (distance <= (typed.len() / 5).max(2)).then_some(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_names_are_unique_and_round_trip() {
        for k in KEYS {
            assert_eq!(from_env_name(&env_name(k)), Some(*k), "{}", k.path);
        }
        assert_eq!(
            env_name(&key("http.max_connections", Kind::Uint)),
            "KEZ_HTTP_MAX_CONNECTIONS"
        );
    }

    #[test]
    fn typos_and_misplaced_keys_get_a_hint() {
        assert_eq!(suggest("htpp.max_conections"), Some("http.max_connections"));
        assert_eq!(suggest("max_connections"), Some("http.max_connections"));
        assert_eq!(
            suggest("databse.max_connections"),
            Some("database.max_connections")
        );
        assert_eq!(suggest("bnid"), Some("bind"));
        assert_eq!(suggest("completely_unrelated"), None);
        assert_eq!(
            suggest_env("KEZ_HTTP_MAX_CONECTIONS").as_deref(),
            Some("KEZ_HTTP_MAX_CONNECTIONS")
        );
        assert!(suggest_env("KEZ_HTTP_NOPE").is_some());
        assert_eq!(suggest_env("KEZ_PASSPHRASE"), None, "kezctl's own variable");
        assert_eq!(
            suggest_env("KEZ_INVITE_TOKEN"),
            None,
            "kezctl's own variable"
        );
    }

    #[test]
    fn sections_are_recognised() {
        assert!(is_section("http") && is_section("tls"));
        assert!(!is_section("bind") && !is_section("limits"));
    }
}
