#!/usr/bin/env python3
"""Independent cross-check of every KEZ test-vector file in spec/vectors/.

Written from spec/SPEC.md (and notes/wire-decisions.md, its source) and the
RFCs only, never from the Rust code. Dependencies: the Python standard library and
`cryptography` (used as the independent library for X25519, HKDF, AES-256-GCM
and as a second opinion on ed25519). Ed25519 verification itself is done
here, in pure Python, by RFC 8032 §5.1.7 plus the strict rules of SPEC §3.4.

Usage:
    python3 spec/crosscheck/check_vectors.py [--vectors DIR] [--allow-missing-kez]

Exit status 0 when every vector of every file checks; 1 otherwise (the failing
vectors are named); 2 on a usage error.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import re
import struct
import sys
from decimal import Decimal

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.asymmetric.x25519 import (
    X25519PrivateKey,
    X25519PublicKey,
)
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

# --------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------

HEX_RE = re.compile(r"\A(?:[0-9a-f]{2})*\Z")
B64_RE = re.compile(r"\A[A-Za-z0-9+/]*={0,2}\Z")


class VectorFormatError(Exception):
    """The vector file itself does not follow notes/vector-formats.md."""


def unhex(value, field: str, length: int | None = None) -> bytes:
    """Lowercase, even-length hex (vector-formats.md) -> bytes."""
    if not isinstance(value, str) or not HEX_RE.match(value):
        raise VectorFormatError(f"{field}: not lowercase even-length hex: {value!r:.80}")
    raw = bytes.fromhex(value)
    if length is not None and len(raw) != length:
        raise VectorFormatError(f"{field}: expected {length} bytes, got {len(raw)}")
    return raw


def is_int(value) -> bool:
    """A JSON integer in a vector file (bool is not an int here)."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_lower_hex(value, nbytes: int | None = None) -> bool:
    if not isinstance(value, str) or not HEX_RE.match(value):
        return False
    return nbytes is None or len(value) == 2 * nbytes


def b64_decode_canonical(value):
    """SPEC §1: RFC 4648 §4 standard alphabet, padded, canonical, no whitespace.
    Returns bytes, or None when `value` is not such a string."""
    if not isinstance(value, str) or len(value) % 4 != 0 or not B64_RE.match(value):
        return None
    try:
        raw = base64.b64decode(value, validate=True)
    except ValueError:
        return None
    if base64.b64encode(raw).decode("ascii") != value:
        return None  # non-zero trailing bits or misplaced padding
    return raw


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def sha512(data: bytes) -> bytes:
    return hashlib.sha512(data).digest()


# --------------------------------------------------------------------------
# Ed25519, pure Python (RFC 8032 §5.1) with the strict rule of SPEC §3.4
# --------------------------------------------------------------------------

P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493
D = (-121665 * pow(121666, P - 2, P)) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)
IDENTITY = (0, 1, 1, 0)


def _inv(x: int) -> int:
    return pow(x, P - 2, P)


def pt_add(p1, p2):
    # RFC 8032 §5.1.4, extended homogeneous coordinates (a = -1), complete.
    x1, y1, z1, t1 = p1
    x2, y2, z2, t2 = p2
    a = (y1 - x1) * (y2 - x2) % P
    b = (y1 + x1) * (y2 + x2) % P
    c = 2 * t1 * t2 * D % P
    d = 2 * z1 * z2 % P
    e, f, g, h = b - a, d - c, d + c, b + a
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def pt_double(p1):
    # RFC 8032 §5.1.4 doubling.
    x1, y1, z1, _ = p1
    a = x1 * x1 % P
    b = y1 * y1 % P
    c = 2 * z1 * z1 % P
    h = a + b
    e = h - (x1 + y1) * (x1 + y1)
    g = a - b
    f = c + g
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def pt_mul(s: int, pt):
    q = IDENTITY
    for i in range(s.bit_length() - 1, -1, -1):
        q = pt_double(q)
        if (s >> i) & 1:
            q = pt_add(q, pt)
    return q


def pt_equal(p1, p2) -> bool:
    return (p1[0] * p2[2] - p2[0] * p1[2]) % P == 0 and (p1[1] * p2[2] - p2[1] * p1[2]) % P == 0


def pt_is_identity(p1) -> bool:
    return p1[0] % P == 0 and (p1[1] - p1[2]) % P == 0


