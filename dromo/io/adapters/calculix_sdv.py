"""Names for CalculiX's state variables (``SDV``) in imported archives.

CalculiX writes a user material's state variables as anonymous columns ``SDV1 … SDVn`` (``*EL PRINT``
in the ``.dat``: field ``SDV``; ``*EL FILE`` in the ``.frd``: field ``SDV_nodal``). When the law is
known, :class:`NamedStateReader` splits those columns into dromo's own internal-variable fields, with
the names, order and Mandel convention ``dromo solve`` writes (``p``, ``eps_p``, ``alpha_1``,
``alpha_2`` for ``ANISO_PLAS``; ``..._nodal`` for the ``.frd`` ones), so imported and dromo-solved
archives are used alike (``dromo hyperreduce`` finds its default dual field ``p``).

The law comes from, in this order:

* a dromo case file (``dromo import calculix ... --laws-from CASE.toml``): the law of every section; a
  ``umat`` law names its STATEV with its ``state`` list (``kind`` strain/stress converted to Mandel);
* the deck's own material cards: a ``*MATERIAL, NAME=ANISO_PLAS…`` with ``*USER MATERIAL`` is CalculiX's
  ``ANISO_PLAS`` (:data:`dromo.materials.aniso_plas.SDV_LAYOUT`).

All the materials of the sections that have state variables must share one layout. Otherwise (an
unknown user material, several layouts, a column count that does not match) ``SDV`` is kept as it is
and the log says why.
"""
import functools

import numpy as np

from ...errors import InputError
from ...parallel import get_logger
from . import FieldSpec, Step, WrappedReader
from .parallel_values import RowParts

__all__ = ["law_layout", "deck_layout", "case_layout", "NamedStateReader", "named_state"]

log = get_logger("dromo.import")
MANDEL = ["xx", "yy", "zz", "xy", "xz", "yz"]


def law_layout(law):
    """``((name, size, kind), ...)`` of a dromo law dict's state in SDV order, or ``None`` (no known
    order). ``kind``: ``plain`` (as stored), ``tensor`` (tensor components → Mandel), ``strain``
    (engineering shear → Mandel)."""
    kind = str(law.get("type", "")).lower()
    if kind == "aniso_plas":
        from ...materials.aniso_plas import SDV_LAYOUT
        return SDV_LAYOUT
    if kind == "umat" and law.get("state"):
        out = []
        for k, d in enumerate(law["state"]):
            c = str(d.get("kind", "plain"))
            out.append((str(d["name"]), int(d["size"]), "tensor" if c == "stress" else c))
        return tuple(out)
    return None


def deck_layout(deck):
    """``(layout, why)`` from the material cards of a CalculiX deck (``*INCLUDE`` followed): the layout of
    the materials its ``*SOLID SECTION`` cards use, or ``(None, reason)``."""
    from ...mesh.inp import deck_lines, parse_options
    materials, current, used = {}, None, set()
    for line in deck_lines(deck):
        if not line.text.startswith("*"):
            continue
        kw, opts = parse_options(line.text)
        if kw == "MATERIAL":
            current = opts.get("NAME", "").upper()
            materials[current] = {"user": False, "depvar": False}
        elif kw in ("USER MATERIAL", "DEPVAR") and current is not None:
            materials[current]["user" if kw == "USER MATERIAL" else "depvar"] = True
        elif kw in ("SOLID SECTION", "SHELL SECTION", "BEAM SECTION"):
            used.add(opts.get("MATERIAL", "").upper())
            current = None
        elif kw not in ("USER MATERIAL", "DEPVAR", "ELASTIC", "DENSITY", "EXPANSION", "PLASTIC",
                        "CONDUCTIVITY", "SPECIFIC HEAT", "CREEP", "HYPERELASTIC"):
            current = None
    laws = {}
    for name in sorted(used):
        m = materials.get(name)
        if m is None or not (m["user"] or m["depvar"]):
            continue                                     # no state variables
        if name.startswith("ANISO_PLAS") and m["user"]:
            laws[name] = {"type": "aniso_plas"}
        else:
            return None, f"material {name} of {deck} is a user material of no known state layout"
    return _common(laws, deck)


def case_layout(materials, case):
    """``(layout, why)`` from the laws of a dromo case file's sections: ``materials`` {element set: law
    table} as read from the case file ``case`` (named in messages) by the caller."""
    laws = {}
    for elset, law in materials.items():
        name = law.get("name", elset)
        if law_layout(law) is None:
            if str(law.get("type", "")).lower() == "umat":
                return None, f"umat material {name} of {case} does not name its state (no 'state' list)"
            continue                                     # a dromo law: no CalculiX SDV
        laws[name] = law
    return _common(laws, case)


