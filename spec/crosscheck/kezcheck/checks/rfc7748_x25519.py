"""The checks of `spec/vectors/rfc7748-x25519.json`."""

from __future__ import annotations

from ..encoding import VectorFormatError, is_int, unhex
from ..report import run_items, vector_items
from ..x25519 import x25519_lib, x25519_lib_public, x25519_py


# X25519 ignores the clamped bits of a scalar (bits 0-2 of byte 0, bits 6-7 of byte 31) and the
# top bit of u, so recomputation cannot catch a typo in them. They are pinned here as printed in
# RFC 7748 (note the second §5.2 u ends in 0x93: its top bit is set on purpose).
RFC7748_IGNORED_BITS = {
    "rfc7748-5.2-vector-1": (0x05, 0xC0, 0x00),  # scalar a5..c4, u ..4c
    "rfc7748-5.2-vector-2": (0x03, 0x00, 0x80),  # scalar 4b..0d, u ..93
    "rfc7748-6.1": (0x07, 0x00, 0x05, 0xC0),      # alice 77..2a, bob 5d..eb
}


def check_rfc7748(doc, rep):
    seen = set()

    def sm(v):
        k = unhex(v["scalar"], "scalar", 32)
        u = unhex(v["u"], "u", 32)
        out = unhex(v["output"], "output", 32)
        if RFC7748_IGNORED_BITS.get(v["name"]) != (k[0] & 7, k[31] & 0xC0, u[31] & 0x80):
            return "bits that X25519 ignores differ from RFC 7748's text (or unknown vector name)"
        if x25519_py(k, u) != out:
            return "pure-Python ladder output differs"
        if x25519_lib(k, u) != out:
            return "cryptography X25519 output differs"
        return None

    def it(v):
        n = v["iterations"]
        if not is_int(n) or not 1 <= n <= 1000:
            raise VectorFormatError("iterations must be 1..1000 (1,000,000 is not run here)")
        out = unhex(v["output"], "output", 32)
        k = u = (9).to_bytes(32, "little")
        for _ in range(n):
            k, u = x25519_lib(k, u), k
        if k != out:
            return "cryptography X25519 iterated result differs"
        k = u = (9).to_bytes(32, "little")
        for _ in range(n):
            k, u = x25519_py(k, u), k
        if k != out:
            return "pure-Python iterated result differs"
        return None

    def dh(v):
        a = unhex(v["alice_private"], "alice_private", 32)
        ap = unhex(v["alice_public"], "alice_public", 32)
        b = unhex(v["bob_private"], "bob_private", 32)
        bp = unhex(v["bob_public"], "bob_public", 32)
        k = unhex(v["shared"], "shared", 32)
        if RFC7748_IGNORED_BITS.get(v["name"]) != (a[0] & 7, a[31] & 0xC0, b[0] & 7, b[31] & 0xC0):
            return "bits that X25519 ignores differ from RFC 7748's text (or unknown vector name)"
        nine = (9).to_bytes(32, "little")
        for label, fn in (("pure-Python", x25519_py), ("cryptography", x25519_lib)):
            if fn(a, nine) != ap or fn(b, nine) != bp:
                return f"{label}: public key differs"
            if fn(a, bp) != k or fn(b, ap) != k:
                return f"{label}: shared secret differs"
        if x25519_lib_public(a) != ap or x25519_lib_public(b) != bp:
            return "cryptography: public_key() differs"
        return None

    run_items(rep, vector_items(doc, "scalar_mult", rep), sm, seen)
    run_items(rep, vector_items(doc, "iterated", rep), it, seen)
    run_items(rep, vector_items(doc, "diffie_hellman", rep), dh, seen)
