"""Ed25519, pure Python (RFC 8032 §5.1) with the strict rule of SPEC §3.4, and `cryptography`
as a second opinion.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .encoding import sha512


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
