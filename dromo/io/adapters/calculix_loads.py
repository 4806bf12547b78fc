"""Load histories of a CalculiX deck in total time, and the case tables that reproduce them
(:mod:`.calculix_case` reads the cards; :class:`LoadTables` turns them into ``[[displacement]]``,
``[[pressure]]``, ``[[gravity]]``, ``[centrifugal]``, ``[temperature]`` and ``[amplitudes]``).

Dromo amplitudes are piecewise-linear in *total* time and
held constant beyond their ends, as CalculiX's are.  A load's magnitude in total time t is built
step by step, as CalculiX applies it in quasi-static steps: defined in a step with ``AMPLITUDE=A``
it is value · A(τ), τ the step time (``TIME=STEP TIME``, the default: τ = t − step start) or the
total time (``TIME=TOTAL TIME``); defined without amplitude it ramps linearly over the step from
its value at the step start to the new value; not redefined, it keeps its definition (a load
without amplitude stays at its value).  The case keeps the deck's amplitude name and table when
that is exact (one definition in the first step, and one step or a total-time amplitude), uses a
``RAMP`` table [[0, 0], [end of step 1, 1]] for a load ramped in the first step, and otherwise
writes the load's own table (named after the load, normalized by its largest magnitude, which
becomes the value).  A jump at a step start is written as a change over 1e-6 of the step period.
So the online case of another amplitude is this file with its amplitude table changed.
"""
import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional

import numpy as np

__all__ = ["Amplitude", "Setting", "Step", "LoadTables", "XYZ"]

JUMP = 1e-6          # a jump at a step start is spread over JUMP × the step period
XYZ = "xyz"


@dataclass
class Amplitude:
    """A tabular ``*AMPLITUDE``: ``times`` (step or total time), ``values``."""
    name: str
    times: np.ndarray
    values: np.ndarray
    total_time: bool
    card: object

    def at(self, tau):
        return np.interp(tau, self.times, self.values)


@dataclass
class Setting:
    """A load value defined by one card (``amp`` None: ramped over its step)."""
    value: float
    amp: Optional[Amplitude]
    card: object


@dataclass
class Step:
    """A ``*STEP`` and its procedure; ``settings``: [(channel key, Setting)] of its load cards."""
    card: object
    procedure: str = ""
    dt: float = 1.0
    period: float = 1.0
    dt_min: Optional[float] = None
    dt_max: Optional[float] = None
    direct: bool = False
    t0: float = 0.0
    settings: List[tuple] = field(default_factory=list)
    cleared: dict = field(default_factory=dict)        # load kind -> its OP=NEW card in this step

    @property
    def t1(self):
        return self.t0 + self.period


def _name(s):
    """A name for a generated amplitude or set: upper-case letters, digits, underscores."""
    return re.sub(r"[^A-Za-z0-9_]", "_", str(s)).upper()


