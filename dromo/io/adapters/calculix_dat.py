"""Integration-point values of CalculiX ``*EL PRINT`` blocks in the ``.dat`` file.

A block looks like::

     stresses (elem, integ.pnt.,sxx,syy,szz,sxy,sxz,syz) for set ALL and time  0.2500000E+00

             1   1  1.141933E+02  9.496339E-05 ...

Rows are ``element id, integration point number (1-based, CalculiX order), values``. Each row maps
to dromo's natural integration point (:class:`~dromo.io.adapters.IpIndex`: cell by cell in natural
cell order, point by point in CalculiX's order, which dromo's quadrature follows). Blocks of the same
quantity and time (several ``*EL PRINT`` sets) are merged; at each time every integration point of the
mesh must be given exactly once, or an :class:`~dromo.errors.InputError` names the file and line.
Nodal blocks (``*NODE PRINT``) and element-integrated quantities are skipped.

Fields (checked against ccx 2.20 with a homogeneous shear: the ``.dat`` order is xx, yy, zz, xy, xz,
yz with tensor shear components σ_ij, ε_ij):

=============================  ======  ==================================================
``.dat`` quantity              field   conversion
=============================  ======  ==================================================
stresses                       S       Mandel (shears × √2), order from the header names
strains                        E       Mandel (total strain; ccx prints tensor shears ε_ij)
mechanical strains             ME      Mandel
internal state variables       SDV     as written (SDV1..SDVn)
equivalent plastic strain      PEEQ    as written
other ``(elem, integ.pnt.,…)`` NAME    the quantity's name upper-cased, spaces -> ``_``
=============================  ======  ==================================================
"""
from __future__ import annotations

import os
import re

import numpy as np

from ...errors import InputError
from ...parallel import get_logger
from . import FieldSpec, IpIndex, check_coverage

log = get_logger("dromo.import")

MANDEL = ["xx", "yy", "zz", "xy", "xz", "yz"]
_HEAD = re.compile(rb"^\s*(?P<q>[A-Za-z][^(]*?)\s*\(elem,\s*integ\.\s*pnt\.,?(?P<c>[^)]*)\)\s*for set\s+"
                   rb"(?P<set>\S+)\s+and time\s+(?P<t>\S+)")
_ANY_HEAD = re.compile(rb"^\s*[A-Za-z][^(]*\(.*\)\s*for set\s+\S+\s+and time")
DAT_FIELDS = {"stresses": ("S", "stress at the integration points (Mandel)"),
              "strains": ("E", "total strain at the integration points (Mandel)"),
              "mechanical strains": ("ME", "mechanical strain at the integration points (Mandel)"),
              "internal state variables": ("SDV", "state variables at the integration points"),
              "equivalent plastic strain": ("PEEQ", "equivalent plastic strain")}
_PAIR = {"xx": 0, "yy": 1, "zz": 2, "xy": 3, "yx": 3, "xz": 4, "zx": 4, "yz": 5, "zy": 5}
SQ2 = np.sqrt(2.0)


def _tensor_perm(comps):
    """Header component names (e.g. sxx..syz) -> (perm, scale) to Mandel, or None."""
    if len(comps) != 6:
        return None
    slots = [_PAIR.get(c[-2:].lower()) for c in comps]
    if None in slots or sorted(slots) != list(range(6)):
        return None
    perm = np.empty(6, dtype=np.int64)
    perm[slots] = np.arange(6)
    return perm, np.array([1.0, 1.0, 1.0, SQ2, SQ2, SQ2])


class _Quantity:
    def __init__(self, qname, comps, n_values):
        self.qname = qname
        name, desc = DAT_FIELDS.get(qname, (re.sub(r"\W+", "_", qname).strip("_").upper(),
                                            f".dat *EL PRINT quantity '{qname}'"))
        conv = _tensor_perm(comps)
        if conv is not None:
            self.perm, self.scale = conv
            components = MANDEL
        else:
            self.perm = self.scale = None
            components = comps if len(comps) == n_values else \
                ([f"{name}{i + 1}" for i in range(n_values)] if n_values > 1 else [name])
        self.spec = FieldSpec(name, "ip", list(components), description=desc,
                              attrs={"dat_quantity": qname, "dat_components": list(comps)})
        self.n_values = n_values