def _recover_x(y: int, sign: int):
    """RFC 8032 §5.1.3 steps 2-4. Returns (x, None) or (None, reason)."""
    u = (y * y - 1) % P
    v = (D * y * y + 1) % P
    x2 = u * _inv(v) % P
    x = pow(x2, (P + 3) // 8, P)
    if (x * x - x2) % P != 0:
        x = x * SQRT_M1 % P
    if (x * x - x2) % P != 0:
        return None, "not a point on the curve"
    if x == 0 and sign == 1:
        return None, "non-canonical encoding (x = 0 with the sign bit set)"
    if x & 1 != sign:
        x = P - x
    return x, None


def pt_decode(b: bytes):
    """Strict RFC 8032 §5.1.3 decoding. Returns (point, None) or (None, reason)."""
    if len(b) != 32:
        return None, f"encoding is {len(b)} bytes, not 32"
    v = int.from_bytes(b, "little")
    sign = v >> 255
    y = v & ((1 << 255) - 1)
    if y >= P:
        return None, "non-canonical encoding (y >= p)"
    x, why = _recover_x(y, sign)
    if x is None:
        return None, why
    return (x, y, 1, x * y % P), None


def pt_encode(pt) -> bytes:
    zi = _inv(pt[2])
    x = pt[0] * zi % P
    y = pt[1] * zi % P
    return (y | ((x & 1) << 255)).to_bytes(32, "little")


def pt_affine_y(pt) -> int:
    return pt[1] * _inv(pt[2]) % P


_BY = 4 * _inv(5) % P
_BX = _recover_x(_BY, 0)[0]
BASE = (_BX, _BY, 1, _BX * _BY % P)


def is_small_order(pt) -> bool:
    # [8]P == identity  <=>  P lies in the torsion subgroup E[8].
    return pt_is_identity(pt_double(pt_double(pt_double(pt))))


def clamp(b: bytes) -> bytes:
    a = bytearray(b[:32])
    a[0] &= 248
    a[31] &= 127
    a[31] |= 64
    return bytes(a)


def ed25519_public(seed: bytes) -> bytes:
    a = int.from_bytes(clamp(sha512(seed)[:32]), "little")
    return pt_encode(pt_mul(a, BASE))


def ed25519_sign(seed: bytes, msg: bytes) -> bytes:
    """RFC 8032 §5.1.6 (used to reproduce deterministic signatures)."""
    h = sha512(seed)
    a = int.from_bytes(clamp(h[:32]), "little")
    pub = pt_encode(pt_mul(a, BASE))
    r = int.from_bytes(sha512(h[32:] + msg), "little") % L
    rb = pt_encode(pt_mul(r, BASE))
    k = int.from_bytes(sha512(rb + pub + msg), "little") % L
    s = (r + k * a) % L
    return rb + s.to_bytes(32, "little")


def ed25519_verify_strict(pub: bytes, msg: bytes, sig: bytes):
    """SPEC §3.4. Returns (ok, reason)."""
    if len(pub) != 32:
        return False, "public key is not 32 bytes"
    if len(sig) != 64:
        return False, "signature is not 64 bytes"
    a_pt, why = pt_decode(pub)
    if a_pt is None:
        return False, "public key A: " + why
    r_pt, why = pt_decode(sig[:32])
    if r_pt is None:
        return False, "R: " + why
    s = int.from_bytes(sig[32:], "little")
    if s >= L:
        return False, "S >= L (non-canonical scalar)"
    if is_small_order(a_pt):
        return False, "public key A is of small order"
    if is_small_order(r_pt):
        return False, "R is of small order"
    k = int.from_bytes(sha512(sig[:32] + pub + msg), "little") % L
    # Cofactorless equation [S]B = R + [k]A.
    if not pt_equal(pt_mul(s, BASE), pt_add(r_pt, pt_mul(k, a_pt))):
        return False, "equation [S]B = R + [k]A does not hold"
    return True, "ok"


def lib_ed25519_public(seed: bytes) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes(
        Encoding.Raw, PublicFormat.Raw
    )


def lib_ed25519_sign(seed: bytes, msg: bytes) -> bytes:
    return Ed25519PrivateKey.from_private_bytes(seed).sign(msg)


def lib_ed25519_verify(pub: bytes, msg: bytes, sig: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(pub).verify(sig, msg)
        return True
    except (InvalidSignature, ValueError):
        return False


# --------------------------------------------------------------------------
# X25519 (RFC 7748 §5), pure Python ladder; cryptography as second opinion
# --------------------------------------------------------------------------


def x25519_py(k: bytes, u: bytes) -> bytes:
    kk = int.from_bytes(clamp(k), "little")
    x1 = (int.from_bytes(u, "little") & ((1 << 255) - 1)) % P
    x2, z2, x3, z3, swap = 1, 0, x1, 1, 0
    for t in range(254, -1, -1):
        kt = (kk >> t) & 1
        swap ^= kt
        if swap:
            x2, x3, z2, z3 = x3, x2, z3, z2
        swap = kt
        a = x2 + z2
        aa = a * a % P
        b = x2 - z2
        bb = b * b % P
        e = aa - bb
        c = x3 + z3
        d = x3 - z3
        da = d * a % P
        cb = c * b % P
        x3 = (da + cb) * (da + cb) % P
        z3 = x1 * (da - cb) * (da - cb) % P
        x2 = aa * bb % P
        z2 = e * (aa + 121665 * e) % P
    if swap:
        x2, x3, z2, z3 = x3, x2, z3, z2
    return (x2 * _inv(z2) % P).to_bytes(32, "little")


def x25519_lib(k: bytes, u: bytes):
    """X25519 through `cryptography`; None when it refuses an all-zero result."""
    try:
        return X25519PrivateKey.from_private_bytes(k).exchange(X25519PublicKey.from_public_bytes(u))
    except ValueError:
        return None


def x25519_lib_public(k: bytes) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return X25519PrivateKey.from_private_bytes(k).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


# --------------------------------------------------------------------------
# HKDF-SHA256 (RFC 5869), pure hmac; cryptography as second opinion
# --------------------------------------------------------------------------


def hkdf_extract(salt: bytes, ikm: bytes) -> bytes:
    return hmac.new(salt if salt else b"\x00" * 32, ikm, hashlib.sha256).digest()


def hkdf_expand(prk: bytes, info: bytes, length: int) -> bytes:
    out, t, i = b"", b"", 1
    while len(out) < length:
        t = hmac.new(prk, t + info + bytes([i]), hashlib.sha256).digest()
        out += t
        i += 1
    return out[:length]


def hkdf_lib(ikm: bytes, salt: bytes, info: bytes, length: int) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(ikm)


# --------------------------------------------------------------------------
# Strict JSON (SPEC §3.3) and JCS (RFC 8785)
# --------------------------------------------------------------------------


class Num:
    """A JSON number, keeping its source token."""

    __slots__ = ("token", "is_int")

    def __init__(self, token: str, is_int: bool):
        self.token = token
        self.is_int = is_int

    def as_float(self) -> float:
        return float(self.token)

    def __repr__(self):
        return f"Num({self.token})"


class JsonReject(Exception):
    def __init__(self, code: str, why: str):
        super().__init__(f"{code}: {why}")
        self.code = code
        self.why = why


def _pairs_hook(pairs):
    obj = {}
    for k, v in pairs:
        if k in obj:
            raise JsonReject("duplicate_member", f"duplicate member name {k!r}")
        obj[k] = v
    return obj


def _reject_constant(name):
    raise JsonReject("malformed_request", f"{name} is not JSON")


def _check_strings(value):
    """Lone surrogates (from \\uD800-style escapes) are not I-JSON."""
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            if any(0xD800 <= ord(ch) <= 0xDFFF for ch in v):
                raise JsonReject("malformed_request", "lone surrogate in a string")
        elif isinstance(v, dict):
            for k, item in v.items():
                stack.append(k)
                stack.append(item)
        elif isinstance(v, list):
            stack.extend(v)


def _check_numbers(value, signed: bool):
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, Num):
            f = v.as_float()
            if f != f or f in (float("inf"), float("-inf")):
                raise JsonReject("malformed_request", f"number {v.token} is not finite")
            if signed:
                if not v.is_int:
                    raise JsonReject("malformed_request", f"number {v.token} in a signed object is not an integer")
                if abs(int(v.token)) > 2**53 - 1:
                    raise JsonReject("malformed_request", f"integer {v.token} outside +-(2^53-1)")
        elif isinstance(v, dict):
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)


