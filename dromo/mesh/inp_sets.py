"""Sets of an Abaqus/CalculiX deck: ``GENERATE`` ranges of ``*NSET``/``*ELSET`` (:class:`GenerateRange`),
expanded against the ids the deck defines once the whole deck is read (:func:`expand`).
"""
from __future__ import annotations

import numpy as np

from ..errors import InputError
from ..parallel import get_logger

log = get_logger("dromo.mesh")

class GenerateRange:
    """One ``GENERATE`` line of a ``*NSET``/``*ELSET`` (``start, end, step``), expanded by :meth:`ids`
    against the ids that exist (by binary search: a range of 10**12 ids is never allocated)."""
    __slots__ = ("kind", "name", "start", "end", "step", "line")

    def __init__(self, kind, name, start, end, step, line):
        self.kind, self.name, self.line = kind, name, line
        self.start, self.end, self.step = start, end, step

    def ids(self, sorted_ids):
        """The ids of the range that exist in ``sorted_ids`` (ascending), as CalculiX takes them: a
        range over a gap in the numbering keeps the ids defined (one warning naming the line); a range
        naming no defined id at all is an InputError naming the line."""
        a, b, s = self.start, self.end, self.step
        n = (b - a) // s + 1
        lo, hi = np.searchsorted(sorted_ids, a, "left"), np.searchsorted(sorted_ids, b, "right")
        cand = sorted_ids[lo:hi]
        if a < 0:  # offsets may exceed int64: exact integers (ids <= 0 are refused later anyway)
            cand = cand.astype(object)
        if s != 1:
            cand = cand[(cand - a) % s == 0]
        if len(cand) == n:
            return np.asarray(cand, dtype=np.int64)
        expected = a + s * np.arange(len(cand), dtype=cand.dtype)
        wrong = np.flatnonzero(cand != expected)
        self.report(len(cand), int(wrong[0] if wrong.size else len(cand)))
        return np.asarray(cand, dtype=np.int64)

    @property
    def size(self):
        """Number of ids in the range."""
        return (self.end - self.start) // self.step + 1

    def members(self, keys):
        """(k,) bool: which of ``keys`` (int64, any order) lie in the range."""
        keys = np.asarray(keys, dtype=np.int64)
        inside = (keys >= self.start) & (keys <= self.end)
        if self.step != 1:
            sub = keys[inside]
            if self.start < 0:            # offsets may exceed int64: exact integers
                sub = sub.astype(object)
            inside[inside] = np.asarray((sub - self.start) % self.step == 0, dtype=bool)
        return inside

    def report(self, n_defined, missing_index):
        """The range names undefined ids (``n_defined`` of its :attr:`size` exist, the first missing one is
        ``start + step * missing_index``): an InputError naming the line when none exists, else one
        warning (CalculiX takes the defined ones)."""
        a, b, s = self.start, self.end, self.step
        noun = "node" if self.kind == "NSET" else "element"
        what = (f"{self.line.where()}: *{self.kind} {self.name}: GENERATE {a}, {b}, {s} names "
                f"undefined {noun} {a + s * missing_index} ({self.size} ids in the range, {n_defined} of them "
                f"defined)")
        if not n_defined:
            raise InputError(what)
        log.warning("%s: the set takes the %d defined %ss, as CalculiX does", what, n_defined, noun)


def expand(parts, sorted_ids):
    """The ids of a set's parts (arrays and GENERATE ranges) in order."""
    out = [p.ids(sorted_ids) if isinstance(p, GenerateRange) else p for p in parts]
    return np.concatenate(out) if out else np.empty(0, np.int64)


