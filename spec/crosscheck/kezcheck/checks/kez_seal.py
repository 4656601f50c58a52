"""The checks of `spec/vectors/kez-seal.json`."""

from __future__ import annotations

from ..ed25519 import ed25519_public
from ..encoding import HEX_RE, VectorFormatError, b64_decode_canonical, unhex
from ..identifiers import parse_primary
from ..operations import kez_open, kez_seal
from ..report import expect_error, run_items, vector_items


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
        return expect_error(v, got)

    run_items(rep, vector_items(doc, "vectors", rep), one, set())