def strict_parse(text, signed: bool = False):
    """SPEC §3.3 strict JSON. `text` is a str (as stored in a vector) or bytes.
    Raises JsonReject(code, why). With signed=True also enforces the I-JSON
    integer rule for numbers in signed objects."""
    if isinstance(text, str):
        raw = text.encode("utf-8", "surrogatepass")
    else:
        raw = text
    try:
        decoded = raw.decode("utf-8", "strict")
    except UnicodeDecodeError:
        raise JsonReject("malformed_request", "invalid UTF-8") from None
    if decoded.startswith("\ufeff"):
        raise JsonReject("malformed_request", "byte order mark")
    try:
        value = json.loads(
            decoded,
            object_pairs_hook=_pairs_hook,
            parse_int=lambda t: Num(t, True),
            parse_float=lambda t: Num(t, False),
            parse_constant=_reject_constant,
        )
    except JsonReject:
        raise
    except RecursionError:
        raise JsonReject("malformed_request", "nesting too deep") from None
    except ValueError as e:  # json.JSONDecodeError is a ValueError
        raise JsonReject("malformed_request", f"not JSON: {e}") from None
    _check_strings(value)
    _check_numbers(value, signed)
    return value


def es6_number(f: float) -> str:
    """ECMAScript Number::toString (RFC 8785 §3.2.2.3)."""
    if f != f or f in (float("inf"), float("-inf")):
        raise ValueError("NaN/Infinity cannot be serialised")
    if f == 0:
        return "0"  # covers -0
    sign = "-" if f < 0 else ""
    # repr() gives the shortest digit string that round-trips (as ES requires).
    dec = Decimal(repr(abs(f)))
    _, digits, exp = dec.as_tuple()
    digits = list(digits)
    while len(digits) > 1 and digits[-1] == 0:
        digits.pop()
        exp += 1
    s = "".join(map(str, digits))
    k = len(s)
    n = k + exp  # value = 0.s * 10^n
    if k <= n <= 21:
        out = s + "0" * (n - k)
    elif 0 < n <= 21:
        out = s[:n] + "." + s[n:]
    elif -6 < n <= 0:
        out = "0." + "0" * (-n) + s
    else:
        e = n - 1
        es = ("+" if e >= 0 else "-") + str(abs(e))
        out = (s if k == 1 else s[0] + "." + s[1:]) + "e" + es
    return sign + out


_ESC = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def jcs_string(s: str) -> str:
    out = ['"']
    for ch in s:
        if ch in _ESC:
            out.append(_ESC[ch])
        elif ord(ch) < 0x20:
            out.append("\\u%04x" % ord(ch))
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _utf16_key(s: str) -> bytes:
    return s.encode("utf-16-be", "surrogatepass")


