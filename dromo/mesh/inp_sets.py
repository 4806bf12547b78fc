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
        noun = "node" if self.kind == "NSET" else "element"
        expected = a + s * np.arange(len(cand), dtype=cand.dtype)
        wrong = np.flatnonzero(cand != expected)
        missing = a + s * int(wrong[0] if wrong.size else len(cand))
        what = (f"{self.line.where()}: *{self.kind} {self.name}: GENERATE {a}, {b}, {s} names "
                f"undefined {noun} {missing} ({n} ids in the range, {len(cand)} of them defined)")
        if not len(cand):
            raise InputError(what)
        log.warning("%s: the set takes the %d defined %ss, as CalculiX does", what, len(cand), noun)
        return np.asarray(cand, dtype=np.int64)


def expand(parts, sorted_ids):
    """The ids of a set's parts (arrays and GENERATE ranges) in order."""
    out = [p.ids(sorted_ids) if isinstance(p, GenerateRange) else p for p in parts]
    return np.concatenate(out) if out else np.empty(0, np.int64)


