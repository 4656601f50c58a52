"""The checks of `spec/vectors/rfc8785-jcs.json`."""

from __future__ import annotations

import re
import struct

from ..encoding import VectorFormatError
from ..jcs import JsonReject, Num, jcs, strict_parse
from ..report import run_items, vector_items


def check_rfc8785(doc, rep):
    def one(v):
        text = v["input_text"]
        if not isinstance(text, str):
            raise VectorFormatError("input_text must be a string")
        valid = v.get("valid", True)
        try:
            value = strict_parse(text)
        except JsonReject as e:
            if valid:
                return f"strict parser rejects a valid input: {e}"
            return None if e.code == v["error"] else f"expected {v['error']}, checker says {e.code} ({e.why})"
        if not valid:
            return f"expected {v['error']}, checker accepts it"
        m = re.fullmatch(r"rfc8785-B-([0-9a-f]{16})", v["name"])
        if m:  # Appendix B items are named by the IEEE-754 bits of their number
            if not (isinstance(value, dict) and list(value) == ["n"] and isinstance(value["n"], Num)):
                raise VectorFormatError('Appendix B items are {"n": <number>}')
            if struct.pack(">d", value["n"].as_float()).hex() != m.group(1):
                return "the number does not parse to the IEEE-754 value in the name"
        canon = jcs(value)
        if canon != v["canonical_text"]:
            return f"JCS differs: got {canon!r:.200}"
        if jcs(strict_parse(canon)) != canon:
            return "JCS is not idempotent on the canonical text"
        return None

    run_items(rep, vector_items(doc, "vectors", rep), one, set())
