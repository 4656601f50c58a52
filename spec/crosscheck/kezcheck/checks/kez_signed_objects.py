"""The checks of `spec/vectors/kez-signed-objects.json`."""

from __future__ import annotations

from ..encoding import VectorFormatError, unhex
from ..jcs import JsonReject, strict_parse
from ..operations import check_signature_member, signing_text_of
from ..report import expect_error, run_items, vector_items


def check_kez_signed_objects(doc, rep):
    def one(v):
        pub = unhex(v["public_key"], "public_key", 32)
        text = v["object_text"]
        try:
            obj = strict_parse(text, signed=True)
        except JsonReject as e:
            got = e.code
            obj = None
        else:
            if not isinstance(obj, dict):
                got = "malformed_request"
            else:
                got = check_signature_member(obj, pub, server_signed=obj.get("type") == "server")
        # "signing_text ... present only when valid or when the failure is the signature"
        if "signing_text" in v:
            if not (v["valid"] or v.get("error") == "invalid_signature"):
                raise VectorFormatError("signing_text present on a vector that does not fail on the signature")
            if not isinstance(obj, dict):
                return f"signing_text given, but the object does not parse ({got})"
            if v["signing_text"] != signing_text_of(obj):
                return "signing_text differs from JCS(object minus signature)"
        elif v["valid"]:
            return "signing_text missing on a valid vector"
        return expect_error(v, got)

    run_items(rep, vector_items(doc, "vectors", rep), one, set())
