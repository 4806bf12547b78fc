"""What ``dromo import`` changes in any reader's output: field names and sets chosen by coordinates.

:class:`Adjusted` wraps a :class:`~dromo.io.adapters.ResultReader`:

* ``rename`` ``{written name: archive name}`` (``--field Displacement=U``): the archive keeps dromo's
  names (``dromo pod --field U``), each field's ``source_name`` attribute keeps the written one. A
  written name the reader does not have is an InputError listing the names it has; so is a new name
  that another field already has.
* ``sets`` ``{NAME: EXPR}`` (``--set fixed="x < 1e-9"``): a node set and a boundary facet set per
  expression (:func:`dromo.mesh.select.add_coordinate_sets`, dromo's safe evaluator).

It logs (rank 0, where readers run) one note of the fields found — written name, location, components,
and the archive name when renamed — so a user sees what a file holds before choosing names.
"""
from __future__ import annotations

import dataclasses

from ...errors import InputError
from ...parallel import get_logger
from . import WrappedReader

__all__ = ["Adjusted", "parse_renames"]

log = get_logger("dromo.import")


def parse_renames(items, option="--field"):
    """``["OLD=NEW", ...]`` -> ``{OLD: NEW}``; InputError naming a malformed or repeated item."""
    out = {}
    for item in items or ():
        old, sep, new = (s.strip() for s in item.partition("="))
        if not sep or not old or not new:
            raise InputError(f"{option} {item!r}: expected WRITTEN_NAME=ARCHIVE_NAME (e.g. Displacement=U)")
        if old in out:
            raise InputError(f"{option}: {old!r} renamed twice")
        out[old] = new
    return out


class Adjusted(WrappedReader):
    """``reader`` with renamed fields and added coordinate sets (module docstring)."""

    def __init__(self, reader, rename=None, sets=None):
        super().__init__(reader)
        self.rename = dict(rename or {})
        self.sets = dict(sets or {})

    def __getattr__(self, attr):                 # the reader's own attributes (deck, frd_path ...)
        if attr == "reader":
            raise AttributeError(attr)
        return getattr(self.reader, attr)

    def mesh(self):
        from ...mesh.select import add_coordinate_sets
        return add_coordinate_sets(self.reader.mesh(), self.sets)

    def fields(self):
        specs = list(self.reader.fields())
        names = [s.name for s in specs]
        log.info("%s: fields found: %s", self.source, "; ".join(
            f"{s.name} ({s.location}, {s.n_components} component{'s' if s.n_components > 1 else ''}"
            f"{' -> ' + self.rename[s.name] if s.name in self.rename else ''})" for s in specs) or "none")
        unknown = [n for n in self.rename if n not in names]
        if unknown:
            raise InputError(f"{self.source}: --field {unknown[0]}={self.rename[unknown[0]]}: no field "
                             f"{unknown[0]!r} (fields found: {', '.join(names) or 'none'})")
        out = [dataclasses.replace(s, name=self.rename.get(s.name, s.name),
                                   attrs={**s.attrs, "source_name": s.name}) for s in specs]
        new = [s.name for s in out]
        for n in set(new):
            if new.count(n) > 1:
                was = [s.name for s, o in zip(specs, out) if o.name == n]
                raise InputError(f"{self.source}: fields {was} would all be named {n!r} (--field)")
        return out

    def steps(self):
        for step in self.reader.steps():
            if self.rename:
                step.values = {self.rename.get(k, k): v for k, v in step.values.items()}
            yield step
