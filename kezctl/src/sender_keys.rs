//! The check SPEC §6.6 asks of a receiving client beyond the envelope's own signature: that
//! `from_primary` is the primary actually registered for `from`. Without it, anyone who can get
//! an envelope into an inbox (a rogue server, say) could sign as `alice@a.example` with a key
//! of their own. Each sender is looked up once per run, through the same verified lookup
//! `whois` uses.

use std::collections::HashMap;

use kez_spec::{Address, Primary};

use crate::context::Context;
use crate::keyfile::Home;
use crate::lookup;
use crate::message::{Failure, Received};

/// Registered primaries of the senders seen in this run (or why they could not be found).
#[derive(Debug, Default)]
pub struct SenderKeys {
    known: HashMap<String, Result<Primary, String>>,
}

impl SenderKeys {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// Marks `m` as failed unless its sender key is the registered one. Messages that already
    /// failed are left as they are.
    pub async fn check(&mut self, ctx: &Context, home: &Home, m: &mut Received) {
        let (Some(from), Some(claimed)) = (m.from.clone(), m.from_primary.clone()) else {
            return;
        };
        if !m.is_ok() {
            return;
        }
        if !self.known.contains_key(&from) {
            let found = match Address::parse(&from) {
                Ok(address) => lookup::address(ctx, &address, Some(home))
                    .await
                    .map(|(_, primary)| primary)
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            self.known.insert(from.clone(), found);
        }
        judge(m, &claimed, self.known.get(&from));
    }
}

/// The verdict on a message whose sender key is `claimed` and whose sender's registered key
/// is `registered`.
fn judge(m: &mut Received, claimed: &str, registered: Option<&Result<Primary, String>>) {
    let failure = match registered {
        Some(Ok(primary)) if primary.to_string() == claimed => return,
        Some(Ok(primary)) => Failure::SenderKeyMismatch {
            registered: primary.to_string(),
        },
        Some(Err(why)) => Failure::SenderKeyUnchecked {
            detail: why.clone(),
        },
        None => return,
    };
    m.text = None;
    m.failure = Some(failure);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn received() -> Received {
        Received {
            seq: 1,
            id: None,
            received_at: None,
            from: Some("alice@a.example".into()),
            from_primary: Some(
                Primary::from(&kez_spec::SigningKey::from_bytes(&[1; 32])).to_string(),
            ),
            ts: None,
            text: Some("hi".into()),
            failure: None,
        }
    }

    /// SPEC §6.6: the registered key passes; another key, or no answer, is never shown.
    #[test]
    fn only_the_registered_key_passes() {
        let alice = Primary::from(&kez_spec::SigningKey::from_bytes(&[1; 32]));
        let mallory = Primary::from(&kez_spec::SigningKey::from_bytes(&[2; 32]));
        let mut ok = received();
        let claimed = ok.from_primary.clone().unwrap_or_default();
        judge(&mut ok, &claimed, Some(&Ok(alice)));
        assert!(ok.is_ok() && ok.text.is_some());

        let mut forged = received();
        judge(&mut forged, &claimed, Some(&Ok(mallory)));
        assert!(matches!(
            forged.failure,
            Some(Failure::SenderKeyMismatch { .. })
        ));
        assert_eq!(forged.text, None);

        let mut unchecked = received();
        judge(&mut unchecked, &claimed, Some(&Err("unreachable".into())));
        assert!(matches!(
            unchecked.failure,
            Some(Failure::SenderKeyUnchecked { .. })
        ));
        assert_eq!(unchecked.text, None);
    }
}
