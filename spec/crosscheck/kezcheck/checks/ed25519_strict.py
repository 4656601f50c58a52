"""The checks of `spec/vectors/ed25519-strict.json`."""

from __future__ import annotations

from ..ed25519 import ed25519_verify_strict, lib_ed25519_verify
from ..encoding import VectorFormatError, unhex
from ..report import run_items, vector_items


def check_ed25519_strict(doc, rep):
    def one(v):
        pub = unhex(v["public_key"], "public_key")
        msg = unhex(v["message"], "message")
        sig = unhex(v["signature"], "signature")
        if not isinstance(v.get("reason"), str) or not v["reason"]:
            raise VectorFormatError("every strict vector needs a 'reason'")
        ok, why = ed25519_verify_strict(pub, msg, sig)
        if v["valid"]:
            if not ok:
                return "strict verify rejects: " + why
            if not lib_ed25519_verify(pub, msg, sig):
                return "cryptography rejects a vector that is valid under §3.4"
            return None
        if ok:
            return "strict verify accepts an invalid vector"
        return None if v["error"] == "invalid_signature" else f"error should be invalid_signature, not {v['error']}"

    run_items(rep, vector_items(doc, "vectors", rep), one, set())
