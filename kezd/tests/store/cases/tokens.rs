//! Registration tokens (`kezd::store`, SPEC §4.1 check 10): a token is spent in the
//! transaction that stores the user, and only then; one with one use left admits exactly one
//! of many registrations offering it at once; an expired, revoked or unknown token admits
//! nobody; an identical registration again is the stored one, whatever the token.

use std::sync::Arc;

use kezd::registration_token;
use kezd::store::{RegisterOutcome, StoreError, TokenRefusal, TokenSpend};

use super::user;
use crate::backend::Backend;

/// Now, for the tokens of these cases, Unix milliseconds.
const NOW: i64 = 1_800_000_000_000;

fn spend(token: &str) -> Option<TokenSpend> {
    Some(TokenSpend {
        hash: registration_token::hash(token),
        now_ms: NOW,
    })
}

pub async fn a_token_is_spent_only_by_registrations_it_stores(backend: &dyn Backend) {
    let store = backend.open().await;
    let issued = registration_token::issue(Some(2), Some(NOW + 60_000), NOW - 1);
    store
        .create_token(issued.record.clone())
        .await
        .expect("create");
    store.register(user("taken", 9)).await.expect("register");

    let created = store
        .register_with_token(user("alice", 1), spend(&issued.token))
        .await
        .expect("register");
    assert_eq!(created, RegisterOutcome::Created(user("alice", 1)));
    // A retry of a stored registration spends nothing, with or without the token.
    for token in [spend(&issued.token), spend("nonsense"), None] {
        let again = store
            .register_with_token(user("alice", 1), token)
            .await
            .expect("retry");
        assert_eq!(again, RegisterOutcome::Existing(user("alice", 1)));
    }
    // Refused for a taken handle or primary: nothing stored, nothing spent.
    let taken = store
        .register_with_token(user("taken", 2), spend(&issued.token))
        .await;
    assert!(
        matches!(taken, Err(StoreError::HandleTaken { .. })),
        "{taken:?}"
    );
    let primary = store
        .register_with_token(user("bob", 1), spend(&issued.token))
        .await;
    assert!(
        matches!(primary, Err(StoreError::PrimaryTaken { .. })),
        "{primary:?}"
    );
    let tokens = store.tokens().await.expect("list");
    assert_eq!(tokens.len(), 1);
    assert_eq!(
        (tokens[0].id.as_str(), tokens[0].uses),
        (issued.record.id.as_str(), 1)
    );
    assert_eq!(tokens[0].uses_allowed, Some(2));
    assert_eq!(tokens[0].expires_at_ms, Some(NOW + 60_000));
    assert_eq!(tokens[0].created_at_ms, NOW - 1);
    assert!(!tokens[0].revoked);

    store
        .register_with_token(user("carol", 3), spend(&issued.token))
        .await
        .expect("second use");
    let used_up = store
        .register_with_token(user("dave", 4), spend(&issued.token))
        .await;
    assert!(
        matches!(used_up, Err(StoreError::TokenRefused(TokenRefusal::UsedUp))),
        "{used_up:?}"
    );
    assert_eq!(store.user_by_handle("dave").await.expect("lookup"), None);
    assert_eq!(store.tokens().await.expect("list")[0].uses, 2);
}

pub async fn unknown_expired_and_revoked_tokens_admit_nobody(backend: &dyn Backend) {
    let store = backend.open().await;
    let expired = registration_token::issue(None, Some(NOW), NOW - 10);
    let revoked = registration_token::issue(None, None, NOW - 5);
    store
        .create_token(expired.record.clone())
        .await
        .expect("create");
    store
        .create_token(revoked.record.clone())
        .await
        .expect("create");
    assert!(
        store
            .revoke_token(&revoked.record.id)
            .await
            .expect("revoke")
    );
    assert!(store.revoke_token(&revoked.record.id).await.expect("again"));
    assert!(!store.revoke_token("nosuchtoken").await.expect("unknown"));

    for (token, why) in [
        (expired.token.as_str(), TokenRefusal::Expired),
        (revoked.token.as_str(), TokenRefusal::Revoked),
        ("not-a-token-of-this-server", TokenRefusal::Unknown),
        // The hash is what the store knows, never the text.
        (expired.record.hash.as_str(), TokenRefusal::Unknown),
    ] {
        let refused = store
            .register_with_token(user("eve", 5), spend(token))
            .await;
        assert!(
            matches!(&refused, Err(StoreError::TokenRefused(r)) if *r == why),
            "{why:?}: {refused:?}"
        );
    }
    assert_eq!(store.user_by_handle("eve").await.expect("lookup"), None);
    let listed: Vec<(String, bool, u32)> = store
        .tokens()
        .await
        .expect("list")
        .into_iter()
        .map(|t| (t.id, t.revoked, t.uses))
        .collect();
    assert_eq!(
        listed,
        [
            (expired.record.id.clone(), false, 0),
            (revoked.record.id.clone(), true, 0)
        ]
    );
}

pub async fn a_token_with_one_use_admits_one_of_many_at_once(backend: &dyn Backend) {
    let store = backend.open().await;
    let issued = registration_token::issue(Some(1), None, NOW);
    store.create_token(issued.record).await.expect("create");
    let tasks: Vec<_> = (0..16u8)
        .map(|k| {
            let store = Arc::clone(&store);
            let token = spend(&issued.token);
            tokio::spawn(async move {
                store
                    .register_with_token(user(&format!("racer{k}"), k + 1), token)
                    .await
            })
        })
        .collect();
    let (mut created, mut used_up) = (0, 0);
    for task in tasks {
        match task.await.expect("join") {
            Ok(RegisterOutcome::Created(_)) => created += 1,
            Err(StoreError::TokenRefused(TokenRefusal::UsedUp)) => used_up += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((created, used_up), (1, 15));
    assert_eq!(store.tokens().await.expect("list")[0].uses, 1);
}
