"""KEZ operations written from the SPEC: sealing and opening (§6.2), the signature member
(§3), registrations (§4.1), deletions (§4.7), envelopes (§6.1, §8.1), client credentials (§7) and
server-to-server headers (§9.3).
"""

from __future__ import annotations

import re

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .ed25519 import ed25519_verify_strict
from .encoding import VectorFormatError, b64_decode_canonical, is_lower_hex, sha256
from .hkdf import hkdf_expand, hkdf_extract, hkdf_lib
from .identifiers import DEC_RE, KEY_ID_RE, RESERVED_HANDLES, handle_error, is_address, is_server_name, parse_primary, x25519_public_from_ed25519, x25519_secret_from_seed
from .jcs import JsonReject, Num, jcs_bytes, strict_parse
from .x25519 import x25519_lib, x25519_py


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


def _time_member(obj, name):
    """§4.1 check 2, §6.1: a time is a non-negative integer; a negative one is the wrong type."""
    return _int_member(obj, name) and not obj[name].token.startswith("-")


def _check_account_claim(text: str, server: str, now_ms: int, kind: str, registration: bool):
    """What registrations (§4.1 checks 1-9) and deletions (§4.7 checks 1-8) share: the same
    checks in the same order, the registration's reserved names and server grammar aside.
    Returns None (accepted) or an error code."""
    try:
        obj = strict_parse(text, signed=True)  # 1
    except JsonReject as e:
        return e.code
    if not isinstance(obj, dict) or obj.get("type") != kind:  # 2
        return "malformed_request"
    if not all(isinstance(obj.get(k), str) for k in ("handle", "server", "primary")) or not _time_member(obj, "ts"):
        return "malformed_request"
    err = handle_error(obj["handle"])  # 3
    if err:
        return err
    if registration and obj["handle"] in RESERVED_HANDLES:  # 4 (§4.1 only)
        return "handle_reserved"
    if obj["server"] != server:  # §4.1 check 5, §4.7 check 4: any other value, well formed or not
        return "wrong_server"
    pub, err = parse_primary(obj["primary"])
    if err:
        return err
    err = check_signature_member(obj, pub)
    if err:
        return err
    if abs(now_ms - int(obj["ts"].token)) > 300_000:
        return "stale_timestamp"
    return None


def check_registration(text: str, server: str, now_ms: int):
    """§4.1, checks 1-9 in the table's order. Returns None (accepted) or an error code."""
    return _check_account_claim(text, server, now_ms, "registration", registration=True)


def check_deletion(text: str, server: str, now_ms: int):
    """§4.7, checks 1-8 in the table's order (9 needs the server's users). Returns None
    (accepted) or an error code."""
    return _check_account_claim(text, server, now_ms, "deletion", registration=False)


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
    if not _time_member(obj, "ts"):
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
S2S_PARAM_RE = re.compile(r'[ \t]*([A-Za-z0-9_-]+)[ \t]*=[ \t]*"([^"\\]*)"[ \t]*')


def s2s_string(method, path, origin, destination, key_id, ts, body: bytes) -> str:
    """§9.3, exact."""
    return f"KEZ-S2S-1\n{method}\n{path}\n{origin}\n{destination}\n{key_id}\n{ts}\n{sha256(body).hex()}"


def s2s_header(origin, destination, key_id, ts, sig_hex) -> str:
    """§9.3, the sender's form (parameters in the order shown, no spaces)."""
    return f'KEZ-Server origin="{origin}",destination="{destination}",key="{key_id}",ts="{ts}",sig="{sig_hex}"'


def parse_s2s_header(value):
    """§9.3 receiver rules: the scheme and parameter names in any case (RFC 9110
    §11), any order, optional whitespace around commas and `=`, unknown parameters
    ignored, a missing or repeated required one refused.
    Returns the five required parameters, or None when malformed."""
    if not isinstance(value, str):
        return None
    if value.startswith("Authorization:"):
        value = value[len("Authorization:"):].lstrip(" ")
    scheme, space, rest = value.partition(" ")
    if scheme.lower() != "kez-server" or not space:
        return None
    params = {}
    for part in rest.split(","):
        m = S2S_PARAM_RE.fullmatch(part)
        if not m:
            return None
        name, val = m.group(1).lower(), m.group(2)
        if name in S2S_PARAMS:
            if name in params:
                return None
            params[name] = val
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
