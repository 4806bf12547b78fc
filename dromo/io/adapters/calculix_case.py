"""A CalculiX deck -> the equivalent dromo case file (``dromo case from-calculix DECK.inp -o case.toml``).

The deck is read once by dromo's ``.inp`` parser (:func:`dromo.mesh.inp.read_deck`: the mesh and sets,
and every other card); this module interprets the cards and returns the case as a dict (the format of
:mod:`dromo.hf.case_file`, which this package does not import) with the list of what it could not
translate.  :meth:`CaseTranslation.write` writes the TOML, with a header naming the deck and the
untranslated cards.

Mapping
-------
* **Mesh and sets**: ``[mesh] file`` is the deck itself; dromo reads its ``*NODE``/``*ELEMENT``/
  ``*NSET``/``*ELSET``/``*SURFACE`` cards, set and surface names upper-case.  When the loads need sets
  the deck does not name (``*BOUNDARY`` on single node numbers, ``*DLOAD`` P1..P6 on element faces),
  a small wrapper deck ``CASE.mesh.inp`` is written next to the case: it ``*INCLUDE``\\ s the deck and
  adds those node sets (``BC_X_1`` …) and element surfaces (``ELSET_S2`` or ``DLOAD_1`` …), and
  ``[mesh] file`` points at it.
* **Materials** (referenced by a ``*SOLID SECTION``): :mod:`.calculix_materials`;
  ``*SOLID SECTION, ELSET=E, MATERIAL=M`` -> ``[sections] E = "M"``.
* **Loads** (``*BOUNDARY`` dofs 1-3 on a node set or node -> one ``[[displacement]]`` per set and
  component, fixed dofs with value 0; ``*DLOAD`` P1..P6 and ``*DSLOAD`` P -> ``[[pressure]]`` (same sign:
  positive pushes into the solid); ``*DLOAD`` GRAV -> ``[[gravity]]``; ``*DLOAD`` CENTRIF (ω²) ->
  ``[centrifugal]`` with ω = √(ω²); ``*TEMPERATURE`` / ``*INITIAL CONDITIONS, TYPE=TEMPERATURE`` with
  one value on all nodes -> ``[temperature] value``).  ``*CLOAD`` has no dromo counterpart (dromo has no
  nodal point load) and is reported.
* **Time**: ``*STATIC`` and ``*VISCO`` steps (initial increment, period, minimum, maximum; ``DIRECT``
  -> ``fixed = true``) are chained in total time: ``[time] end`` = sum of the periods, ``dt`` = the
  first step's initial increment, ``dt_max`` = the largest maximum (the period when not given, as
  CalculiX lets increments grow to it), ``dt_min`` = the smallest minimum given.  Other procedures
  (``*FREQUENCY``, ``*DYNAMIC``, ...) are reported and their steps skipped.
* **Amplitudes** (tabular ``*AMPLITUDE``) and the load histories in total time: :mod:`.calculix_loads`.

Anything else is named in :attr:`CaseTranslation.warnings` (``file:line: *CARD: reason``); output
requests and solver controls (``*NODE PRINT``, ``*EL FILE``, ``*CONTROLS``, ...) are ignored.  Bad input
(a section naming an unknown material or set, an undefined amplitude, a malformed card) raises
:class:`~dromo.errors.InputError` naming the deck, the line and the card.
"""
import os
import re
from dataclasses import dataclass
from typing import Dict, List, Optional

import numpy as np

from ...errors import InputError
from ...mesh.inp import read_deck
from .. import toml_text
from .calculix_loads import Amplitude, LoadTables, Setting, Step
from .calculix_materials import PROPERTY_CARDS, MaterialBlock

#: cards with no effect on a dromo case (output requests, solver controls, headings)
IGNORED = {"HEADING", "NODE PRINT", "EL PRINT", "NODE FILE", "EL FILE", "NODE OUTPUT",
           "ELEMENT OUTPUT", "OUTPUT", "CONTACT FILE", "CONTACT PRINT", "CONTACT OUTPUT",
           "SECTION PRINT", "CONTROLS", "TIME POINTS", "RESTART", "PHYSICAL CONSTANTS"}
