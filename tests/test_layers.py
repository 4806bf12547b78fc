"""The package's floors (README, Layout): a package imports only from the floors below it.

    cli → uq → rom → {hf, reduction} → {io, fem} → {mesh, materials} → parallel → (top-level modules)

``hf`` and ``reduction`` never import each other; ``io`` and ``fem`` never import each other. The check
reads every ``from .. import`` of the package (also the ones inside functions)."""
import ast
import os

import dromo

PKG = os.path.dirname(dromo.__file__)
FLOOR = {"cli": 6, "uq": 5, "rom": 4, "hf": 3, "reduction": 3, "io": 2, "fem": 2, "mesh": 1, "materials": 1, "parallel": 0}


def _imports():
    for root, _dirs, files in os.walk(PKG):
        rel = os.path.relpath(root, PKG).split(os.sep)
        if rel[0] not in FLOOR:
            continue
        for f in files:
            if f.endswith(".py"):
                path = os.path.join(root, f)
                tree = ast.parse(open(path).read(), path)
                for node in ast.walk(tree):
                    if isinstance(node, ast.ImportFrom) and node.level >= 2:
                        up = rel[:len(rel) - (node.level - 1)]
                        target = (up + (node.module or "").split("."))[0] if up else (node.module or "").split(".")[0]
                        yield rel[0], target, os.path.relpath(path, PKG), node.lineno
                    elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("dromo."):
                        yield rel[0], node.module.split(".")[1], os.path.relpath(path, PKG), node.lineno


def test_packages_import_only_from_the_floors_below():
    bad = [f"{path}:{line}: {pkg} imports {target}" for pkg, target, path, line in _imports()
           if target in FLOOR and target != pkg and FLOOR[target] >= FLOOR[pkg]]
    assert not bad, "\n".join(bad)
