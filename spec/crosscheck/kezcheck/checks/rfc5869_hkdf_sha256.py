"""The checks of `spec/vectors/rfc5869-hkdf-sha256.json`."""

from __future__ import annotations

from ..encoding import VectorFormatError, is_int, unhex
from ..hkdf import hkdf_expand, hkdf_extract, hkdf_lib
from ..report import run_items, vector_items


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

    run_items(rep, vector_items(doc, "vectors", rep), one, set())