#: step procedures dromo cannot run (their steps are skipped)
OTHER_PROCEDURES = {"FREQUENCY", "BUCKLE", "DYNAMIC", "HEAT TRANSFER", "MODAL DYNAMIC",
                    "STEADY STATE DYNAMICS", "NO ANALYSIS", "COMPLEX FREQUENCY", "GREEN",
                    "COUPLED TEMPERATURE-DISPLACEMENT", "UNCOUPLED TEMPERATURE-DISPLACEMENT",
                    "ELECTROMAGNETICS", "SENSITIVITY", "CFD", "SUBSTRUCTURE GENERATE"}


class Notes:
    """What could not be translated (warnings, in deck order) and the ignored keywords."""

    def __init__(self):
        self.warnings: List[str] = []
        self.ignored: Dict[str, None] = {}

    def untranslated(self, card, reason, line=None):
        self.warnings.append(f"{card.where(line)}: *{card.keyword}: {reason}")

    def general(self, where, reason):
        self.warnings.append(f"{where}: {reason}")

    def ignore(self, card):
        self.ignored.setdefault(card.keyword, None)


class _Translator:
    """Walks the cards of a deck once, then builds the case dict (see the module docstring)."""

    def __init__(self, deck, umat_library=None):
        self.deck, self.mesh, self.umat_library = deck, deck.mesh, umat_library
        self.notes = Notes()
        self.materials: Dict[str, MaterialBlock] = {}
        self.sections: Dict[str, tuple] = {}            # elset -> (material, card)
        self.amps: Dict[str, Amplitude] = {}
        self.steps: List[Step] = []
        self.model = Step(card=None)                     # model-level settings (before any step)
        self.T0 = None                                   # uniform initial temperature
        self._material = None
        self._step = None
        self._ids = {}                                   # 'node'/'element' -> set of external ids
        self._handlers = {"MATERIAL": self.material, "SOLID SECTION": self.section,
                          "AMPLITUDE": self.amplitude, "STEP": self.step, "STATIC": self.procedure,
                          "VISCO": self.procedure, "END STEP": self.end_step,
                          "BOUNDARY": self.boundary, "CLOAD": self.cload, "DLOAD": self.dload,
                          "DSLOAD": self.dsload, "TEMPERATURE": self.temperature,
                          "INITIAL CONDITIONS": self.initial_conditions}

    # ------------------------------------------------------------------ walk
    def run(self):
        for card in self.deck.cards:
            if self._material is not None and card.keyword in PROPERTY_CARDS:
                self._material.add(card, self.notes)
                continue
            self._material = None
            handler = self._handlers.get(card.keyword)
            if handler is not None:
                handler(card)
            elif card.keyword in OTHER_PROCEDURES and self._step is not None:
                self._step.procedure = card.keyword
                self.notes.untranslated(card, "dromo runs quasi-static steps (*STATIC, *VISCO) only; "
                                              "this step and its loads are skipped")
            elif card.keyword in IGNORED:
                self.notes.ignore(card)
            else:
                self.notes.untranslated(card, "no dromo equivalent")
        if self._step is not None:
            self.end_step(self._step.card)

    def material(self, card):
        block = MaterialBlock(card)
        key = block.name.upper()
        if key in self.materials:
            raise card.error(f"material {block.name!r} defined twice")
        self.materials[key] = self._material = block

    def section(self, card):
        mat = card.options.get("MATERIAL", "").upper()
        elset = card.options.get("ELSET", "").upper()
        if not mat or not elset:
            raise card.error("needs ELSET= and MATERIAL=")
        if elset not in self.mesh.element_sets:
            raise card.error(f"unknown element set {card.options['ELSET']!r}")
        if "ORIENTATION" in card.options:
            self.notes.untranslated(card, "ORIENTATION: dromo's material axes are the global axes")
        self.sections[elset] = (mat, card)

    def amplitude(self, card):
        name = card.options.get("NAME", "")
        if not name:
            raise card.error("missing NAME=")
        definition = card.options.get("DEFINITION", "TABULAR").upper()
        if definition != "TABULAR" or {"SHIFTX", "SHIFTY", "VALUE", "USER"} & set(card.options):
            self.notes.untranslated(card, "dromo reads tabular amplitudes (no DEFINITION other than "
                                          "TABULAR, SHIFTX, SHIFTY, VALUE=, USER); loads using it "
                                          "are translated without it")
            self.amps[name.upper()] = None
            return
        vals = [v for l in card.data for v in card.floats(l) if v is not None]
        if not vals or len(vals) % 2:
            raise card.error(f"amplitude {name!r}: expected time, value pairs, got {len(vals)} numbers")
        t, a = np.array(vals[0::2]), np.array(vals[1::2])
        if (np.diff(t) <= 0).any():
            raise card.error(f"amplitude {name!r}: times must increase")
        total = card.options.get("TIME", "STEP TIME").upper().replace("  ", " ") == "TOTAL TIME"
        self.amps[name.upper()] = Amplitude(name, t, a, total, card)

    # ------------------------------------------------------------------ steps
    def step(self, card):
        if self._step is not None:
            raise card.error("*STEP inside a step (missing *END STEP?)")
        self._step = Step(card)
        if "NLGEOM" in card.options and card.options["NLGEOM"].upper() != "NO":
            self.notes.untranslated(card, "NLGEOM: dromo is small-strain (geometric nonlinearity "
                                          "not translated)")
        if "PERTURBATION" in card.options:
            self.notes.untranslated(card, "PERTURBATION step: skipped")
            self._step.procedure = "PERTURBATION"

    def procedure(self, card):
        st = self._in_step(card)
        st.procedure = card.keyword
        st.direct = "DIRECT" in card.options
        vals = (card.floats(card.data[0]) if card.data else []) + [None] * 4
        dt, period, dt_min, dt_max = vals[:4]
        st.period = 1.0 if period is None else period
        st.dt = st.period if dt is None else min(dt, st.period)
        if st.period <= 0 or st.dt <= 0:
            raise card.error(f"need a positive initial increment and period, got {card.data[0].text!r}")
        st.dt_min, st.dt_max = dt_min, dt_max

    def end_step(self, card):
        st = self._in_step(card)
        self._step = None
        if st.procedure in ("STATIC", "VISCO"):
            st.t0 = self.steps[-1].t1 if self.steps else 0.0
            self.steps.append(st)
        elif not st.procedure:
            self.notes.untranslated(st.card, "step without a procedure card: skipped")

    def _in_step(self, card):
        if self._step is None:
            raise card.error("outside a *STEP")
        return self._step

    def _target_step(self):
        return self._step if self._step is not None else self.model

    def _amp(self, card):
        name = card.options.get("AMPLITUDE")
        if name is None:
            return None
        if name.upper() not in self.amps:
            raise card.error(f"unknown amplitude {name!r} (amplitudes: "
                             f"{', '.join(self.amps) or 'none'})")
        return self.amps[name.upper()]                  # None: not translatable (reported)

    def _op(self, card, *kinds):
        """``OP=NEW`` on a load card in a step: earlier loads of these kinds end in this step."""
        if card.options.get("OP", "MOD").upper() == "NEW" and self._step is not None:
            self._step.cleared.update(dict.fromkeys(kinds, card))

    def _add(self, card, kind, key, value):
        self._target_step().settings.append(((kind,) + key, Setting(value, self._amp(card), card)))

    # ------------------------------------------------------------------ loads
    def _target(self, card, line, tok, kind):
        """('node' or 'element', id) for a number, ('nset' or 'elset', NAME) for a set name; None
        (reported) for a node in no element."""
        ids = self.mesh.node_ids if kind == "node" else self.mesh.cell_ids
        sets = self.mesh.node_sets if kind == "node" else self.mesh.element_sets
        if re.fullmatch(r"\d+", tok):
            if kind not in self._ids:
                self._ids[kind] = set(ids.tolist())
            if int(tok) not in self._ids[kind]:
                if kind == "node":                       # e.g. the reference node of an MPC
                    self.notes.untranslated(card, f"node {tok} is in no element (dromo keeps only "
                                                  f"element nodes): left out", line)
                    return None
                raise card.error(f"undefined {kind} {tok}", line)
            return (kind, int(tok))
        if tok.upper() not in sets:
            raise card.error(f"unknown {kind} set {tok!r}", line)
        return ("nset" if kind == "node" else "elset", tok.upper())

    def _node_target(self, card, line, tok):
        return self._target(card, line, tok, "node")

    def _element_target(self, card, line, tok):
        return self._target(card, line, tok, "element")

    def boundary(self, card):
        if card.options.get("TYPE", "DISPLACEMENT").upper() != "DISPLACEMENT" or "FIXED" in card.options \
                or "SUBMODEL" in card.options or "USER" in card.options:
            self.notes.untranslated(card, "dromo imposes displacement values only")
            return
        self._op(card, "U")
        for line in card.data:
            f = card.fields(line)
            if len(f) < 2:
                raise card.error(f"expected 'node or node set, first dof[, last dof[, value]]', got "
                                 f"{line.text!r}", line)
            nums = card.floats(line, f[1:4])
            first = int(nums[0]) if nums[0] is not None else -1
            last = int(nums[1]) if len(nums) > 1 and nums[1] is not None else first
            value = nums[2] if len(nums) > 2 and nums[2] is not None else 0.0
            if first < 0 or last < first:
                raise card.error(f"bad dof range in {line.text!r}", line)
            if first == 0 or last > 3:
                self.notes.untranslated(card, f"dofs other than 1-3 (0/11 temperature, 4-6 "
                                              f"rotations) in {line.text!r}: dromo's solids have "
                                              f"displacement dofs 1-3", line)
            target = self._node_target(card, line, f[0])
            if target is None:
                continue
            for dof in range(max(first, 1), min(last, 3) + 1):
                self._add(card, "U", (target, dof - 1), value)

    def cload(self, card):
        self.notes.untranslated(card, "dromo has no nodal point load (concentrated forces)")

    def dload(self, card):
        self._op(card, "P", "GRAV", "CENTRIF")
        for line in card.data:
            f = card.fields(line)
            label = f[1].upper() if len(f) > 1 else ""
            m = re.fullmatch(r"P(\d)", label)
            if not (m or label in ("GRAV", "CENTRIF")):
                self.notes.untranslated(card, f"load label {label!r}: dromo maps P1..P6, GRAV, "
                                              f"CENTRIF", line)
                continue
            nums = card.floats(line, f[2:])
            if not nums or any(v is None for v in nums):
                raise card.error(f"expected 'element or set, {label}, magnitude ...', got "
                                 f"{line.text!r}", line)
            if m:
                self._add(card, "P", (self._element_target(card, line, f[0]), int(m.group(1))), nums[0])
            elif label == "GRAV" and len(nums) >= 4:
                self._whole_body(card, line, f[0])
                self._add(card, "GRAV", (tuple(nums[1:4]),), nums[0])
            elif label == "CENTRIF" and len(nums) >= 7:
                self._whole_body(card, line, f[0])
                if nums[0] < 0:
                    raise card.error(f"negative ω² in {line.text!r}", line)
                self._add(card, "CENTRIF", (tuple(nums[1:7]),), nums[0])
            else:
                raise card.error(f"too few values for {label} in {line.text!r}", line)

    def dsload(self, card):
        self._op(card, "P")
        for line in card.data:
            f = card.fields(line)
            if len(f) < 3 or f[1].upper() != "P":
                self.notes.untranslated(card, f"dromo maps 'surface, P, pressure' only: {line.text!r}",
                                        line)
                continue
            if f[0].upper() not in self.mesh.facet_sets:
                raise card.error(f"unknown surface {f[0]!r}", line)
            self._add(card, "P", (("surface", f[0].upper()), 0), card.floats(line, f[2:3])[0])

    def _whole_body(self, card, line, tok):
        target = self._element_target(card, line, tok)
        n = len(self.mesh.element_sets[target[1]]) if target[0] == "elset" else 1
        if n != self.mesh.n_cells:
            self.notes.untranslated(card, f"body load on {tok} ({n} of {self.mesh.n_cells} elements): "
                                          f"dromo applies it to the whole body", line)

    def _uniform_temperature(self, card, lines):
        """The one temperature of ``lines`` ('node or set, T') if it covers every node, else None."""
        values, nodes = set(), []
        for line in lines:
            f = card.fields(line)
            if len(f) < 2:
                raise card.error(f"expected 'node or node set, temperature', got {line.text!r}", line)
            values.add(card.floats(line, f[1:2])[0])
            target = self._node_target(card, line, f[0])
            if target is None:
                continue
            kind, ref = target
            nodes.append(self.mesh.node_sets[ref] if kind == "nset"
                         else np.flatnonzero(self.mesh.node_ids == ref))
        covered = np.unique(np.concatenate(nodes)).size if nodes else 0
        if len(values) == 1 and covered == self.mesh.n_nodes:
            return values.pop()
        self.notes.untranslated(card, "a temperature field that is not one value on all nodes "
                                      "(dromo's case takes a constant, an expression or an archive)")
        return None

    def temperature(self, card):
        if "FILE" in card.options or "USER" in card.options or "SUBMODEL" in card.options:
            self.notes.untranslated(card, "temperatures from a file, a user routine or a global model "
                                          "(SUBMODEL)")
            return
        T = self._uniform_temperature(card, card.data)
        if T is not None:
            self._add(card, "T", (), T)

    def initial_conditions(self, card):
        if card.options.get("TYPE", "").upper() != "TEMPERATURE":
            self.notes.untranslated(card, f"TYPE={card.options.get('TYPE', '')}: dromo starts from a "
                                          f"zero state")
            return
        self.T0 = self._uniform_temperature(card, card.data)

    # ------------------------------------------------------------------ build
    def build(self):
        viscous = any(st.procedure == "VISCO" for st in self.steps)
        if viscous and any(st.procedure == "STATIC" for st in self.steps):
            self.notes.untranslated(self.steps[0].card, "*STATIC and *VISCO steps mixed: dromo's laws "
                                                        "are viscous in every step")
        if not self.steps:
            self.notes.general(self.deck.path, "no *STATIC or *VISCO step: [time] left at dromo's "
                                               "defaults")
        case = {"name": os.path.basename(self.deck.path), "mesh": {"file": self.deck.path}}
        case["materials"], case["sections"] = self._materials(viscous)
        loads = LoadTables(self)
        case.update(loads.build())
        if self.steps:
            case["time"] = self._time()
        return case, loads.extra_mesh()

    def _materials(self, viscous):
        mats, secs = {}, {}
        T0 = 0.0 if self.T0 is None else self.T0
        for elset, (key, card) in self.sections.items():
            if key not in self.materials:            # materials may come after their section
                raise card.error(f"unknown material {card.options['MATERIAL']!r} (materials: "
                                 f"{', '.join(b.name for b in self.materials.values()) or 'none'})")
            block = self.materials[key]
            if block.name not in mats:
                law = block.law(viscous, self.umat_library, self.notes, T0)
                if law is None:
                    self.notes.untranslated(card, f"element set {elset}: material {block.name!r} "
                                                  f"not translated, section left out")
                    continue
                mats[block.name] = law
            secs[elset] = block.name
        return mats, secs

    def _time(self):
        first = self.steps[0]
        fixed = all(st.direct for st in self.steps)
        if fixed != any(st.direct for st in self.steps) or \
                (fixed and len({st.dt for st in self.steps}) > 1):
            self.notes.untranslated(self.steps[-1].card, "steps with different increment controls "
                                                         "(DIRECT, initial increment): dromo has one "
                                                         "[time] table; the first step's is used")
        t = {"start": 0.0, "end": self.steps[-1].t1, "dt": first.dt,
             "dt_max": max(st.dt_max if st.dt_max is not None else st.period for st in self.steps)}
        mins = [st.dt_min for st in self.steps if st.dt_min is not None]
        if mins:
            t["dt_min"] = min(min(mins), t["dt"])
        t["dt_max"] = max(t["dt_max"], t["dt"])
        if fixed:
            t["fixed"] = True
        return t


