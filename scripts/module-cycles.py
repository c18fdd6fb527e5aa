#!/usr/bin/env python3
"""Fails when the modules of a crate import each other in a circle.

Usage: module-cycles.py CRATE/src

A module is a file directly under src/ (or a folder there: src/x/… is module x); lib.rs is the
crate root. An edge m -> n is a `crate::n` reference in m's code (a path, or a name in a
`use crate::{n, …}` group); comments and string literals do not count. A reference to an item of
the root itself (`crate::SOME_CONST`) is an edge to lib, which declares every module, so a
module that uses the root is in a circle with it.

Prints each circle and exits 1; otherwise prints the modules in an order where each depends
only on those before it, and exits 0.
"""

import re
import sys
from pathlib import Path

CHAR = re.compile(r"'(?:\\.|[^'\\\n])'")
STRING = re.compile(r'"(?:\\.|[^"\\])*"', re.S)
LINE_COMMENT = re.compile(r"//[^\n]*")
BLOCK_COMMENT = re.compile(r"/\*.*?\*/", re.S)
PATH = re.compile(r"(?<![\w$])crate::([A-Za-z_]\w*)")
GROUP = re.compile(r"(?<![\w$])crate::\{")


def code_of(text):
    for pattern in (CHAR, STRING, BLOCK_COMMENT, LINE_COMMENT):
        text = pattern.sub(" ", text)
    return text


def group_heads(code, start):
    """The first name of each top-level item of the `{…}` group opening at `start`."""
    depth, item, heads = 0, "", []
    for c in code[start:]:
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
    names = (re.match(r"\s*([A-Za-z_]\w*)", h) for h in heads)
    return [m.group(1) for m in names if m]


def modules(src):
    found = {}
    for path in sorted(src.rglob("*.rs")):
        rel = path.relative_to(src)
        name = rel.parts[0].removesuffix(".rs")
        if name in ("lib", "main"):
            name = "lib"
        found.setdefault(name, []).append(path)
    return found


def edges(src):
    mods = modules(src)
    graph = {m: set() for m in mods}
    for m, paths in mods.items():
        if m == "lib":
            graph[m] = set(mods) - {"lib"}  # the root declares every module
            continue
        for path in paths:
            code = code_of(path.read_text())
            names = PATH.findall(code)
            for g in GROUP.finditer(code):
                names += group_heads(code, g.end() - 1)
            for n in names:
                target = n if n in mods else "lib"
                if target != m:
                    graph[m].add(target)
    return graph


def circles(graph):
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def order(graph):
    done, out = set(), []
    while len(done) < len(graph):
        ready = sorted(m for m in graph if m not in done and graph[m] <= done)
        done.update(ready)
        out.append(ready)
    return out


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    src = Path(sys.argv[1])
    graph = edges(src)
    found = circles(graph)
    if found:
        for c in found:
            inside = {m: sorted(graph[m] & set(c)) for m in c}
            detail = "; ".join(f"{m} -> {', '.join(t)}" for m, t in inside.items())
            print(f"circle among {', '.join(c)}: {detail}")
        sys.exit(1)
    for layer in order(graph):
        print(" ".join(layer))


if __name__ == "__main__":
    main()
