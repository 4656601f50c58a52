//! `kezd admin tokens …`: the invitation tokens a server with `registration.policy = "token"`
//! registers people with (SPEC §4.1 check 10). `create` prints the token once — the store
//! keeps only its SHA-256 — with the short id that `list` shows and `revoke` takes. Nothing
//! caches tokens: each registration reads its token in the transaction that spends it, so a
//! change is in force on every instance at once and none needs telling.

use std::time::Duration;

use crate::registration_token;

use super::context::{Context, now_ms};
use super::request::{Failure, FailureKind, Outcome};

/// Makes a token admitting `uses` registrations (`None`: unlimited) for `expires_in`
/// (`None`: forever).
pub async fn create(
    context: &Context,
    uses: Option<u32>,
    expires_in_secs: Option<u64>,
) -> Result<Outcome, Failure> {
    if uses == Some(0) {
        return Err(Failure::new(
            FailureKind::Invalid,
            "a token admits at least 1 registration (leave --uses out for no limit)",
        ));
    }
    let now = now_ms();
    let expires_at_ms = expires_in_secs
        .map(|secs| {
            i64::try_from(secs)
                .ok()
                .and_then(|secs| secs.checked_mul(1000))
                .and_then(|ms| now.checked_add(ms))
                .filter(|_| secs > 0)
                .ok_or_else(|| {
                    Failure::new(FailureKind::Invalid, format!("cannot expire in {secs} s"))
                })
        })
        .transpose()?;
    let issued = registration_token::issue(uses, expires_at_ms, now);
    context.store.create_token(issued.record.clone()).await?;
    Ok(Outcome::TokenCreated {
        id: issued.record.id,
        token: issued.token,
        uses_allowed: uses,
        expires_at_ms,
    })
}

/// Every token, oldest first, with its uses and whether it can still be spent.
pub async fn list(context: &Context) -> Result<Outcome, Failure> {
    let tokens = context.store.tokens().await?;
    Ok(Outcome::Tokens { tokens })
}

/// Revokes the token `id`: it admits nobody from the answer on.
pub async fn revoke(context: &Context, id: &str) -> Result<Outcome, Failure> {
    let listed = context.store.tokens().await?;
    let Some(token) = listed.iter().find(|token| token.id == id) else {
        return Err(Failure::new(
            FailureKind::NotFound,
            format!("no token has the id {id:?} (kezd admin tokens list shows them)"),
        ));
    };
    let changed = !token.revoked;
    context.store.revoke_token(id).await?;
    let message = if changed {
        format!("token {id} is revoked")
    } else {
        format!("token {id} was already revoked")
    };
    Ok(Outcome::Done { message, changed })
}

/// A duration as the command line writes it: a whole number and a unit, `s`, `m`, `h`, `d`
/// or `w` (`30m`, `7d`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let unit_secs: u64 = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(format!("{text:?}: write a number and s, m, h, d or w (7d)")),
    };
    number
        .parse::<u64>()
        .ok()
        .filter(|n| *n > 0)
        .and_then(|n| n.checked_mul(unit_secs))
        .map(Duration::from_secs)
        .ok_or_else(|| format!("{text:?}: the number must be from 1 up"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_a_number_and_a_unit() {
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(604_800)));
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("2w"), Ok(Duration::from_secs(1_209_600)));
        assert_eq!(parse_duration("12h"), Ok(Duration::from_secs(43_200)));
        for bad in [
            "",
            "7",
            "d",
            "0d",
            "7 d",
            "7days",
            "-1h",
            "99999999999999999999w",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }
}
