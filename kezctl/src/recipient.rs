//! The key `send` seals to. A fresh, verified lookup (SPEC §4.2, [`crate::lookup`]) always comes
//! first, and its record is remembered ([`crate::record_cache`]). The remembered record stands
//! in only when the fresh lookup could not be made — the recipient's server is unreachable,
//! timing out or failing (5xx) — so the home server can still accept the message and queue it
//! while that server is down.
//!
//! Never otherwise: when the recipient's server answers that the handle is unknown, or the
//! record does not verify, the send fails as it would without a memory. And when the server
//! answers with a primary other than the remembered one, the send fails loudly: a changed key
//! is either a new registration or a server substituting a key of its own (SPEC §13.4), and
//! only the person can tell which, by comparing primaries out of band.

use kez_spec::clock::now_ms;
use kez_spec::{Address, Primary};

use crate::context::Context;
use crate::error::CliError;
use crate::keyfile::Home;
use crate::lookup;
use crate::output::format_ms;
use crate::record;
use crate::record_cache::Remembered;

/// The primary to seal to for `to`, sent by `identity` from `home`.
pub async fn primary(
    ctx: &Context,
    identity: &str,
    to: &Address,
    home: &Home,
) -> Result<Primary, CliError> {
    let remembered = ctx.records.load(identity, to);
    let (value, via) = match lookup::fetch(ctx, to, Some(home)).await {
        Ok(fetched) => fetched,
        Err(e) if e.is_unavailable() => return fall_back(ctx, to, e, remembered),
        Err(e) => return Err(e),
    };
    let (_, primary) = record::check(&value, &via, to)?;
    match remembered {
        Ok(Some(old)) if old.primary != primary => return Err(key_changed(to, &old, &primary)),
        Err(e) => ctx.out.status(format!(
            "warning: replacing a damaged remembered record: {e}"
        )),
        Ok(_) => {}
    }
    if let Err(e) = ctx.records.store(identity, to, &value, now_ms()) {
        // Only the memory is lost; the message can still go.
        ctx.out
            .status(format!("warning: cannot remember {to}'s record: {e}"));
    }
    Ok(primary)
}

/// The remembered primary after a lookup failed with `error`, or `error` when there is none.
fn fall_back(
    ctx: &Context,
    to: &Address,
    error: CliError,
    remembered: Result<Option<Remembered>, CliError>,
) -> Result<Primary, CliError> {
    match remembered {
        Ok(Some(old)) => {
            ctx.out.status(format!(
                "{to}'s server cannot be reached ({error}); sealing to the key verified for it \
                 at {}",
                format_ms(old.verified_at)
            ));
            Ok(old.primary)
        }
        Ok(None) => Err(error),
        Err(damaged) => {
            ctx.out.status(format!(
                "warning: the remembered record cannot stand in: {damaged}"
            ));
            Err(error)
        }
    }
}

/// The refusal when `to`'s server now names another key than the one remembered.
fn key_changed(to: &Address, old: &Remembered, now: &Primary) -> CliError {
    CliError::Verification(format!(
        "the key registered for {to} changed: it was {} (verified {}), the server now says \
         {now}. This is either a new registration or a server substituting a key (SPEC \
         §13.4). Compare the new key with its owner out of band (kezctl whois {to}); if it is \
         theirs, delete {} and send again",
        old.primary,
        format_ms(old.verified_at),
        old.path.display()
    ))
}
