//! What a registration (SPEC §4.1) and a deletion (SPEC §4.7) both are: an object signed by a
//! primary about one handle on one server at one time. Their checks run in the same order —
//! strict JSON, members and `type`, handle grammar, the kind's own handle rule, server,
//! primary, signature, timestamp window — so they are written once, here.

use ed25519_dalek::SigningKey;
use serde_json::{Map, Value};

use crate::signed::{self, Members, SignedObject};
use crate::{Error, Handle, Primary, ServerName, clock};

/// The members every account claim has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Claim {
    pub(crate) handle: Handle,
    pub(crate) server: ServerName,
    pub(crate) primary: Primary,
    pub(crate) ts_ms: u64,
    /// The signed object's canonical JSON, signature included.
    pub(crate) canonical: String,
}

/// How one kind of claim differs from the other.
pub(crate) struct Kind<'a> {
    /// Its `type` (SPEC §3.6).
    pub(crate) name: &'a str,
    /// Its own rule on the handle, after the grammar (a registration's reserved names).
    pub(crate) check_handle: &'a dyn Fn(&Handle) -> Result<(), Error>,
    /// Whether the object's `server` names this server.
    pub(crate) same_server: &'a dyn Fn(&str, &ServerName) -> bool,
}

/// Checks a received claim of `kind` at `this_server` and `now_ms`, in the order above.
pub(crate) fn verify(
    bytes: &[u8],
    kind: &Kind<'_>,
    this_server: &ServerName,
    now_ms: u64,
    skew_ms: u64,
) -> Result<Claim, Error> {
    let map = crate::json::parse_object(bytes)?;
    map.values()
        .try_for_each(crate::json::check_safe_integers)?;
    let m = Members(&map);
    m.expect_type(kind.name)?;
    let (handle, server, primary, ts_ms) = (
        m.str("handle")?,
        m.str("server")?,
        m.str("primary")?,
        m.uint("ts")?,
    );
    let handle = Handle::parse(handle)?;
    (kind.check_handle)(&handle)?;
    if !(kind.same_server)(server, this_server) {
        return Err(Error::WrongServer {
            expected: this_server.to_string(),
            got: server.to_owned(),
        });
    }
    let primary = Primary::parse(primary)?;
    let obj = SignedObject::from_map(map, false)?;
    obj.verify(&primary)?;
    clock::check_window(ts_ms, now_ms, skew_ms)?;
    let canonical = String::from_utf8(obj.canonical_bytes())
        .map_err(|_| Error::malformed("canonical form is not UTF-8"))?;
    Ok(Claim {
        handle,
        server: this_server.clone(),
        primary,
        ts_ms,
        canonical,
    })
}

/// Builds and signs a claim of type `kind` with the primary's secret key.
pub(crate) fn sign(
    kind: &str,
    handle: &Handle,
    server: &ServerName,
    primary: &Primary,
    ts_ms: u64,
    key: &SigningKey,
) -> Value {
    let mut body = Map::new();
    body.insert("type".into(), kind.into());
    body.insert("handle".into(), handle.as_str().into());
    body.insert("server".into(), server.as_str().into());
    body.insert("primary".into(), primary.to_string().into());
    body.insert("ts".into(), ts_ms.into());
    signed::sign(body, key, None)
}
