"""The checks of `spec/vectors/kez-s2s.json`."""

from __future__ import annotations

from ..ed25519 import ed25519_public, ed25519_sign, lib_ed25519_sign
from ..encoding import VectorFormatError, is_int, unhex
from ..identifiers import KEY_ID_RE
from ..operations import check_s2s_request, parse_s2s_header, s2s_header, s2s_string
from ..report import expect_error, run_items, vector_items


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
            # The sender's form exactly, or another spelling a receiver must read the same
            # (§9.3: scheme and names in any case, whitespace around commas and `=`).
            if hdr != want and parse_s2s_header(hdr) != parse_s2s_header(want):
                return f"header_text does not reproduce: expected {want!r}"
        got = check_s2s_request(v["header_text"], v["method"], v["path"], body, v["destination"],
                                v["origin"], v["key_id"], pub, v["now"])
        return expect_error(v, got)

    run_items(rep, vector_items(doc, "vectors", rep), one, set())