def jcs(value) -> str:
    """RFC 8785 canonical form of a value produced by strict_parse."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, Num):
        return es6_number(value.as_float())
    if isinstance(value, int):  # ints built by this script
        if abs(value) > 2**53 - 1:
            raise ValueError("integer outside the I-JSON range")
        return str(value)
    if isinstance(value, str):
        return jcs_string(value)
    if isinstance(value, list):
        return "[" + ",".join(jcs(v) for v in value) + "]"
    if isinstance(value, dict):
        items = sorted(value.items(), key=lambda kv: _utf16_key(kv[0]))
        return "{" + ",".join(jcs_string(k) + ":" + jcs(v) for k, v in items) + "}"
    raise TypeError(f"cannot canonicalise {type(value).__name__}")


def jcs_bytes(value) -> bytes:
    return jcs(value).encode("utf-8")


# --------------------------------------------------------------------------
# KEZ identifiers (SPEC §2)
# --------------------------------------------------------------------------

HANDLE_RE = re.compile(r"[a-z0-9](?:(?:\.?[a-z0-9_-])*\.?[a-z0-9])?")  # §2.1, used with fullmatch
RESERVED_HANDLES = frozenset(
    "abuse admin administrator all api everyone help hostmaster info kez mail moderator "
    "noreply no-reply null official postmaster root security server staff support system "
    "undefined webmaster www".split()
)
LABEL_RE = re.compile(r"\A[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\Z")
PORT_RE = re.compile(r"\A[1-9][0-9]{0,4}\Z")
KEY_ID_RE = re.compile(r"\Aed25519:[A-Za-z0-9_]{1,32}\Z")
PRIMARY_RE = re.compile(r"\Aed25519:[0-9a-f]{64}\Z")
DEC_RE = re.compile(r"\A(?:0|[1-9][0-9]*)\Z")


def handle_error(h):
    """§2.1: None if `h` is a valid handle, else the error code."""
    if not isinstance(h, str) or len(h) > 32 or not HANDLE_RE.fullmatch(h):
        return "invalid_handle"
    return None


def is_server_name(s) -> bool:
    """§2.2."""
    if not isinstance(s, str) or not s:
        return False
    host, port = s, None
    if ":" in s:
        host, port = s.rsplit(":", 1)
        if not PORT_RE.match(port) or not 1 <= int(port) <= 65535:
            return False
    if not host or len(host) > 253:
        return False
    labels = host.split(".")
    if not all(LABEL_RE.match(label) for label in labels):
        return False
    if ends_in_a_number(labels[-1]):
        return False  # IP literals are not server names (§2.2)
    return True


def ends_in_a_number(last: str) -> bool:
    """WHATWG URL "ends in a number": all ASCII digits, or 0x/0X and zero or more hex digits."""
    if last and all(c in "0123456789" for c in last):
        return True
    if last[:2] in ("0x", "0X"):
        return all(c in "0123456789abcdefABCDEF" for c in last[2:])
    return False


def is_address(a) -> bool:
    """§2.4 <handle>@<server name>."""
    if not isinstance(a, str) or a.count("@") != 1:
        return False
    h, s = a.split("@")
    return handle_error(h) is None and is_server_name(s)


def parse_primary(primary):
    """§2.3. Returns (public key bytes, None) or (None, 'invalid_primary')."""
    if not isinstance(primary, str) or not PRIMARY_RE.match(primary):
        return None, "invalid_primary"
    pub = bytes.fromhex(primary[8:])
    pt, _ = pt_decode(pub)
    if pt is None or is_small_order(pt):
        return None, "invalid_primary"
    return pub, None


def x25519_secret_from_seed(seed: bytes) -> bytes:
    """§6.2: clamp(SHA-512(seed)[0..32])."""
    return clamp(sha512(seed)[:32])


def x25519_public_from_ed25519(pub: bytes) -> bytes:
    """§6.2: u = (1 + y) / (1 - y) mod p of the ed25519 point."""
    pt, why = pt_decode(pub)
    if pt is None:
        raise ValueError(why)
    y = pt_affine_y(pt)
    if y == 1:
        raise ValueError("the identity has no Montgomery u")
    return ((1 + y) * _inv((1 - y) % P) % P).to_bytes(32, "little")


# --------------------------------------------------------------------------
# KEZ operations
# --------------------------------------------------------------------------

KEZ_INFO = b"kez-chat-msg-v1"


def seal_key(my_x_secret: bytes, their_x_public: bytes, nonce: bytes):
    """§6.2 ECDH + HKDF. Returns (key, None) or (None, why). Computed twice:
    by the pure-Python ladder and by `cryptography`; they must agree."""
    shared_py = x25519_py(my_x_secret, their_x_public)
    shared_lib = x25519_lib(my_x_secret, their_x_public)
    if shared_py == bytes(32):
        if shared_lib is not None:
            raise AssertionError("X25519: cryptography and the ladder disagree (all-zero)")
        return None, "all-zero shared secret"
    if shared_lib != shared_py:
        raise AssertionError("X25519: cryptography and the pure-Python ladder disagree")
    key = hkdf_expand(hkdf_extract(nonce, shared_py), KEZ_INFO, 32)
    if key != hkdf_lib(shared_py, nonce, KEZ_INFO, 32):
        raise AssertionError("HKDF: cryptography and the pure-Python HKDF disagree")
    return key, None


def kez_seal(sender_seed: bytes, recipient_pub: bytes, nonce: bytes, plaintext: bytes) -> bytes:
    key, why = seal_key(x25519_secret_from_seed(sender_seed), x25519_public_from_ed25519(recipient_pub), nonce)
    if key is None:
        raise ValueError(why)
    return AESGCM(key).encrypt(nonce, plaintext, None)


def kez_open(recipient_seed: bytes, sender_pub: bytes, nonce: bytes, ciphertext: bytes):
    """Returns (plaintext, None) or (None, error code). §6.6: opening reports
    every failure as decrypt_failed, a nonce that is not 12 bytes and a
    ciphertext shorter than the tag included."""
    if len(nonce) != 12:
        return None, "decrypt_failed"
    if len(ciphertext) < 16:
        return None, "decrypt_failed"
    try:
        their = x25519_public_from_ed25519(sender_pub)
    except ValueError:
        return None, "invalid_primary"
    key, _ = seal_key(x25519_secret_from_seed(recipient_seed), their, nonce)
    if key is None:
        return None, "decrypt_failed"
    try:
        return AESGCM(key).decrypt(nonce, ciphertext, None), None
    except InvalidTag:
        return None, "decrypt_failed"


def check_signature_member(obj: dict, pub: bytes, server_signed: bool = False):
    """§3.1, §3.5, §3.7 steps 3-4. Returns None or an error code."""
    sig = obj.get("signature")
    if not isinstance(sig, dict):
        return "malformed_signature"  # missing or not an object (§3.1)
    if isinstance(sig.get("alg"), str) and sig["alg"] != "ed25519":
        return "unsupported_alg"  # whatever the other members (§3.7 step 3)
    want = {"alg", "key_id", "sig"} if server_signed else {"alg", "sig"}
    if set(sig) != want or not all(isinstance(v, str) for v in sig.values()):
        return "malformed_signature"
    if server_signed and not KEY_ID_RE.match(sig["key_id"]):
        return "malformed_signature"
    if not is_lower_hex(sig["sig"], 64):
        return "malformed_signature"
    ok, _ = ed25519_verify_strict(pub, signing_bytes(obj), bytes.fromhex(sig["sig"]))
    return None if ok else "invalid_signature"


def signing_bytes(obj: dict) -> bytes:
    """§3.2: JCS of the object as received minus its top-level `signature`."""
    return jcs_bytes({k: v for k, v in obj.items() if k != "signature"})


def signing_text_of(obj: dict) -> str:
    return signing_bytes(obj).decode("utf-8")


def _int_member(obj, name):
    v = obj.get(name)
    return isinstance(v, Num) and v.is_int


def check_registration(text: str, server: str, now_ms: int):
    """§4.1, checks 1-9 in the table's order. Returns None (accepted) or an error code."""
    try:
        obj = strict_parse(text, signed=True)  # 1
    except JsonReject as e:
        return e.code
    if not isinstance(obj, dict) or obj.get("type") != "registration":  # 2
        return "malformed_request"
    if not all(isinstance(obj.get(k), str) for k in ("handle", "server", "primary")) or not _int_member(obj, "ts"):
        return "malformed_request"
    err = handle_error(obj["handle"])  # 3
    if err:
        return err
    if obj["handle"] in RESERVED_HANDLES:  # 4
        return "handle_reserved"
    if not is_server_name(obj["server"]):  # 5
        return "invalid_server_name"
    if obj["server"] != server:
        return "wrong_server"
    pub, err = parse_primary(obj["primary"])  # 6
    if err:
        return err
    err = check_signature_member(obj, pub)  # 7, 8
    if err:
        return err
    if abs(now_ms - int(obj["ts"].token)) > 300_000:  # 9
        return "stale_timestamp"
    return None


