"""The checks of `spec/vectors/rfc8032-ed25519.json`."""

from __future__ import annotations

from ..ed25519 import ed25519_public, ed25519_sign, ed25519_verify_strict, lib_ed25519_public, lib_ed25519_sign, lib_ed25519_verify
from ..encoding import unhex
from ..report import run_items, vector_items


def check_rfc8032(doc, rep):
    def one(v):
        seed = unhex(v["secret_key"], "secret_key", 32)
        pub = unhex(v["public_key"], "public_key", 32)
        msg = unhex(v["message"], "message")
        sig = unhex(v["signature"], "signature", 64)
        if ed25519_public(seed) != pub:
            return "pure-Python: public key from seed differs"
        if ed25519_sign(seed, msg) != sig:
            return "pure-Python: signature from seed differs"
        ok, why = ed25519_verify_strict(pub, msg, sig)
        if not ok:
            return "pure-Python strict verify rejects: " + why
        if lib_ed25519_public(seed) != pub:
            return "cryptography: public key from seed differs"
        if lib_ed25519_sign(seed, msg) != sig:
            return "cryptography: signature differs"
        if not lib_ed25519_verify(pub, msg, sig):
            return "cryptography: verify rejects"
        return None

    run_items(rep, vector_items(doc, "vectors", rep), one, set())
