"""The checks of `spec/vectors/kez-deletion.json`."""

from __future__ import annotations

from ..encoding import VectorFormatError, is_int
from ..operations import check_deletion
from ..report import expect_error, run_items, vector_items


def check_kez_deletion(doc, rep):
    def one(v):
        if not is_int(v["now_ms"]) or not isinstance(v["server"], str):
            raise VectorFormatError("now_ms must be an integer and server a string")
        return expect_error(v, check_deletion(v["object_text"], v["server"], v["now_ms"]))

    run_items(rep, vector_items(doc, "vectors", rep), one, set())