def check_envelope(text: str, now_ms: int):
    """§6.1 table and §8.1 checks 1-4 and 7-9 (5, 6 and 10-12 need server state).
    Returns (None, message_id) or (error code, None)."""
    if len(text.encode("utf-8", "surrogatepass")) > 262_144:  # 1
        return "payload_too_large", None
    try:
        obj = strict_parse(text, signed=True)  # 2
    except JsonReject as e:
        return e.code, None
    if not isinstance(obj, dict):  # 3: the §6.1 table, member by member, in its order;
        return "malformed_request", None  # a missing or mistyped member is malformed_request (§10)
    if obj.get("type") != "envelope":
        return "malformed_request", None
    if not _int_member(obj, "v"):
        return "malformed_request", None
    pub = None
    for k in ("from", "from_primary", "to"):
        if not isinstance(obj.get(k), str):
            return "malformed_request", None
        if k == "from_primary":
            pub, err = parse_primary(obj[k])
            if err:
                return err, None
        elif not is_address(obj[k]):
            return "invalid_address", None
    if not _int_member(obj, "ts"):
        return "malformed_request", None
    if not is_lower_hex(obj.get("nonce"), 12):
        return "malformed_request", None
    ct = b64_decode_canonical(obj.get("ciphertext"))
    if ct is None or len(ct) < 16:
        return "malformed_request", None
    if int(obj["v"].token) != 1:  # 4
        return "unsupported_version", None
    err = check_signature_member(obj, pub)  # 7, 8
    if err:
        return err, None
    if abs(now_ms - int(obj["ts"].token)) > 300_000:  # 9
        return "stale_timestamp", None
    return None, sha256(jcs_bytes(obj)).hex()


AUTH_KINDS = ("poll", "stream_live", "stream_cursor", "ack", "status")


def auth_string(kind: str, handle: str, cursor, message_id, ts: int) -> str:
    """§7.2-§7.6, exact."""
    if kind == "poll":
        return f"GET\n/v1/inbox/{handle}\nsince={0 if cursor is None else cursor}\n{ts}"
    if kind == "stream_live":
        return f"GET\n/v1/inbox/{handle}/stream\n{ts}"
    if kind == "stream_cursor":
        return f"GET\n/v1/inbox/{handle}/stream\nsince={cursor}\n{ts}"
    if kind == "ack":
        return f"POST\n/v1/inbox/{handle}/ack\nthrough={cursor}\n{ts}"
    if kind == "status":
        return f"GET\n/v1/messages/{message_id}/status\n{ts}"
    raise VectorFormatError(f"unknown auth kind {kind!r}")


def check_credential(kind, handle, cursor, message_id, credential, pub: bytes, now: int):
    """§7.1. Returns (None, ts) or (error code, None)."""
    if credential is None:
        return ("missing_auth" if kind in ("stream_live", "stream_cursor") else "unauthorized"), None
    if not isinstance(credential, str) or credential.count(":") != 1:
        return "unauthorized", None
    ts_s, sig_hex = credential.split(":")
    if not DEC_RE.match(ts_s) or not is_lower_hex(sig_hex, 64):
        return "unauthorized", None
    ts = int(ts_s)
    if abs(now - ts) > 60:
        return "unauthorized", None
    msg = auth_string(kind, handle, cursor, message_id, ts).encode("utf-8")
    ok, _ = ed25519_verify_strict(pub, msg, bytes.fromhex(sig_hex))
    return (None, ts) if ok else ("unauthorized", None)


S2S_PARAMS = ("origin", "destination", "key", "ts", "sig")
S2S_PARAM_RE = re.compile(r'([A-Za-z0-9_-]+)="([^"\\]*)"')


def s2s_string(method, path, origin, destination, key_id, ts, body: bytes) -> str:
    """§9.3, exact."""
    return f"KEZ-S2S-1\n{method}\n{path}\n{origin}\n{destination}\n{key_id}\n{ts}\n{sha256(body).hex()}"


def s2s_header(origin, destination, key_id, ts, sig_hex) -> str:
    """§9.3, the sender's form (parameters in the order shown, no spaces)."""
    return f'KEZ-Server origin="{origin}",destination="{destination}",key="{key_id}",ts="{ts}",sig="{sig_hex}"'


def parse_s2s_header(value):
    """§9.3 receiver rules: any order, optional spaces after commas, unknown
    parameters ignored, a missing or repeated required one refused.
    Returns the five required parameters, or None when malformed."""
    if not isinstance(value, str):
        return None
    if value.startswith("Authorization:"):
        value = value[len("Authorization:"):].lstrip(" ")
    if not value.startswith("KEZ-Server "):
        return None
    rest = value[len("KEZ-Server "):]
    params = {}
    pos = 0
    while True:
        m = S2S_PARAM_RE.match(rest, pos)
        if not m:
            return None
        name, val = m.group(1), m.group(2)
        if name in S2S_PARAMS:
            if name in params:
                return None
            params[name] = val
        pos = m.end()
        if pos == len(rest):
            break
        if rest[pos] != ",":
            return None
        pos += 1
        while pos < len(rest) and rest[pos] == " ":
            pos += 1
    if set(params) != set(S2S_PARAMS):
        return None
    if not DEC_RE.match(params["ts"]) or not is_lower_hex(params["sig"], 64):
        return None
    if not is_server_name(params["origin"]) or not is_server_name(params["destination"]):
        return None
    return params


def check_s2s_request(header, method, path, body: bytes, me: str, origin: str, key_id: str, origin_pub: bytes, now: int):
    """§9.3 checks 1-3, 5, 6 in order, as the receiving server `me` that trusts
    key `key_id` of `origin`. Returns None (accepted) or an error code."""
    params = parse_s2s_header(header)
    if params is None:  # 1
        return "s2s_unauthorized"
    if params["destination"] != me:  # 2
        return "wrong_destination"
    ts = int(params["ts"])
    if abs(now - ts) > 120:  # 3
        return "stale_timestamp"
    if params["origin"] != origin or params["key"] != key_id:  # 5
        return "unknown_key"
    msg = s2s_string(method, path, params["origin"], params["destination"], params["key"], ts, body).encode("utf-8")
    ok, _ = ed25519_verify_strict(origin_pub, msg, bytes.fromhex(params["sig"]))  # 6
    return None if ok else "invalid_signature"


