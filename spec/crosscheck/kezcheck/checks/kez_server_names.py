"""The checks of `spec/vectors/kez-server-names.json`."""

from __future__ import annotations

from ..encoding import VectorFormatError
from ..identifiers import is_address, is_server_name
from ..report import run_items, vector_items


def check_kez_server_names(doc, rep):
    seen = set()

    def judged(valid, error, code):
        if not isinstance(valid, bool) or (not valid and not isinstance(error, str)):
            raise VectorFormatError("valid must be a boolean, and an invalid item needs an error")
        if valid:
            return None if code is None else f"checker refuses a valid item ({code})"
        if code is None:
            return f"expected {error}, checker accepts it"
        return None if code == error else f"expected {error}, checker says {code}"

    def name(v):
        ok = is_server_name(v["server_name"])
        return judged(v["valid"], v.get("error"), None if ok else "invalid_server_name")

    def address(v):
        ok = is_address(v["address"])
        return judged(v["valid"], v.get("error"), None if ok else "invalid_address")

    run_items(rep, vector_items(doc, "server_names", rep), name, seen)
    run_items(rep, vector_items(doc, "addresses", rep), address, seen)
