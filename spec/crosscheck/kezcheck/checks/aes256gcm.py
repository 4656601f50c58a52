"""The checks of `spec/vectors/aes256gcm.json`."""

from __future__ import annotations

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..encoding import unhex
from ..report import expect_error, run_items, vector_items


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
        return expect_error(v, got)

    run_items(rep, vector_items(doc, "vectors", rep), one, set())
    if nvalid < 4 or ninvalid < 2:
        rep.fail("<file>", f"needs >= 4 valid and >= 2 invalid vectors (has {nvalid}/{ninvalid})")