def _common(laws, where):
    layouts = {name: law_layout(law) for name, law in laws.items()}
    distinct = set(layouts.values())
    if not distinct:
        return None, f"no material of {where} has named state variables"
    if len(distinct) > 1:
        return None, f"materials {', '.join(sorted(layouts))} of {where} have different state layouts"
    name = sorted(layouts)[0]
    return distinct.pop(), f"law {laws[name].get('type')} (material {name} of {where})"


def _describe(layout):
    out, col = [], 1
    for name, size, kind in layout:
        cols = f"SDV{col}" if size == 1 else f"SDV{col}-{col + size - 1}"
        out.append(f"{name} = {cols}" + (" (Mandel)" if kind != "plain" and size == 6 else ""))
        col += size
    return ", ".join(out)


class NamedStateReader(WrappedReader):
    """A :class:`~dromo.io.adapters.ResultReader` that forwards another (a CalculiX reader) with its
    ``SDV`` / ``SDV_nodal`` fields split into the named fields of ``layout`` (see the module docstring).
    ``layout=None`` forwards unchanged. The named fields keep the attributes of the ``SDV`` field they
    come from (its ``source`` file among them)."""

    def __init__(self, reader, layout=None, why=""):
        super().__init__(reader)
        self.layout, self.why = layout, why
        self._split = {}                                 # SDV field name -> [(spec, columns, kind)]

    def fields(self):
        out = []
        for spec in self.reader.fields():
            if spec.name in ("SDV", "SDV_nodal"):
                parts = self._parts(spec)
                if parts:
                    self._split[spec.name] = parts
                    out += [p for p, _, _ in parts]
                    continue
            out.append(spec)
        return out

    def _parts(self, spec):
        if self.layout is None:
            log.info("%s: %s kept as %d anonymous columns (%s); give the law with --laws-from CASE.toml to name them",
                     self.source, spec.name, spec.n_components, self.why or "no law known")
            return None
        total = sum(size for _, size, _ in self.layout)
        if spec.n_components != total:
            log.info("%s: %s kept as it is: %d columns, the %s has %d state variables", self.source, spec.name,
                     spec.n_components, self.why, total)
            return None
        suffix = spec.name[3:]                           # "" or "_nodal"
        parts, col = [], 0
        for name, size, kind in self.layout:
            comps = MANDEL if size == 6 and kind != "plain" else \
                ([name] if size == 1 else [f"{name}{i + 1}" for i in range(size)])
            cols = f"SDV{col + 1}" if size == 1 else f"SDV{col + 1}-{col + size}"
            desc = f"internal variable {name} ({cols} of CalculiX, {self.why})"
            attrs = dict(spec.attrs, sdv_columns=cols)
            parts.append((FieldSpec(name + suffix, spec.location, comps, description=desc, attrs=attrs),
                          slice(col, col + size), kind))
            col += size
        log.info("%s: %s named after the %s: %s", self.source, spec.name, self.why, _describe(self.layout))
        return parts

    def steps(self):
        for step in self.reader.steps():
            values = dict(step.values)
            for name, parts in self._split.items():
                if name not in values:
                    continue
                v = values.pop(name)
                for spec, cols, kind in parts:
                    part = functools.partial(state_columns, cols=cols, kind=kind)
                    values[spec.name] = v.then(part, spec.n_components) if isinstance(v, RowParts) \
                        else part(np.asarray(v, dtype=float))
            yield Step(step.time, values, step.parameters, step.info)


def state_columns(v, cols, kind):
    """Columns ``cols`` of the state variables ``v`` ``(n, n_sdv)``, as dromo stores them: ``kind``
    "tensor" (tensor components -> Mandel), "strain" (Voigt engineering strain -> Mandel) or as written.
    Row-wise (applied to each part of a value parsed by every rank)."""
    from ...materials import tensors as tn
    x = v[:, cols]
    if kind == "tensor":
        x = tn.mandel_from_tensor_components(x)
    elif kind == "strain":
        x = tn.mandel_from_voigt_strain(x)
    return np.ascontiguousarray(x)


def named_state(reader_class, deck, case=None, case_materials=None):
    """A factory ``(*args, **kwargs) -> NamedStateReader(reader_class(*args, **kwargs), layout)`` with the
    layout from the laws of a dromo case file (``case_materials`` {element set: law table}, read from
    ``case`` by the caller) when given, else from the material cards of ``deck``. Used by ``dromo import
    calculix`` (rank 0 only, inside the reader's construction)."""
    def make(*args, **kwargs):
        reader = reader_class(*args, **kwargs)
        try:
            layout, why = case_layout(case_materials, case) if case else deck_layout(deck)
        except InputError:
            reader.close()
            raise
        return NamedStateReader(reader, layout, why)
    return make
