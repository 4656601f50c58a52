"""Small helpers shared by every check: strict hex and base64, integers, digests, and the
error a malformed vector raises.
"""

from __future__ import annotations

import base64
import hashlib
import re


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
