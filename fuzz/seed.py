#!/usr/bin/env python3
"""Writes the seed corpus of each fuzz target from the protocol test vectors (spec/vectors).

The vectors are the valid and near-valid inputs the SPEC already names, so the fuzzer starts
from inputs that reach deep into each parser instead of discovering JSON and signatures from
nothing. Documents the vectors do not hold (a signed server document, a WebFinger JRD, a handle
record, transaction bodies and answers) are built here from the vectors' keys and objects, signed
with the vectors' own server key (SPEC §3.2: Ed25519 over the JCS bytes).

Usage: python3 fuzz/seed.py   (writes fuzz/corpus/<target>/seed-*; existing files are kept)
Needs python3 with the `cryptography` package, as spec/crosscheck does.
"""

from __future__ import annotations

import hashlib
import json
import pathlib

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

ROOT = pathlib.Path(__file__).resolve().parent
VECTORS = ROOT.parent / "spec" / "vectors"
CORPUS = ROOT / "corpus"
NOW_MS = 1_767_225_600_000  # kez_fuzz::NOW_MS


def vectors(name: str) -> dict:
    return json.loads((VECTORS / name).read_text(encoding="utf-8"))


def jcs(value) -> bytes:
    # RFC 8785 for what is built here: ASCII member names, integers and strings only.
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sign(body: dict, seed_hex: str, key_id: str | None = None) -> dict:
    key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(seed_hex))
    signature = {"alg": "ed25519", "sig": key.sign(jcs(body)).hex()}
    if key_id is not None:
        signature["key_id"] = key_id
    return {**body, "signature": signature}


def public_hex(seed_hex: str) -> str:
    key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(seed_hex))
    return key.public_key().public_bytes_raw().hex()


def write(target: str, data: str | bytes) -> None:
    raw = data.encode() if isinstance(data, str) else data
    out = CORPUS / target
    out.mkdir(parents=True, exist_ok=True)
    (out / f"seed-{hashlib.sha1(raw).hexdigest()[:16]}").write_bytes(raw)


def main() -> None:
    envelopes = [v["object_text"] for v in vectors("kez-envelope.json")["vectors"]]
    signed_objects = [v["object_text"] for v in vectors("kez-signed-objects.json")["vectors"]]
    registrations = vectors("kez-registration.json")["vectors"]
    auth = vectors("kez-auth.json")["vectors"]
    s2s = vectors("kez-s2s.json")["vectors"]
    identities = vectors("kez-identities.json")

    for text in envelopes + signed_objects:
        write("envelope", text)
    for v in registrations:
        write("registration", v["object_text"])

    for v in auth:
        write("credential", v["credential"])
        if v.get("cursor") is not None:
            write("cursor", str(v["cursor"]))
    for text in ["0", "007", "9007199254740991", "9007199254740992", "+5", "-1", " 1"]:
        write("cursor", text)

    for v in s2s:
        write("server_auth", v["header_text"])
        write("txn_body", v["body_text"])
    for text in envelopes:
        envelope = json.loads(text)
        origin = envelope.get("from", "a@a.example").split("@")[-1]
        write("txn_body", json.dumps({"origin": origin, "envelopes": [envelope, 7, {}]}))

    results = {"results": [
        {"id": "00" * 32, "status": "accepted"},
        {"id": "11" * 32, "status": "deferred", "code": "rate_limited", "retry_after": 30},
        {"id": "22" * 32, "status": "rejected", "code": "unknown_sender"},
        {"id": "33" * 32, "status": "duplicate"},
    ]}
    for status, body in [
        (200, json.dumps(results)),
        (429, '{"error":"rate_limited","message":"slow down"}'),
        (413, '{"error":"payload_too_large","message":"x"}'),
        (403, '{"error":"origin_blocked","message":"x"}'),
        (503, "<html>busy</html>"),
    ]:
        # txn_answer's status is 100 + the first two bytes (big-endian) mod 900.
        write("txn_answer", (status - 100).to_bytes(2, "big") + body.encode())

    # A server document as kezd signs it (spec/src/server_document.rs), with the s2s vectors'
    # server key, one retired key and limits.
    server_seed = s2s[0]["server_seed"]
    document = {
        "type": "server",
        "server": "b.example",
        "version": "kezd/0.1.0",
        "protocol": 1,
        "federation": "/v1/federation",
        "ts": NOW_MS,
        "valid_until": NOW_MS + 86_400_000,
        "limits": {"max_txn_envelopes": 100, "max_envelope_bytes": 262144},
        "verify_keys": {"ed25519:k1": {"key": public_hex(server_seed),
                                        "valid_until": NOW_MS + 7 * 86_400_000}},
        "old_verify_keys": {"ed25519:k0": {"key": identities["identities"][1]["primary"][8:],
                                           "expired_at": NOW_MS - 1000}},
    }
    write("server_document", jcs(sign(document, server_seed, "ed25519:k1")))
    write("server_document", json.dumps(sign(document, server_seed, "ed25519:k1"), indent=2))

    # WebFinger answers and handle records for each identity, as kezd serves them.
    for identity in identities["identities"]:
        handle, primary = identity["name"], identity["primary"]
        href = f"https://b.example/v1/u/{handle}"
        write("webfinger", json.dumps({
            "subject": f"acct:{handle}@b.example",
            "aliases": [href],
            "links": [{"rel": "self", "type": "application/json", "href": href}],
            "properties": {"https://kez.lat/ns/primary": primary,
                           "https://kez.lat/ns/server": "b.example"},
        }))
        registration = sign({"type": "registration", "handle": handle, "server": "b.example",
                             "primary": primary, "ts": NOW_MS - 86_400_000},
                            identity["seed"])
        write("handle_record", json.dumps({
            "handle": handle, "server": "b.example", "address": f"{handle}@b.example",
            "primary": primary, "registered_at": NOW_MS, "registration": registration,
        }))
    write("webfinger", json.dumps({
        "subject": "acct:bob@b.example",
        "links": [{"rel": "self", "type": "application/json",
                   "href": "https://b.example:8448/v1/u/bob?x=1"}],
    }))

    names = ["kez.lat", "localhost:6969", "xn--bcher-kva.example", "a-b.example",
             "Kez.lat", "bücher.example", "127.0.0.1", "0x7f000001", "127.0.0.0x1",
             "169.254.169.0xfe", "[::1]", "kez.lat.:443"]
    for name in names:
        write("identifiers", name)
        write("identifiers", f"alice@{name}")
    for identity in identities["identities"]:
        write("identifiers", identity["primary"])
    for bad in identities["invalid_primaries"]:
        write("identifiers", bad["primary"])
    for text in ["ed25519:k1", "a..b", "admin", "0" * 64]:
        write("identifiers", text)


if __name__ == "__main__":
    main()
