//! SPEC §9.2 on the receiving side of a peer's document (`--spawn` only): a server that checks a
//! transaction fetches the origin's server document, and trusts its keys only when the document
//! verifies — signed by a key it publishes, of `type` `"server"`, for the origin's own name,
//! not signed in the future, not past `valid_until`. A rogue peer serves each kind of flawed
//! document and signs a transaction with the key the document publishes, so only a server that
//! skips the check accepts it. A document is fetched again once its `valid_until` has passed.
//! And an unknown key id makes the server refetch the document once (a rotated key is then
//! trusted), never more than once a minute per origin.

use kez_testnet::{DocumentFlaw, RogueOptions, SHORT_LIVED_MS, Sign};

use super::s9_3_rogue_sender::{expect_status, recipient, send};
use crate::case::{Case, CaseResult, Rogue};
use crate::cases;
use crate::user::now_ms;

/// The cases of this group.
pub fn cases() -> Vec<Case> {
    vec![
        Case::rogue(
            "s9.rogue.document_bad_signature",
            &["§9.2", "§9.3"],
            "a transaction from a peer whose server document's signature does not verify is \
             refused 503 unavailable and stores nothing",
            |r| Box::pin(flawed(r, DocumentFlaw::BadSignature)),
        ),
        Case::rogue(
            "s9.rogue.document_other_server",
            &["§9.2", "§9.3"],
            "a transaction from a peer whose server document names another server is refused \
             503 unavailable and stores nothing",
            |r| {
                Box::pin(flawed(
                    r,
                    DocumentFlaw::NamesServer("elsewhere.test".into()),
                ))
            },
        ),
        Case::rogue(
            "s9.rogue.document_expired",
            &["§9.2", "§9.3"],
            "a transaction from a peer whose server document is past its valid_until is \
             refused 503 unavailable and stores nothing",
            |r| Box::pin(flawed(r, DocumentFlaw::Expired)),
        ),
        Case::rogue(
            "s9.rogue.document_wrong_type",
            &["§9.2", "§9.3"],
            "a transaction from a peer whose server document's type is not \"server\" is \
             refused 503 unavailable and stores nothing",
            |r| Box::pin(flawed(r, DocumentFlaw::WrongType)),
        ),
        Case::rogue(
            "s9.rogue.document_from_future",
            &["§9.2", "§9.3"],
            "a transaction from a peer whose server document's ts is 10 minutes ahead (over \
             the 300 s allowed) is refused 503 unavailable and stores nothing",
            |r| Box::pin(flawed(r, DocumentFlaw::FromFuture)),
        ),
        Case::rogue(
            "s9.rogue.document_refetched",
            &["§9.2"],
            "a peer's document valid for 3 s is used for a transaction and fetched again for \
             the next once its valid_until has passed",
            |r| Box::pin(refetched(r)),
        ),
        Case::rogue(
            "s9.rogue.key_refetch",
            &["§9.2", "§9.3"],
            "after the peer rotates its key, a transaction signed with the new key makes the \
             server refetch the document once and is accepted; transactions naming an \
             unpublished key within the minute are 401 unknown_key with no further refetch",
            |r| Box::pin(key_refetch(r)),
        ),
    ]
}

/// A rogue serving a document with `flaw` signs a transaction with the key that document
/// publishes; the server under test must refuse it, having fetched the document.
async fn flawed(r: Rogue, flaw: DocumentFlaw) -> CaseResult {
    let what = format!("a transaction from a peer whose document has the flaw {flaw:?}");
    let rogue = r.start(RogueOptions::new().document_flaw(flaw)).await?;
    let bob = recipient(&r).await?;
    let env = rogue.envelope("mallory", &bob.address, &bob.primary, "flawed document");
    let answer = send(&r, &rogue, "d1", rogue.txn_body(&[env]), Sign::Good).await?;
    // §9.3: a document that fails §9.2's checks is no document at all, so the key is not
    // known to be untrusted: 503 unavailable, and the origin retries.
    check!(
        answer.0 == 503 && answer.1["error"].as_str() == Some("unavailable"),
        "{what}: expected 503 unavailable (SPEC §9.3: no valid document could be obtained), \
         got {} {}",
        answer.0,
        answer.1
    );
    check!(
        rogue.traffic().document_fetches >= 1,
        "{what}: refused without fetching the peer's document"
    );
    check!(
        bob.messages(0).await?.is_empty(),
        "{what}: the refused transaction stored a message"
    );
    Ok(())
}

/// A document valid for [`SHORT_LIVED_MS`] is fetched for one transaction and again for the
/// next, sent after it expired: a cache may keep it only until its `valid_until`.
async fn refetched(r: Rogue) -> CaseResult {
    let rogue = r
        .start(RogueOptions::new().document_flaw(DocumentFlaw::ShortLived))
        .await?;
    let bob = recipient(&r).await?;
    let body = |text: &str| {
        let env = rogue.envelope("mallory", &bob.address, &bob.primary, text);
        rogue.txn_body(&[env])
    };
    let answer = send(&r, &rogue, "s1", body("first"), Sign::Good).await?;
    expect_status(
        "a transaction from a peer with a short-lived document",
        &answer,
        200,
        None,
    )?;
    check_eq!(
        rogue.traffic().document_fetches,
        1,
        "document fetches for the first transaction"
    );
    // The document was served before the answer came, so it has expired by then.
    cases::clock_passes(now_ms() + SHORT_LIVED_MS + 200).await;
    let answer = send(&r, &rogue, "s2", body("second"), Sign::Good).await?;
    expect_status(
        "a transaction after the document expired",
        &answer,
        200,
        None,
    )?;
    check_eq!(
        rogue.traffic().document_fetches,
        2,
        "document fetches once the first document's valid_until had passed (it must be \
         fetched again)"
    );
    Ok(())
}

async fn key_refetch(r: Rogue) -> CaseResult {
    let rogue = r.start(RogueOptions::new()).await?;
    let bob = recipient(&r).await?;
    let body = |text: &str| {
        let env = rogue.envelope("mallory", &bob.address, &bob.primary, text);
        rogue.txn_body(&[env])
    };
    let answer = send(&r, &rogue, "k1", body("first"), Sign::Good).await?;
    expect_status("a good transaction", &answer, 200, None)?;
    let fetched = rogue.traffic().document_fetches;
    check_eq!(fetched, 1, "document fetches for the first transaction");

    rogue
        .rotate_keys()
        .map_err(|e| crate::case::Fail::Fail(format!("rotating the rogue's key: {e}")))?;
    let answer = send(&r, &rogue, "k2", body("rotated"), Sign::Good).await?;
    expect_status(
        "a transaction signed with the peer's new key (the document must be refetched)",
        &answer,
        200,
        None,
    )?;
    check_eq!(
        rogue.traffic().document_fetches,
        2,
        "document fetches after one transaction with a new key id"
    );

    for txn in ["u1", "u2", "u3"] {
        let answer = send(
            &r,
            &rogue,
            txn,
            body("unpublished"),
            Sign::WithUnpublishedKeyId,
        )
        .await?;
        expect_status(
            "a transaction naming a key id the peer does not publish",
            &answer,
            401,
            Some("unknown_key"),
        )?;
    }
    check_eq!(
        rogue.traffic().document_fetches,
        2,
        "document fetches after three unknown key ids within a minute of the last refetch \
         (at most one refetch per minute per origin)"
    );
    Ok(())
}
