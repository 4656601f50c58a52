"""KEZ identifiers (SPEC §2): handles, server names, addresses, primaries, and the X25519 keys
derived from an identity.
"""

from __future__ import annotations

import re

from .ed25519 import P, _inv, clamp, is_small_order, pt_affine_y, pt_decode
from .encoding import sha512


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
