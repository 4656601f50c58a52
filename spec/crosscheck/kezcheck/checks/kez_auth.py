"""The checks of `spec/vectors/kez-auth.json`."""

from __future__ import annotations

from ..encoding import VectorFormatError, is_int, is_lower_hex, unhex
from ..operations import AUTH_KINDS, auth_string, check_credential
from ..report import expect_error, run_items, vector_items


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
        return expect_error(v, got)

    run_items(rep, vector_items(doc, "vectors", rep), one, set())
