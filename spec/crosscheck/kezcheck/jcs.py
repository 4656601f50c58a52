"""Strict JSON (SPEC §3.3) and JCS (RFC 8785), written from the RFC."""

from __future__ import annotations

import json
from decimal import Decimal

from .encoding import is_int


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
                if v.token == "-0":
                    raise JsonReject("malformed_request", "-0 in a signed object (JCS writes it 0)")
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
