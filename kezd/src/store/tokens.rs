//! Registration tokens as stored (SPEC §4.1 check 10): the records, the statements behind
//! them (the same text on both backends) and the rule that decides whether a token may still
//! be spent. Only a token's SHA-256 is stored, so a copy of the database invites nobody; the
//! short public id is what the operator lists and revokes by.

use super::StoreError;

/// A token to store, made by [`crate::registration_token::issue`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewToken {
    /// The short public id, for listing and revoking.
    pub id: String,
    /// Hex SHA-256 of the token text.
    pub hash: String,
    /// Registrations it admits; `None` for unlimited.
    pub uses_allowed: Option<u32>,
    /// When it stops admitting, Unix milliseconds; `None` for never.
    pub expires_at_ms: Option<i64>,
    /// When it was created, Unix milliseconds.
    pub created_at_ms: i64,
}

/// A stored token, as the operator sees it (never its text or hash).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TokenRecord {
    /// The short public id.
    pub id: String,
    /// Registrations it admits; `None` for unlimited.
    pub uses_allowed: Option<u32>,
    /// Registrations it admitted so far.
    pub uses: u32,
    /// When it stops admitting, Unix milliseconds; `None` for never.
    pub expires_at_ms: Option<i64>,
    /// When it was created, Unix milliseconds.
    pub created_at_ms: i64,
    /// Whether the operator revoked it.
    pub revoked: bool,
}

impl TokenRecord {
    /// Why it cannot admit a registration at `now_ms`, if it cannot.
    pub fn refusal(&self, now_ms: i64) -> Option<TokenRefusal> {
        if self.revoked {
            Some(TokenRefusal::Revoked)
        } else if self.expires_at_ms.is_some_and(|at| at <= now_ms) {
            Some(TokenRefusal::Expired)
        } else if self
            .uses_allowed
            .is_some_and(|allowed| self.uses >= allowed)
        {
            Some(TokenRefusal::UsedUp)
        } else {
            None
        }
    }
}

/// A token a registration offers, to be checked and spent in the transaction that stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenSpend {
    /// Hex SHA-256 of the text the client sent.
    pub hash: String,
    /// The time it is judged at, Unix milliseconds.
    pub now_ms: i64,
}

/// Why a token admits no registration. The client sees one code
/// (`registration_token_invalid`) for all of them; the reason is for the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenRefusal {
    /// No token has this text.
    #[error("no such token")]
    Unknown,
    /// The operator revoked it.
    #[error("the token was revoked")]
    Revoked,
    /// Its expiry passed.
    #[error("the token expired")]
    Expired,
    /// It admitted as many registrations as it allows.
    #[error("the token has no uses left")]
    UsedUp,
}

/// Stores a token: `$1` id, `$2` hash, `$3` uses allowed, `$4` expiry, `$5` creation.
pub(super) const INSERT: &str = "INSERT INTO registration_tokens \
     (id, hash, uses_allowed, uses, expires_at, created_at, revoked) \
     VALUES ($1, $2, $3, 0, $4, $5, FALSE)";

/// Every token, oldest first; rows for [`from_row`].
pub(super) const LIST: &str = "SELECT id, uses_allowed, uses, expires_at, created_at, revoked \
     FROM registration_tokens ORDER BY created_at, id";

/// The token whose hash is `$1`, then `$suffix`; a row for [`from_row`].
macro_rules! by_hash {
    ($suffix:literal) => {
        concat!(
            "SELECT id, uses_allowed, uses, expires_at, created_at, revoked \
             FROM registration_tokens WHERE hash = $1",
            $suffix
        )
    };
}

/// The token whose hash is `$1`.
pub(super) const BY_HASH: &str = by_hash!("");

/// The token whose hash is `$1`, locked until the transaction ends (PostgreSQL).
pub(super) const BY_HASH_FOR_UPDATE: &str = by_hash!(" FOR UPDATE");

/// Counts one use of the token whose hash is `$1`.
pub(super) const SPEND: &str = "UPDATE registration_tokens SET uses = uses + 1 WHERE hash = $1";

/// Revokes the token with id `$1` (revoking twice is harmless).
pub(super) const REVOKE: &str = "UPDATE registration_tokens SET revoked = TRUE WHERE id = $1";

/// A row of [`LIST`] or [`BY_HASH`].
pub(super) type TokenRow = (String, Option<i64>, i64, Option<i64>, i64, bool);

/// Reads a [`TokenRow`].
pub(super) fn from_row(
    (id, uses_allowed, uses, expires_at_ms, created_at_ms, revoked): TokenRow,
) -> Result<TokenRecord, StoreError> {
    let count = |n: i64| u32::try_from(n).map_err(|_| StoreError::Corrupt { what: "token uses" });
    Ok(TokenRecord {
        id,
        uses_allowed: uses_allowed.map(count).transpose()?,
        uses: count(uses)?,
        expires_at_ms,
        created_at_ms,
        revoked,
    })
}

/// Whether the token `row` (`None`: no token has that hash) admits a registration at `now_ms`.
pub(super) fn judge(row: Option<TokenRow>, now_ms: i64) -> Result<(), StoreError> {
    let token = row.map(from_row).transpose()?;
    match token.map_or(Some(TokenRefusal::Unknown), |t| t.refusal(now_ms)) {
        Some(refusal) => Err(StoreError::TokenRefused(refusal)),
        None => Ok(()),
    }
}
