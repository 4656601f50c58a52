"""The checks of `spec/vectors/kez-identities.json`."""

from __future__ import annotations

from ..ed25519 import ed25519_public, lib_ed25519_public
from ..encoding import VectorFormatError, unhex
from ..identifiers import parse_primary, x25519_public_from_ed25519, x25519_secret_from_seed
from ..report import run_items, vector_items
from ..x25519 import x25519_lib_public, x25519_py


def check_kez_identities(doc, rep):
    seen = set()

    def ident(v):
        seed = unhex(v["seed"], "seed", 32)
        pub = ed25519_public(seed)
        if lib_ed25519_public(seed) != pub:
            return "pure-Python and cryptography disagree on the public key"
        if v["primary"] != "ed25519:" + pub.hex():
            return "primary differs from ed25519:<public key of seed>"
        if parse_primary(v["primary"])[1]:
            return "primary does not pass §2.3"
        xs = unhex(v["x25519_secret"], "x25519_secret", 32)
        if xs != x25519_secret_from_seed(seed):
            return "x25519_secret differs from clamp(SHA-512(seed)[0..32])"
        xp = unhex(v["x25519_public"], "x25519_public", 32)
        if xp != x25519_public_from_ed25519(pub):
            return "x25519_public differs from the birational map of the primary"
        if x25519_lib_public(xs) != xp or x25519_py(xs, (9).to_bytes(32, "little")) != xp:
            return "x25519_public differs from X25519(x25519_secret, 9)"
        return None

    def bad(v):
        if not isinstance(v.get("error"), str):
            raise VectorFormatError("invalid primary without an error code")
        _, err = parse_primary(v["primary"])
        if err is None:
            return f"expected {v['error']}, checker accepts the primary"
        return None if err == v["error"] else f"expected {v['error']}, checker says {err}"

    run_items(rep, vector_items(doc, "identities", rep), ident, seen)
    run_items(rep, vector_items(doc, "invalid_primaries", rep), bad, seen)