class LoadTables:
    """Load histories in total time (see the module docstring) and their case tables."""

    def __init__(self, tr):
        self.tr, self.steps, self.notes = tr, tr.steps, tr.notes
        self.amplitudes: Dict[str, list] = {}
        self._tables: Dict[tuple, str] = {}
        self.nsets: Dict[str, list] = {}
        self.surfaces: Dict[str, list] = {}
        self._taken = set(tr.mesh.node_sets) | set(tr.mesh.element_sets) | set(tr.mesh.facet_sets)
        self._channels = None

    # ------------------------------------------------------------------ histories
    def channels(self):
        """{key: {step index (-1 model): Setting}} in first-definition order; OP=NEW zeroes a kind."""
        if self._channels is None:
            self._channels = self._collect()
        return self._channels

    def _collect(self):
        out: Dict[tuple, dict] = {}
        for k, st in [(-1, self.tr.model)] + list(enumerate(self.steps)):
            for kind, card in st.cleared.items():
                released = [per for key, per in out.items() if key[0] == kind and k not in per]
                if kind == "U" and released:
                    self.notes.untranslated(card, "OP=NEW releases earlier boundary conditions: not "
                                                  "translated (they are kept)")
                    continue
                for per in released:                     # loads removed: ramped down to zero
                    per[k] = Setting(0.0, None, card)
            for key, s in st.settings:
                out.setdefault(key, {})[k] = s
        return out

    def history(self, per, initial=0.0):
        """[(t, m)] of a channel: its magnitude at the start and end of every step and at the
        amplitude table points in between."""
        pts = [(0.0, per[-1].value if -1 in per else initial)]
        current = per.get(-1)
        for k, st in enumerate(self.steps):
            s = per.get(k)
            if s is not None:
                seg = self._segment(s, st, pts[-1][1])
                current = s
            elif current is not None:
                seg = self._segment(current, st, None)
            else:
                seg = [(st.t0, pts[-1][1]), (st.t1, pts[-1][1])]
            self._append(pts, seg, st)
        return pts

    @staticmethod
    def _segment(s, st, ramp_from):
        if s.amp is None:
            return [(st.t0, s.value if ramp_from is None else ramp_from), (st.t1, s.value)]
        shift = 0.0 if s.amp.total_time else st.t0
        inner = s.amp.times + shift
        ts = np.concatenate([[st.t0], inner[(inner > st.t0) & (inner < st.t1)], [st.t1]])
        return list(zip(ts.tolist(), (s.value * s.amp.at(ts - shift)).tolist()))

    @staticmethod
    def _append(pts, seg, st):
        t0, m0 = seg[0]
        if abs(m0 - pts[-1][1]) > 1e-12 * max(abs(m0), abs(pts[-1][1])):
            if t0 == 0.0:
                pts[-1] = (t0, m0)               # the value at t = 0 is never used by an increment
            else:
                pts.append((t0 + JUMP * st.period, m0))
        pts.extend(p for p in seg[1:])

    # ------------------------------------------------------------------ emission
    def emit(self, key, per, initial=0.0):
        """(value, amplitude name or None) of a channel (rules in the module docstring)."""
        pts = self.history(per, initial)
        m = np.array([p[1] for p in pts])
        if not m.any():
            return 0.0, None
        k, s = next(iter(per.items()))
        single = len(per) == 1 and initial == 0.0
        if single and k in (-1, 0) and s.amp is not None and (len(self.steps) == 1 or s.amp.total_time):
            self.amplitudes[s.amp.name] = np.column_stack([s.amp.times, s.amp.values]).tolist()
            return s.value, s.amp.name                   # the deck's own amplitude, kept by name
        if np.all(m == m[0]):
            return float(m[0]), None
        if single and k == 0 and s.amp is None:
            return s.value, self._table("RAMP", [(0.0, 0.0), (self.steps[0].t1, 1.0)])
        scale = float(np.abs(m).max())
        return scale, self._table(_channel_name(key), [(t, v / scale) for t, v in pts])

    def _table(self, name, pts):
        rows = tuple((float(t), float(a)) for t, a in pts)
        if rows not in self._tables:
            base, k = name, 1
            while name in self.amplitudes or name.upper() in self.tr.amps:
                k += 1
                name = f"{base}_{k}"
            self._tables[rows] = name
            self.amplitudes[name] = [list(r) for r in rows]
        return self._tables[rows]

    def _fresh(self, name):
        base, k = name, 1
        while name in self._taken:
            k += 1
            name = f"{base}_{k}"
        self._taken.add(name)
        return name

    def build(self):
        out = {"amplitudes": self.amplitudes}
        groups: Dict[str, Dict[tuple, list]] = {"U": {}, "P": {}}
        displacement, pressure, gravity, centrifugal = [], [], [], []
        for key, per in self.channels().items():
            kind = key[0]
            if kind == "T":
                continue
            value, amp = self.emit(key, per)
            if kind in ("U", "P"):
                target, sub = key[1], key[2]
                groups[kind].setdefault((sub, value, amp), []).append(target)
            elif kind == "GRAV":
                gravity.append(_with_amp({"acceleration": [value * c for c in key[1]]}, amp))
            elif kind == "CENTRIF":
                p = key[1]
                centrifugal.append(_with_amp({"omega": float(np.sqrt(value)), "axis_point": list(p[:3]),
                                              "axis_direction": list(p[3:6])}, amp))
        for (comp, value, amp), targets in groups["U"].items():
            for name in self._node_sets(comp, targets):
                displacement.append(_with_amp({"set": name, XYZ[comp]: value}, amp))
        for (face, value, amp), targets in groups["P"].items():
            for name in self._surfaces(face, targets):
                pressure.append(_with_amp({"set": name, "value": value}, amp))
        for name, items in (("displacement", displacement), ("pressure", pressure),
                            ("gravity", gravity)):
            if items:
                out[name] = items
        if len(centrifugal) > 1:
            self.notes.general(self.tr.deck.path, "several CENTRIF loads: dromo's case has one "
                                                  "[centrifugal] table; the first is kept")
        if centrifugal:
            out["centrifugal"] = centrifugal[0]
        temperature = self._temperature()
        if temperature:
            out["temperature"] = temperature
        if not self.amplitudes:
            del out["amplitudes"]
        return out

    def _temperature(self):
        per = self.channels().get(("T",))
        T0 = self.tr.T0
        if per is None:
            return {"value": T0} if T0 is not None else None
        value, amp = self.emit(("T",), per, initial=0.0 if T0 is None else T0)
        return _with_amp({"value": value}, amp)

    def _node_sets(self, comp, targets):
        """Set names for the targets of one (component, value, amplitude): node sets as they are,
        single nodes gathered into one new set of the wrapper deck."""
        names = [ref for kind, ref in targets if kind == "nset"]
        nodes = [ref for kind, ref in targets if kind == "node"]
        if nodes:
            name = self._fresh(f"BC_{XYZ[comp].upper()}_1")
            self.nsets[name] = nodes
            names.append(name)
        return names

    def _surfaces(self, face, targets):
        """Facet-set names for pressure targets: ``*DSLOAD`` surfaces as they are, element faces
        (``*DLOAD`` Pn) gathered into one new surface of the wrapper deck."""
        names = [ref for kind, ref in targets if kind == "surface"]
        items = [(ref, face) for kind, ref in targets if kind != "surface"]
        if items:
            single = len(items) == 1 and isinstance(items[0][0], str)
            name = self._fresh(f"{items[0][0]}_S{face}" if single else "DLOAD_1")
            self.surfaces[name] = items
            names.append(name)
        return names

    def extra_mesh(self):
        """The cards of the wrapper deck after its ``*INCLUDE`` (None when no set is needed)."""
        if not self.nsets and not self.surfaces:
            return None
        lines = []
        for name, nodes in self.nsets.items():
            lines.append(f"*NSET, NSET={name}")
            lines += [",".join(map(str, nodes[i:i + 16])) for i in range(0, len(nodes), 16)]
        for name, items in self.surfaces.items():
            lines.append(f"*SURFACE, NAME={name}, TYPE=ELEMENT")
            lines += [f"{ref}, S{face}" for ref, face in items]
        return "\n".join(lines) + "\n"


def _channel_name(key):
    """Amplitude name of a load's own table: ``UX_XMAX``, ``P_LAST_S2``, ``GRAV``, ``CENTRIF``, ``T``."""
    kind = key[0]
    if kind == "U":
        return _name(f"U{XYZ[key[2]]}_{key[1][1]}")
    if kind == "P":
        return _name(f"P_{key[1][1]}" + (f"_S{key[2]}" if key[2] else ""))
    return kind


def _with_amp(d, amp):
    if amp is not None:
        d["amplitude"] = amp
    return d
