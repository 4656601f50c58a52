#!/usr/bin/env python3
"""Fails if any crate of the workspace has an import circle between sibling modules.

Why: a circle between modules means neither can be read, tested or moved without the other,
and it is how a lower layer (the store) ends up knowing a higher one (HTTP). The rule checked
is the layering one: at every level of a crate's module tree, the sibling modules (with
everything below each) must reference one another without a circle. A module using its own
children, or a child using its parent through `super::`, is not counted: that is nesting, not
layering.

References are read from the source with comments and string literals removed: every path
that starts with `crate::` or `super::` (including `use crate::{a, b::c}` groups). Usage:

    .ci/import_cycles.py [CRATE_DIR ...]   default: every member of the workspace
"""

import re
import sys
import tomllib
from pathlib import Path

IDENT = r"[A-Za-z_][A-Za-z0-9_]*"


def strip(source: str) -> str:
    """Source without comments, string and char literals (so doc links and text don't count)."""
    out = []
    i, n = 0, len(source)
    while i < n:
        c = source[i]
        if source.startswith("//", i):
            j = source.find("\n", i)
            i = n if j < 0 else j
        elif source.startswith("/*", i):
            depth, i = 1, i + 2
            while i < n and depth:
                if source.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif source.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    i += 1
        elif c == "r" and re.match(r'r#*"', source[i:i + 20]) and not re.match(r"[A-Za-z0-9_]", source[i - 1] if i else " "):
            hashes = re.match(r'r(#*)"', source[i:]).group(1)
            end = source.find('"' + hashes, i + 2 + len(hashes))
            i = n if end < 0 else end + 1 + len(hashes)
            out.append('""')
        elif c == '"':
            i += 1
            while i < n and source[i] != '"':
                i += 2 if source[i] == "\\" else 1
            i += 1
            out.append('""')
        elif c == "'" and re.match(r"'(\\.|[^\\'])'", source[i:i + 12]) or re.match(r"'\\u\{[0-9a-fA-F]+\}'", source[i:i + 12]):
            m = re.match(r"'(\\u\{[0-9a-fA-F]+\}|\\.|[^\\'])'", source[i:])
            i += len(m.group(0))
            out.append("' '")
        else:
            out.append(c)
            i += 1
    return "".join(out)


def without_tests(text: str) -> str:
    """Text without `#[cfg(test)] mod … { … }` blocks: a unit test may use any layer."""
    while True:
        m = re.search(r"#\[cfg\(test\)\]\s*(pub(\([^)]*\))?\s+)?mod\s+" + IDENT + r"\s*\{", text)
        if not m:
            return text
        depth, i = 0, m.end() - 1
        while i < len(text):
            if text[i] == "{":
                depth += 1
            elif text[i] == "}":
                depth -= 1
                if depth == 0:
                    break
            i += 1
        text = text[: m.start()] + text[i + 1 :]


def group_heads(text: str, start: int) -> list[str]:
    """First path segments of the items of a `{...}` use-group starting at text[start] == '{'."""
    depth, item, heads = 0, "", []
    for c in text[start:]:
        if c == "{":
            depth += 1
            if depth == 1:
                continue
        elif c == "}":
            depth -= 1
            if depth == 0:
                break
        if depth == 1 and c == ",":
            heads.append(item)
            item = ""
        else:
            item += c
    heads.append(item)
    names = []
    for h in heads:
        m = re.match(r"\s*(" + IDENT + ")", h)
        if m and m.group(1) != "self":
            names.append(m.group(1))
    return names


def module_files(src: Path) -> dict[tuple[str, ...], Path]:
    """Module path (below the crate root) → file, for the files under a crate's src/."""
    modules = {}
    for path in src.rglob("*.rs"):
        parts = list(path.relative_to(src).with_suffix("").parts)
        if parts[-1] == "mod":
            parts.pop()
        if len(parts) == 1 and parts[0] in ("lib", "main"):
            parts = []
        if parts and parts[0] == "bin":
            continue  # binaries are crates of their own
        modules[tuple(parts)] = path
    return modules


def references(module: tuple[str, ...], text: str) -> set[tuple[str, ...]]:
    """Absolute module paths (as long as they can be read) that a module's text refers to."""
    refs = set()
    for m in re.finditer(r"\b(crate|super)((?:::(?:" + IDENT + r"|super))*)::(\{|" + IDENT + ")", text):
        base = [] if m.group(1) == "crate" else list(module[:-1])
        segs = [s for s in m.group(2).split("::") if s]
        for s in segs:
            if s == "super":
                base = base[:-1]
            else:
                base.append(s)
        if m.group(3) == "{":
            for head in group_heads(text, m.end() - 1):
                refs.add(tuple(base + [head]))
        else:
            refs.add(tuple(base + [m.group(3)]))
    return refs


def cycles_in(crate_dir: Path) -> list[str]:
    src = crate_dir / "src"
    if not src.is_dir():
        return []
    modules = module_files(src)
    # Edges between siblings: for a reference from module A to path P, find the deepest common
    # ancestor; the two children of it on each side are the siblings that depend on each other.
    edges: dict[tuple[str, ...], set[tuple[str, ...]]] = {}
    for module, path in modules.items():
        text = without_tests(strip(path.read_text()))
        for ref in references(module, text):
            # The module the reference lands in: the longest prefix that is a module file, or
            # an item of it.
            target = ref
            while target and target not in modules:
                target = target[:-1]
            common = 0
            while common < min(len(module), len(target)) and module[common] == target[common]:
                common += 1
            if common == len(module) or common == len(target):
                continue  # into its own subtree, or up to an ancestor: nesting
            a, b = module[: common + 1], target[: common + 1]
            edges.setdefault(a, set()).add(b)
    return components(edges)


def components(edges: dict[tuple, set[tuple]]) -> list[str]:
    """The strongly connected components with more than one module (Tarjan), each with its
    edges: every one is a circle to break."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            scc = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                scc.append(w)
                if w == v:
                    break
            if len(scc) > 1:
                members = set(scc)
                name = lambda m: "::".join(m)
                inner = sorted(
                    f"{name(a)} → {name(b)}" for a in members for b in edges.get(a, ()) if b in members
                )
                out.append(f"{{{', '.join(sorted(map(name, scc)))}}}: " + "; ".join(inner))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def members(root: Path) -> list[Path]:
    workspace = tomllib.loads((root / "Cargo.toml").read_text())["workspace"]
    return [root / m for m in workspace["members"]]


def main() -> int:
    root = Path(__file__).resolve().parent.parent
    crates = [Path(a) for a in sys.argv[1:]] or members(root)
    failed = False
    for crate in crates:
        for cycle in cycles_in(crate):
            failed = True
            print(f"{crate.name}: {cycle}")
    if failed:
        print("import circles found (see .ci/import_cycles.py for the rule)", file=sys.stderr)
        return 1
    print(f"no import circles in {len(crates)} crates")
    return 0


if __name__ == "__main__":
    sys.exit(main())