# --------------------------------------------------------------------------
# File checkers
# --------------------------------------------------------------------------


class Report:
    def __init__(self, fname: str):
        self.fname = fname
        self.count = 0
        self.failures: list[tuple[str, str]] = []
        self.notes: list[str] = []

    def fail(self, name: str, why: str):
        self.failures.append((name, why))


def _items(doc, key, rep: Report, required=True):
    arr = doc.get(key)
    if arr is None and not required:
        return []
    if not isinstance(arr, list) or (required and not arr):
        rep.fail("<file>", f"missing or empty array {key!r}")
        return []
    return arr


def _check_envelope_fields(doc, rep: Report):
    for k in ("description", "source"):
        if not isinstance(doc.get(k), str) or not doc[k]:
            rep.fail("<file>", f"top-level {k!r} missing")
    spec = doc.get("spec")
    if not isinstance(spec, list) or not spec or not all(isinstance(s, str) for s in spec):
        rep.fail("<file>", "top-level 'spec' must be a non-empty list of section ids")


def _run_items(rep: Report, items, fn, seen):
    for item in items:
        name = item.get("name") if isinstance(item, dict) else None
        if not isinstance(name, str) or not name:
            rep.fail("<unnamed>", "item without a name")
            continue
        if name in seen:
            rep.fail(name, "duplicate vector name in the file")
        seen.add(name)
        rep.count += 1
        if "valid" in item:
            if not isinstance(item["valid"], bool):
                rep.fail(name, "'valid' is not a boolean")
                continue
            if item["valid"] is False and not isinstance(item.get("error"), str):
                rep.fail(name, "invalid vector without an 'error' code")
                continue
            if item["valid"] is True and "error" in item:
                rep.fail(name, "valid vector carries an 'error'")
                continue
        try:
            why = fn(item)
        except VectorFormatError as e:
            why = f"vector format: {e}"
        except Exception as e:  # a vector that crashes a check fails; it never aborts the run
            why = f"{type(e).__name__}: {e}"
        if why:
            rep.fail(name, why)


def _expect_error(item, got):
    """Common tail for valid/invalid vectors: `got` is None or an error code."""
    if item["valid"]:
        return None if got is None else f"expected valid, checker says {got}"
    if got is None:
        return f"expected {item['error']}, checker accepts it"
    if got != item["error"]:
        return f"expected {item['error']}, checker says {got}"
    return None


# ---- published vectors ----


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

    _run_items(rep, _items(doc, "vectors", rep), one, set())


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

    _run_items(rep, _items(doc, "scalar_mult", rep), sm, seen)
    _run_items(rep, _items(doc, "iterated", rep), it, seen)
    _run_items(rep, _items(doc, "diffie_hellman", rep), dh, seen)


def check_rfc5869(doc, rep):
    def one(v):
        ikm = unhex(v["ikm"], "ikm")
        salt = unhex(v["salt"], "salt")
        info = unhex(v["info"], "info")
        n = v["length"]
        if not is_int(n) or not 0 < n <= 255 * 32:
            raise VectorFormatError("length must be an integer 1..8160")
        prk = unhex(v["prk"], "prk", 32)
        okm = unhex(v["okm"], "okm", n)
        if hkdf_extract(salt, ikm) != prk:
            return "PRK differs (hmac)"
        if hkdf_expand(prk, info, n) != okm:
            return "OKM differs (hmac)"
        if hkdf_lib(ikm, salt if salt else None, info, n) != okm:
            return "OKM differs (cryptography)"
        return None

    _run_items(rep, _items(doc, "vectors", rep), one, set())


def check_rfc8785(doc, rep):
    def one(v):
        text = v["input_text"]
        if not isinstance(text, str):
            raise VectorFormatError("input_text must be a string")
        valid = v.get("valid", True)
        try:
            value = strict_parse(text)
        except JsonReject as e:
            if valid:
                return f"strict parser rejects a valid input: {e}"
            return None if e.code == v["error"] else f"expected {v['error']}, checker says {e.code} ({e.why})"
        if not valid:
            return f"expected {v['error']}, checker accepts it"
        m = re.fullmatch(r"rfc8785-B-([0-9a-f]{16})", v["name"])
        if m:  # Appendix B items are named by the IEEE-754 bits of their number
            if not (isinstance(value, dict) and list(value) == ["n"] and isinstance(value["n"], Num)):
                raise VectorFormatError('Appendix B items are {"n": <number>}')
            if struct.pack(">d", value["n"].as_float()).hex() != m.group(1):
                return "the number does not parse to the IEEE-754 value in the name"
        canon = jcs(value)
        if canon != v["canonical_text"]:
            return f"JCS differs: got {canon!r:.200}"
        if jcs(strict_parse(canon)) != canon:
            return "JCS is not idempotent on the canonical text"
        return None

    _run_items(rep, _items(doc, "vectors", rep), one, set())


def check_aes256gcm(doc, rep):
    nvalid = ninvalid = 0

    def one(v):
        nonlocal nvalid, ninvalid
        key = unhex(v["key"], "key", 32)
        iv = unhex(v["iv"], "iv", 12)
        aad = unhex(v["aad"], "aad")
        msg = unhex(v["msg"], "msg")
        ct = unhex(v["ct"], "ct")
        tag = unhex(v["tag"], "tag")
        if v["valid"]:
            nvalid += 1
            if len(tag) != 16:
                return "valid vector with a tag that is not 16 bytes"
            if AESGCM(key).encrypt(iv, msg, aad) != ct + tag:
                return "encryption gives a different ciphertext||tag"
            if AESGCM(key).decrypt(iv, ct + tag, aad) != msg:
                return "decryption gives a different plaintext"
            return None
        ninvalid += 1
        # The invalid cases are modified or truncated tags on a correct encryption: the
        # ciphertext must be the true one, the tag must not be (or be a truncation of it).
        true = AESGCM(key).encrypt(iv, msg, aad)
        if true[: len(ct)] != ct or len(true) != len(ct) + 16:
            return "ct is not the encryption of msg (only the tag may be modified)"
        if tag == true[len(ct):]:
            return "tag is the correct tag, yet the vector says invalid"
        if len(tag) < 16 and tag != true[len(ct):len(ct) + len(tag)]:
            return "a short tag must be a truncation of the correct tag"
        # KEZ (§6.1) takes exactly 16-byte tags: anything else is refused outright.
        if len(tag) != 16:
            got = "decrypt_failed"
        else:
            try:
                AESGCM(key).decrypt(iv, ct + tag, aad)
                got = None
            except InvalidTag:
                got = "decrypt_failed"
        return _expect_error(v, got)

    _run_items(rep, _items(doc, "vectors", rep), one, set())
    if nvalid < 4 or ninvalid < 2:
        rep.fail("<file>", f"needs >= 4 valid and >= 2 invalid vectors (has {nvalid}/{ninvalid})")


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

    _run_items(rep, _items(doc, "vectors", rep), one, set())