@dataclass
class CaseTranslation:
    """The translated case (``case``: a dict in the format of :mod:`dromo.hf.case_file`, with an
    absolute ``[mesh] file``), the untranslated cards (``warnings``), the ignored keywords and, when
    the loads need sets the deck does not name, the extra cards of the wrapper deck."""
    deck: str
    case: dict
    warnings: List[str]
    ignored: List[str]
    extra_mesh: Optional[str] = None

    def header(self):
        lines = [f"dromo case translated from the CalculiX deck {self.deck}",
                 "by `dromo case from-calculix` (dromo.io.adapters.calculix_case documents the mapping).",
                 "Amplitudes are in total time (STEP TIME tables shifted by their step's start).",
                 f"Ignored (no effect on a dromo case): {', '.join('*' + k for k in self.ignored) or 'none'}"]
        if self.warnings:
            lines.append(f"Untranslated cards ({len(self.warnings)}):")
            lines += [f"  {w}" for w in self.warnings]
        else:
            lines.append("Every card was translated.")
        return "\n".join(lines)

    def mesh_path(self, case_path):
        """The wrapper deck written next to ``case_path`` (None when the deck itself is the mesh)."""
        if self.extra_mesh is None:
            return None
        return os.path.splitext(os.fspath(case_path))[0] + ".mesh.inp"

    def toml(self, case_path):
        """The case file text for ``case_path`` (paths relative to its folder)."""
        folder = os.path.dirname(os.path.abspath(case_path))
        case = dict(self.case)
        mesh = self.mesh_path(case_path) or self.deck
        case["mesh"] = {"file": os.path.relpath(os.path.abspath(mesh), folder)}
        return toml_text.dumps(case, header=self.header())

    def write(self, case_path):
        """Write the case file (and the wrapper deck when needed), each atomically."""
        case_path = os.fspath(case_path)
        wrapper = self.mesh_path(case_path)
        if wrapper is not None:
            inc = os.path.relpath(self.deck, os.path.dirname(os.path.abspath(wrapper)))
            _write_atomic(wrapper, f"** sets for the dromo case {os.path.basename(case_path)}\n"
                                   f"*INCLUDE, INPUT={inc}\n" + self.extra_mesh)
        _write_atomic(case_path, self.toml(case_path))


def _write_atomic(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)


def translate_calculix_deck(deck_path, umat_library=None) -> CaseTranslation:
    """Translate a CalculiX deck into a dromo case (see the module docstring).

    ``umat_library``: the shared library of the deck's ``*USER MATERIAL`` laws other than ANISO_PLAS
    (else a placeholder path is written and reported).  Raises InputError on bad input.
    """
    deck_path = os.fspath(deck_path)
    if not os.path.isfile(deck_path):
        raise InputError(f"{deck_path}: no such CalculiX deck")
    tr = _Translator(read_deck(deck_path), umat_library)
    tr.run()
    case, extra = tr.build()
    return CaseTranslation(os.path.abspath(deck_path), case, tr.notes.warnings,
                           list(tr.notes.ignored), extra)
