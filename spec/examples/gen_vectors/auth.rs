//! Vectors of client credentials, accepted and refused (SPEC §7).

use super::*;

/// One credential vector: the server sees `req` at `now`; the credential was signed over
/// `signed_as` by alice at NOW_S.
pub(crate) fn auth_item(
    name: &str,
    kind: &str,
    req: AuthRequest<'_>,
    signed_as: AuthRequest<'_>,
    now: u64,
    valid: bool,
) -> Value {
    let alice = key("alice");
    let pk = hex::encode(alice.verifying_key().to_bytes());
    let cred = signed_as.sign(&alice, NOW_S);
    let mut v = json!({
        "name": name, "kind": kind, "handle": "alice", "ts": NOW_S, "now": now,
        "string_text": req.string(NOW_S), "public_key": pk, "credential": cred.to_string(), "valid": valid,
    });
    match req {
        AuthRequest::Poll { since: c, .. }
        | AuthRequest::StreamCursor { since: c, .. }
        | AuthRequest::Ack { through: c, .. } => v["cursor"] = c.into(),
        AuthRequest::Status { id } => v["message_id"] = id.to_string().into(),
        AuthRequest::StreamLive { .. } => {}
    }
    if !valid {
        v["error"] = "unauthorized".into();
    }
    v
}

pub(crate) fn auth(dir: &Path) {
    let h: Handle = parse("alice");
    let id = MessageId::of_canonical(b"kez");
    let poll = AuthRequest::Poll {
        handle: &h,
        since: 42,
    };
    let live = AuthRequest::StreamLive { handle: &h };
    let cursor = AuthRequest::StreamCursor {
        handle: &h,
        since: 42,
    };
    let ack = AuthRequest::Ack {
        handle: &h,
        through: 42,
    };
    let status = AuthRequest::Status { id: &id };
    let mut vectors = vec![
        auth_item("poll", "poll", poll, poll, NOW_S, true),
        auth_item(
            "poll since=0",
            "poll",
            AuthRequest::Poll {
                handle: &h,
                since: 0,
            },
            AuthRequest::Poll {
                handle: &h,
                since: 0,
            },
            NOW_S + 60,
            true,
        ),
        auth_item("stream, live only", "stream_live", live, live, NOW_S, true),
        auth_item(
            "stream from a cursor",
            "stream_cursor",
            cursor,
            cursor,
            NOW_S,
            true,
        ),
        auth_item("ack", "ack", ack, ack, NOW_S, true),
        auth_item("delivery status", "status", status, status, NOW_S, true),
    ];
    vectors.extend(auth_refused(&h));
    let mut malformed = auth_item("malformed credential", "poll", poll, poll, NOW_S, false);
    malformed["credential"] = format!("0{NOW_S}:{}", "00".repeat(64)).into();
    vectors.push(malformed);
    write(
        dir,
        "kez-auth.json",
        "Client request credentials `<ts>:<sig>` over the SPEC §7 strings, verified at `now` with a 60 s window.",
        &["§7.1", "§7.2", "§7.3", "§7.4", "§7.5", "§7.6", "§7.7"],
        json!({"vectors": vectors}),
    );
}

/// The credentials a server refuses: outside the window, or signed over another string.
pub(crate) fn auth_refused(h: &Handle) -> Vec<Value> {
    let poll = AuthRequest::Poll {
        handle: h,
        since: 42,
    };
    let live = AuthRequest::StreamLive { handle: h };
    let cursor = AuthRequest::StreamCursor {
        handle: h,
        since: 42,
    };
    let bob: Handle = parse("bob");
    vec![
        auth_item("poll 61 s late", "poll", poll, poll, NOW_S + 61, false),
        auth_item("poll 61 s early", "poll", poll, poll, NOW_S - 61, false),
        auth_item(
            "poll with another cursor",
            "poll",
            AuthRequest::Poll {
                handle: h,
                since: 41,
            },
            poll,
            NOW_S,
            false,
        ),
        auth_item(
            "poll signature replayed as stream",
            "stream_cursor",
            cursor,
            poll,
            NOW_S,
            false,
        ),
        auth_item(
            "stream signature replayed as poll",
            "poll",
            poll,
            cursor,
            NOW_S,
            false,
        ),
        auth_item(
            "live-only signature used with a cursor",
            "stream_cursor",
            cursor,
            live,
            NOW_S,
            false,
        ),
        auth_item(
            "another handle's poll signature",
            "poll",
            poll,
            AuthRequest::Poll {
                handle: &bob,
                since: 42,
            },
            NOW_S,
            false,
        ),
    ]
}