# ---- KEZ vectors ----


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

    _run_items(rep, _items(doc, "identities", rep), ident, seen)
    _run_items(rep, _items(doc, "invalid_primaries", rep), bad, seen)


def check_kez_server_names(doc, rep):
    seen = set()

    def judged(valid, error, code):
        if not isinstance(valid, bool) or (not valid and not isinstance(error, str)):
            raise VectorFormatError("valid must be a boolean, and an invalid item needs an error")
        if valid:
            return None if code is None else f"checker refuses a valid item ({code})"
        if code is None:
            return f"expected {error}, checker accepts it"
        return None if code == error else f"expected {error}, checker says {code}"

    def name(v):
        ok = is_server_name(v["server_name"])
        return judged(v["valid"], v.get("error"), None if ok else "invalid_server_name")

    def address(v):
        ok = is_address(v["address"])
        return judged(v["valid"], v.get("error"), None if ok else "invalid_address")

    _run_items(rep, _items(doc, "server_names", rep), name, seen)
    _run_items(rep, _items(doc, "addresses", rep), address, seen)


def check_kez_signed_objects(doc, rep):
    def one(v):
        pub = unhex(v["public_key"], "public_key", 32)
        text = v["object_text"]
        try:
            obj = strict_parse(text, signed=True)
        except JsonReject as e:
            got = e.code
            obj = None
        else:
            if not isinstance(obj, dict):
                got = "malformed_request"
            else:
                got = check_signature_member(obj, pub, server_signed=obj.get("type") == "server")
        # "signing_text ... present only when valid or when the failure is the signature"
        if "signing_text" in v:
            if not (v["valid"] or v.get("error") == "invalid_signature"):
                raise VectorFormatError("signing_text present on a vector that does not fail on the signature")
            if not isinstance(obj, dict):
                return f"signing_text given, but the object does not parse ({got})"
            if v["signing_text"] != signing_text_of(obj):
                return "signing_text differs from JCS(object minus signature)"
        elif v["valid"]:
            return "signing_text missing on a valid vector"
        return _expect_error(v, got)

    _run_items(rep, _items(doc, "vectors", rep), one, set())


def check_kez_registration(doc, rep):
    def one(v):
        if not is_int(v["now_ms"]) or not isinstance(v["server"], str):
            raise VectorFormatError("now_ms must be an integer and server a string")
        return _expect_error(v, check_registration(v["object_text"], v["server"], v["now_ms"]))

    _run_items(rep, _items(doc, "vectors", rep), one, set())


def check_kez_envelope(doc, rep):
    def one(v):
        if not is_int(v["now_ms"]):
            raise VectorFormatError("now_ms must be an integer")
        got, mid = check_envelope(v["object_text"], v["now_ms"])
        if v["valid"]:
            if got is not None:
                return f"expected valid, checker says {got}"
            if v.get("message_id") != mid:
                return f"message_id differs: expected {v.get('message_id')}, computed {mid}"
            return None
        if "message_id" in v:
            try:
                obj = strict_parse(v["object_text"])
                if v["message_id"] != sha256(jcs_bytes(obj)).hex():
                    return "message_id differs from SHA-256(JCS(envelope))"
            except JsonReject:
                return "message_id given for an envelope that does not parse"
        return _expect_error(v, got)

    _run_items(rep, _items(doc, "vectors", rep), one, set())


def check_kez_auth(doc, rep):
    def one(v):
        kind = v["kind"]
        if kind not in AUTH_KINDS:
            raise VectorFormatError(f"kind {kind!r}")
        handle = v["handle"]
        cursor = v.get("cursor")
        mid = v.get("message_id")
        if kind in ("stream_cursor", "ack") and not is_int(cursor):
            raise VectorFormatError(f"{kind} needs an integer cursor")
        if kind == "status" and not is_lower_hex(mid, 32):
            raise VectorFormatError("status needs a 64-hex message_id")
        if not is_int(v["ts"]) or not is_int(v["now"]):
            raise VectorFormatError("ts and now are integer seconds")
        pub = unhex(v["public_key"], "public_key", 32)
        expect = auth_string(kind, handle, cursor, mid, v["ts"])
        if v["string_text"] != expect:
            return f"string_text differs from §7: expected {expect!r}"
        got, ts = check_credential(kind, handle, cursor, mid, v.get("credential"), pub, v["now"])
        if v["valid"] and got is None and ts != v["ts"]:
            return "credential ts differs from the vector's ts"
        return _expect_error(v, got)

    _run_items(rep, _items(doc, "vectors", rep), one, set())


def check_kez_seal(doc, rep):
    def one(v):
        sseed = unhex(v["sender_seed"], "sender_seed", 32)
        rseed = unhex(v["recipient_seed"], "recipient_seed", 32)
        rpub, err = parse_primary(v["recipient_primary"])
        if err:
            raise VectorFormatError("recipient_primary is not a valid primary")
        if not isinstance(v["nonce"], str) or not HEX_RE.match(v["nonce"]):
            raise VectorFormatError("nonce must be lowercase hex")
        nonce = bytes.fromhex(v["nonce"])
        plaintext = unhex(v["plaintext"], "plaintext")
        ct = b64_decode_canonical(v["ciphertext_b64"])
        spub = ed25519_public(sseed)
        if v["valid"]:
            if rpub != ed25519_public(rseed):
                return "recipient_primary is not the primary of recipient_seed"
            if ct is None:
                return "ciphertext_b64 is not canonical padded base64"
            if len(nonce) != 12:
                return "valid vector with a nonce that is not 12 bytes"
            if kez_seal(sseed, rpub, nonce, plaintext) != ct:
                return "sealing does not reproduce ciphertext_b64"
            opened, err = kez_open(rseed, spub, nonce, ct)
            if err or opened != plaintext:
                return f"opening fails ({err})"
            return None
        if ct is None:
            got = "malformed_request"
        else:
            _, got = kez_open(rseed, spub, nonce, ct)
        return _expect_error(v, got)

    _run_items(rep, _items(doc, "vectors", rep), one, set())


