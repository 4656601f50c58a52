//! Secrets inside settings: a database or NATS URL may carry a password, and nothing kezd
//! prints — `check-config`'s output, configuration errors, the log — may show it.

/// Keys whose values are URLs that may hold a password.
const URL_KEYS: [&str; 2] = ["database_url", "broker_url"];

/// `value` of `key` fit to print: passwords in URLs replaced by `***` (every URL of a
/// comma-separated list); any other key's value unchanged.
pub fn redact(key: &str, value: &str) -> String {
    if URL_KEYS.contains(&key) {
        value
            .split(',')
            .map(redact_password)
            .collect::<Vec<_>>()
            .join(",")
    } else {
        value.to_owned()
    }
}

/// `scheme://user:secret@host…` → `scheme://user:***@host…`; anything else unchanged.
pub fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_in_urls_are_hidden() {
        assert_eq!(
            redact(
                "database_url",
                "postgres://kez:hunter2@db:5432/kez?sslmode=disable"
            ),
            "postgres://kez:***@db:5432/kez?sslmode=disable"
        );
        assert_eq!(
            redact("broker_url", "nats://a:pw@n1:4222, nats://n2:4222"),
            "nats://a:***@n1:4222, nats://n2:4222"
        );
        assert_eq!(redact("database_url", "sqlite://x.db"), "sqlite://x.db");
        assert_eq!(redact("server_name", "a:b@c"), "a:b@c");
        assert_eq!(
            redact_password("postgres://kez@h/db"),
            "postgres://kez@h/db"
        );
    }
}
