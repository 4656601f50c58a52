"""The checks of `spec/vectors/kez-envelope.json`."""

from __future__ import annotations

from ..encoding import VectorFormatError, is_int, sha256
from ..jcs import JsonReject, jcs_bytes, strict_parse
from ..operations import check_envelope
from ..report import expect_error, run_items, vector_items


def check_kez_envelope(doc, rep):
    def one(v):
        if not is_int(v["now_ms"]):
            raise VectorFormatError("now_ms must be an integer")
        got, mid = check_envelope(v["object_text"], v["now_ms"])
        if v["valid"]:
            if got is not None:
                return f"expected valid, checker says {got}"
            if v.get("message_id") != mid:
                return f"message_id differs: expected {v.get('message_id')}, computed {mid}"
            return None
        if "message_id" in v:
            try:
                obj = strict_parse(v["object_text"])
                if v["message_id"] != sha256(jcs_bytes(obj)).hex():
                    return "message_id differs from SHA-256(JCS(envelope))"
            except JsonReject:
                return "message_id given for an envelope that does not parse"
        return expect_error(v, got)

    run_items(rep, vector_items(doc, "vectors", rep), one, set())