class DatFile:
    """Streaming reader of the ``*EL PRINT`` blocks of a ``.dat`` file for one mesh."""

    def __init__(self, path, mesh):
        self.path = os.fspath(path)
        if not os.path.isfile(self.path):
            raise InputError(f"{self.path}: .dat file not found")
        self.mesh = mesh
        self.ips = IpIndex(mesh)
        self.quantities = {}
        # fields from the first time group (later unknown quantities are skipped with a warning)
        first_time = None
        for head, _rows in self._blocks(values=False):
            if first_time is None:
                first_time = head["t"]
            elif head["t"] != first_time:
                break
            self.quantities.setdefault(head["q"], _Quantity(head["q"], head["c"], head["n"]))
        if not self.quantities:
            log.warning("%s: no *EL PRINT integration-point blocks", self.path)

    def fields(self):
        return [q.spec for q in self.quantities.values()]

    # ------------------------------------------------------------------ parsing
    def _blocks(self, values=True):
        """Yield (header dict, (elem, ip, values) or None) per *EL PRINT block, in file order."""
        with open(self.path, "rb") as f:
            no = 0
            pending = None
            while True:
                line = pending if pending is not None else f.readline()
                if pending is None:
                    no += 1
                pending = None
                if not line:
                    return
                m = _HEAD.match(line)
                if m is None:
                    continue
                head_no = no
                q = m.group("q").decode(errors="replace").strip().lower()
                comps = [c.strip() for c in m.group("c").decode(errors="replace").split(",") if c.strip()]
                if comps == ["values"]:
                    comps = []
                try:
                    t = float(m.group("t"))
                except ValueError:
                    raise InputError(f"{self.path}:{no}: bad time {m.group('t')!r}") from None
                lines = []
                first_data = None
                while True:
                    line = f.readline()
                    if not line:
                        break
                    no += 1
                    s = line.strip()
                    if not s:
                        if lines:
                            break
                        continue
                    if _ANY_HEAD.match(line) or not (s[:1].isdigit() or s[:1] == b"-"):
                        pending = line
                        no -= 1
                        break
                    if first_data is None:
                        first_data = no
                    lines.append(s)
                if pending is not None:
                    no += 1
                n_tok = len(lines[0].split()) if lines else 2 + len(comps)
                head = {"q": q, "c": comps, "t": t, "set": m.group("set").decode(), "n": n_tok - 2,
                        "line": head_no}
                if not values:
                    yield head, None
                    continue
                arr = np.fromstring(b" ".join(lines), sep=" ") if lines else np.zeros(0)
                if arr.size != len(lines) * n_tok:
                    for k, l in enumerate(lines):
                        if len(l.split()) != n_tok:
                            raise InputError(f"{self.path}:{first_data + k}: {q}: expected {n_tok} "
                                             f"numbers, got {l[:60]!r} (truncated .dat file?)")
                    raise InputError(f"{self.path}:{first_data}: {q}: unreadable numbers")
                arr = arr.reshape(len(lines), n_tok)
                yield head, (arr[:, 0].astype(np.int64), arr[:, 1].astype(np.int64), arr[:, 2:],
                             first_data)

    def steps(self, select=None):
        """Yield ``(time, {field: (n_ip, C) array})`` per time, merging the blocks of one time."""
        group_t, vals, rows, heads = None, {}, {}, {}
        warned = set()

        def finish():
            for name, r in rows.items():
                r = np.concatenate(r)
                check_coverage(r, self.ips.n, f"{self.path}:{heads[name]}: {name} at time "
                               f"{group_t:g}", "integration point")
            return group_t, dict(vals)

        for head, (elem, ip, v, first) in self._blocks(values=True):
            if group_t is not None and head["t"] != group_t:
                yield finish()
                vals, rows, heads = {}, {}, {}
            group_t = head["t"]
            qty = self.quantities.get(head["q"])
            if qty is None:
                if head["q"] not in warned:
                    log.warning("%s:%d: *EL PRINT quantity %r appears after the first increment; "
                                "skipped", self.path, head["line"], head["q"])
                    warned.add(head["q"])
                continue
            name = qty.spec.name
            if select is not None and name not in select:
                continue
            if v.shape[1] != qty.n_values:
                raise InputError(f"{self.path}:{first}: {head['q']}: {v.shape[1]} values per "
                                 f"point, {qty.n_values} before")
            where = f"{self.path}:{head['line']}: {head['q']} for set {head['set']}"
            r = self.ips(elem, ip, where)
            if qty.perm is not None:
                v = v[:, qty.perm] * qty.scale
            if name not in vals:
                vals[name] = np.full((self.ips.n, qty.spec.n_components), np.nan)
                rows[name], heads[name] = [], head["line"]
            vals[name][r] = v
            rows[name].append(r)
        if group_t is not None and vals:
            yield finish()
