"""What a file check reports, and the shared loop over a file's vectors: names unique, `valid`
and `error` consistent, a crash in a check a failure of that vector, never of the run.
"""

from __future__ import annotations

from .encoding import VectorFormatError


class Report:
    def __init__(self, fname: str):
        self.fname = fname
        self.count = 0
        self.failures: list[tuple[str, str]] = []
        self.notes: list[str] = []

    def fail(self, name: str, why: str):
        self.failures.append((name, why))


def vector_items(doc, key, rep: Report, required=True):
    arr = doc.get(key)
    if arr is None and not required:
        return []
    if not isinstance(arr, list) or (required and not arr):
        rep.fail("<file>", f"missing or empty array {key!r}")
        return []
    return arr


def check_file_fields(doc, rep: Report):
    for k in ("description", "source"):
        if not isinstance(doc.get(k), str) or not doc[k]:
            rep.fail("<file>", f"top-level {k!r} missing")
    spec = doc.get("spec")
    if not isinstance(spec, list) or not spec or not all(isinstance(s, str) for s in spec):
        rep.fail("<file>", "top-level 'spec' must be a non-empty list of section ids")


def run_items(rep: Report, items, fn, seen):
    for item in items:
        name = item.get("name") if isinstance(item, dict) else None
        if not isinstance(name, str) or not name:
            rep.fail("<unnamed>", "item without a name")
            continue
        if name in seen:
            rep.fail(name, "duplicate vector name in the file")
        seen.add(name)
        rep.count += 1
        if "valid" in item:
            if not isinstance(item["valid"], bool):
                rep.fail(name, "'valid' is not a boolean")
                continue
            if item["valid"] is False and not isinstance(item.get("error"), str):
                rep.fail(name, "invalid vector without an 'error' code")
                continue
            if item["valid"] is True and "error" in item:
                rep.fail(name, "valid vector carries an 'error'")
                continue
        try:
            why = fn(item)
        except VectorFormatError as e:
            why = f"vector format: {e}"
        except Exception as e:  # a vector that crashes a check fails; it never aborts the run
            why = f"{type(e).__name__}: {e}"
        if why:
            rep.fail(name, why)


def expect_error(item, got):
    """Common tail for valid/invalid vectors: `got` is None or an error code."""
    if item["valid"]:
        return None if got is None else f"expected valid, checker says {got}"
    if got is None:
        return f"expected {item['error']}, checker accepts it"
    if got != item["error"]:
        return f"expected {item['error']}, checker says {got}"
    return None
