"""Built-in cases, generated at run time with gmsh (no mesh files in git).

``CASES``: name -> :class:`BuiltinCase` (``description``, ``write(folder, size) -> case file path``).
Sizes: ``small`` (tests, a few thousand dofs), ``medium`` (benchmarks, about 2e5 dofs), ``large``
(≥ 1e6 dofs). ``dromo case list`` / ``dromo case write NAME DIR --size small``.
"""
from dataclasses import dataclass
from typing import Callable

from ...errors import InputError
from . import blade, holed_plate

SIZES = ("small", "medium", "large")


@dataclass
class BuiltinCase:
    name: str
    description: str
    write: Callable


CASES = {
    "holed_plate": BuiltinCase("holed_plate", holed_plate.DESCRIPTION, holed_plate.write),
    "blade": BuiltinCase("blade", blade.DESCRIPTION, blade.write),
}


def write_case(name, folder, size="small"):
    """Write built-in case ``name`` (mesh + case.toml) into ``folder``; returns the case file path."""
    if name not in CASES:
        raise InputError(f"unknown built-in case {name!r} (cases: {', '.join(sorted(CASES))})")
    if size not in SIZES:
        raise InputError(f"unknown size {size!r} (sizes: {', '.join(SIZES)})")
    return CASES[name].write(folder, size)