def check_kez_s2s(doc, rep):
    def one(v):
        seed = unhex(v["server_seed"], "server_seed", 32)
        pub = ed25519_public(seed)
        for k in ("key_id", "method", "path", "origin", "destination", "body_text", "string_text", "header_text"):
            if not isinstance(v.get(k), str):
                raise VectorFormatError(f"{k} must be a string")
        if not is_int(v["ts"]) or not is_int(v["now"]):
            raise VectorFormatError("ts and now are integer seconds")
        if not KEY_ID_RE.match(v["key_id"]):
            raise VectorFormatError("key_id does not follow §2.5")
        body = v["body_text"].encode("utf-8")
        expect = s2s_string(v["method"], v["path"], v["origin"], v["destination"], v["key_id"], v["ts"], body)
        params = parse_s2s_header(v["header_text"])
        same_request = params is not None and (params["origin"], params["destination"], params["ts"]) == (
            v["origin"], v["destination"], str(v["ts"]))
        if (v["valid"] or same_request) and v["string_text"] != expect:
            return f"string_text differs from §9.3: expected {expect!r}"
        if v["valid"]:
            sig = ed25519_sign(seed, expect.encode("utf-8"))
            if sig != lib_ed25519_sign(seed, expect.encode("utf-8")):
                return "pure-Python and cryptography signatures differ"
            want = s2s_header(v["origin"], v["destination"], v["key_id"], v["ts"], sig.hex())
            hdr = v["header_text"]
            if hdr.startswith("Authorization:"):
                hdr = hdr[len("Authorization:"):].lstrip(" ")
            if hdr != want:
                return f"header_text does not reproduce: expected {want!r}"
        got = check_s2s_request(v["header_text"], v["method"], v["path"], body, v["destination"],
                                v["origin"], v["key_id"], pub, v["now"])
        return _expect_error(v, got)

    _run_items(rep, _items(doc, "vectors", rep), one, set())


PUBLISHED = {
    "rfc8032-ed25519.json": check_rfc8032,
    "rfc7748-x25519.json": check_rfc7748,
    "rfc5869-hkdf-sha256.json": check_rfc5869,
    "rfc8785-jcs.json": check_rfc8785,
    "aes256gcm.json": check_aes256gcm,
    "ed25519-strict.json": check_ed25519_strict,
}
KEZ = {
    "kez-identities.json": check_kez_identities,
    "kez-signed-objects.json": check_kez_signed_objects,
    "kez-registration.json": check_kez_registration,
    "kez-envelope.json": check_kez_envelope,
    "kez-auth.json": check_kez_auth,
    "kez-seal.json": check_kez_seal,
    "kez-s2s.json": check_kez_s2s,
    "kez-server-names.json": check_kez_server_names,
}


def self_test():
    """Guards the checker itself against silent breakage (cheap)."""
    assert pt_encode(BASE).hex() == "58" + "66" * 31
    assert is_small_order(pt_decode((1).to_bytes(32, "little"))[0])
    assert not is_small_order(BASE)
    assert pt_is_identity(pt_mul(L, BASE))
    assert es6_number(1e21) == "1e+21" and es6_number(1e-7) == "1e-7" and es6_number(-0.0) == "0"
    assert es6_number(123.0) == "123" and es6_number(0.5) == "0.5"


def main(argv=None) -> int:
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--vectors", default=os.path.join(here, "..", "vectors"), help="directory of vector files")
    ap.add_argument("--allow-missing-kez", action="store_true",
                    help="skip kez-*.json files that do not exist yet (never in CI)")
    args = ap.parse_args(argv)

    self_test()
    vdir = os.path.normpath(args.vectors)
    if not os.path.isdir(vdir):
        print(f"FAIL  vectors directory not found: {vdir}")
        return 1
    present = sorted(f for f in os.listdir(vdir) if f.endswith(".json"))
    failed = False
    checkers = dict(PUBLISHED)
    checkers.update(KEZ)

    for fname in present:
        if fname not in checkers:
            print(f"FAIL  {fname}: no checker for this file (every vector file must be cross-checked)")
            failed = True

    for fname, fn in checkers.items():
        path = os.path.join(vdir, fname)
        if not os.path.exists(path):
            if fname in KEZ and args.allow_missing_kez:
                print(f"SKIP  {fname}: missing (allowed by --allow-missing-kez)")
            else:
                print(f"FAIL  {fname}: MISSING expected vector file")
                failed = True
            continue
        rep = Report(fname)
        try:
            with open(path, "rb") as fh:
                doc = strict_parse(fh.read())
            doc = _plain(doc)
        except JsonReject as e:
            print(f"FAIL  {fname}: not strict JSON ({e})")
            failed = True
            continue
        if not isinstance(doc, dict):
            print(f"FAIL  {fname}: top level is not an object")
            failed = True
            continue
        _check_envelope_fields(doc, rep)
        fn(doc, rep)
        if rep.failures:
            failed = True
            names = ", ".join(n for n, _ in rep.failures)
            print(f"FAIL  {fname}: {len(rep.failures)} of {rep.count} vectors fail: {names}")
            for n, why in rep.failures:
                print(f"        - {n}: {why}")
        else:
            print(f"ok    {fname}: {rep.count} vectors")
    print("FAILED" if failed else "all vector files check")
    return 1 if failed else 0


def _plain(value):
    """Vector files are read strictly; numbers become int (integral tokens) or
    float so the checkers can use them directly."""
    if isinstance(value, Num):
        return int(value.token) if value.is_int else float(value.token)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


if __name__ == "__main__":
    sys.exit(main())
