"""Import circles in our packages: the strongly connected components of the module import graph.

    python scripts/import_cycles.py xapi scorm_package

An edge goes from a module to the module an import statement names: ``import a.b.c`` and
``from a.b.c import x`` name ``a.b.c`` (or ``a.b.c.x`` when ``x`` is a submodule);
``from a.b import x`` names ``a.b``'s ``__init__`` unless ``x`` is a submodule. So a circle
through a package ``__init__`` (a module taking a name from its package's ``__init__`` that
imports the module) counts. With ``--strict`` an import from outside a package also depends on
the ``__init__`` of that package (Python runs it first): ``xapi.client`` importing
``xapi.lrs.validation`` then runs ``xapi/lrs/__init__.py`` too. A module inside the package
adds no such edge: its package's ``__init__`` was started before it was loaded.

Imports inside a function or method run when it is called, not at import time: they are
counted in a second graph (module-level plus function-level), reported apart. Imports under
``if TYPE_CHECKING:`` never run and are left out. Exit status 1 if any graph has a circle.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def module_names(packages: Iterable[str]) -> dict[str, Path]:
    modules: dict[str, Path] = {}
    for package in packages:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(node: ast.AST, in_function: bool) -> Iterator[tuple[ast.AST, bool]]:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child):
            for other in child.orelse:
                yield from _imports_in(other, in_function)
            continue
        if isinstance(child, ast.Import | ast.ImportFrom):
            yield child, in_function
        inner = in_function or isinstance(
            child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda
        )
        yield from _imports(child, inner)


def _imports_in(node: ast.AST, in_function: bool) -> Iterator[tuple[ast.AST, bool]]:
    if isinstance(node, ast.Import | ast.ImportFrom):
        yield node, in_function
    yield from _imports(node, in_function)


def _parents(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def edges(
    modules: dict[str, Path], strict: bool
) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """(module-level edges, function-level edges) between the given modules."""
    top: dict[str, set[str]] = {m: set() for m in modules}
    late: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        tree = ast.parse(path.read_text(), filename=str(path))
        for node, in_function in _imports(tree, False):
            targets: set[str] = set()
            if isinstance(node, ast.Import):
                targets = {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = name.split(".")
                    base = base if is_package else base[:-1]
                    base = base[: len(base) - (node.level - 1)]
                    source = ".".join([*base, node.module] if node.module else base)
                else:
                    source = node.module or ""
                for alias in node.names:
                    sub = f"{source}.{alias.name}"
                    targets.add(sub if sub in modules else source)
            if strict:  # a module inside a package was loaded after its __init__ started
                targets |= {
                    p
                    for target in targets
                    for p in _parents(target)
                    if not (name == p or name.startswith(p + "."))
                }
            found = {target for target in targets if target in modules and target != name}
            (late if in_function else top)[name] |= found
    return top, late


def components(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return sorted(found)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("packages", nargs="*", default=["xapi", "scorm_package"])
    parser.add_argument("--strict", action="store_true", help="count parent __init__ files too")
    args = parser.parse_args(argv)
    status = 0
    for package in args.packages:
        modules = module_names([package])
        top, late = edges(modules, args.strict)
        both = {m: top[m] | late[m] for m in modules}
        print(
            f"{package}: {len(modules)} modules, {sum(map(len, top.values()))} module-level and "
            f"{sum(map(len, late.values()))} function-level import edges"
        )
        for label, graph in (("module-level", top), ("module+function-level", both)):
            circles = components(graph)
            print(f"  {label}: {len(circles)} circle(s)")
            for circle in circles:
                print("    " + " <-> ".join(circle))
            status = status or int(bool(circles))
    return status


if __name__ == "__main__":
    sys.exit(main())
