"""CalculiX ``*MATERIAL`` blocks -> dromo law tables (the dicts of :func:`dromo.materials.make_law`).

Used by :mod:`dromo.io.adapters.calculix_case`.  A material block is the ``*MATERIAL`` card and the
property cards after it.  Mapping (units are the deck's; temperatures are the last field of a
property line and give dromo temperature tables ``[[T0, v0], [T1, v1], ...]`` when a card has several
lines, see :mod:`dromo.materials.tables`; dromo does not extrapolate a table, CalculiX holds its end
values):

===================================  =====================================================================
CalculiX                             dromo law table
===================================  =====================================================================
``*ELASTIC`` (ISO)                   ``elastic``: ``E``, ``nu``
``*ELASTIC, TYPE=ORTHO``             ``elastic``, ``symmetry = "orthotropic"``: ``C1111 … C2323`` (same
                                     order and tensor components in both codes)
``*ELASTIC, TYPE=ENGINEERING         ``elastic``, orthotropic: ``E1 E2 E3 nu12 nu13 nu23 G12 G13 G23``
CONSTANTS``
``*PLASTIC`` (ISO elasticity)        ``von_mises``: ``R0`` = first yield stress, linear hardening
                                     ``H`` = slope of the first segment (HARDENING=KINEMATIC: a Prager
                                     term ``kinematic = [{C = slope}]``, the uniaxial slope); a curve
                                     with more than two points that is not a straight line is used by
                                     its first segment (warning)
``*CREEP`` (LAW=NORTON)              ``flow = {type = "power", A, n, m}`` (ε̇ = A σⁿ tᵐ applied to the
                                     overstress, σ_eq − R, as CalculiX does with ``*PLASTIC``;
                                     ``R0 = 0`` without ``*PLASTIC``); inactive in ``*STATIC`` steps,
                                     as in CalculiX, so dropped when no step is a ``*VISCO`` step
``*USER MATERIAL``, name            ``aniso_plas``: the 15 constants (rows of 15 + T when
``ANISO_PLAS…``, CONSTANTS=15        temperature-dependent); ``viscous = false`` when every step is
                                     ``*STATIC`` (CalculiX switches the viscous part off there)
other ``*USER MATERIAL``             ``umat``: ``props`` = the constants, ``nstatv`` from ``*DEPVAR``,
                                     ``library`` given by the user (else a placeholder and a warning)
``*DENSITY``                         ``density``
``*EXPANSION`` (ISO or ORTHO),       ``alpha`` (or ``[a1, a2, a3]``), ``T_ref`` (see
``ZERO=``                            :func:`thermal_reference`)
===================================  =====================================================================

Cards of no mechanical effect in a quasi-static run (``*CONDUCTIVITY``, ``*SPECIFIC HEAT``) are
ignored; every other property card is reported as untranslated.
"""
import numpy as np

PROPERTY_CARDS = {"ELASTIC", "DENSITY", "EXPANSION", "PLASTIC", "CREEP", "USER MATERIAL", "DEPVAR",
                  "CONDUCTIVITY", "SPECIFIC HEAT", "HYPERELASTIC", "HYPERFOAM",
                  "DEFORMATION PLASTICITY", "CYCLIC HARDENING", "DAMPING", "ELECTRICAL CONDUCTIVITY",
                  "MAGNETIC PERMEABILITY", "FLUID CONSTANTS", "SPECIFIC GAS CONSTANT"}
NO_MECHANICAL_EFFECT = {"CONDUCTIVITY", "SPECIFIC HEAT", "ELECTRICAL CONDUCTIVITY",
                        "MAGNETIC PERMEABILITY"}
UMAT_PLACEHOLDER = "REPLACE_WITH_PATH/libumat.so"

ISO = ("E", "nu")
ORTHO = ("C1111", "C1122", "C2222", "C1133", "C2233", "C3333", "C1212", "C1313", "C2323")
ENGINEERING = ("E1", "E2", "E3", "nu12", "nu13", "nu23", "G12", "G13", "G23")


def _param(rows, j):
    """Column ``j`` of property rows (last column = temperature) as a constant or a T table."""
    if len(rows) == 1:
        return rows[0][j]
    return [[r[-1], r[j]] for r in rows]


def _rows(card, n):
    """Records of ``n`` values + temperature, empty values 0 (temperature 0 when absent)."""
    return [[0.0 if v is None else v for v in r] for r in card.records(n + 1)]


def _columns(card, names):
    rows = _rows(card, len(names))
    return {k: _param(rows, j) for j, k in enumerate(names)}


class MaterialBlock:
    """The property cards of one ``*MATERIAL`` (by upper-case keyword) and how to translate them."""

    def __init__(self, card):
        self.card = card
        self.name = card.options.get("NAME", "")
        if not self.name:
            raise card.error("missing NAME=")
        self.props = {}

    def add(self, card, notes):
        if card.keyword in self.props:
            raise card.error(f"defined twice in material {self.name!r} (first at "
                             f"{self.props[card.keyword].where()})")
        self.props[card.keyword] = card
        if card.keyword in NO_MECHANICAL_EFFECT:
            notes.ignore(card)
        elif card.keyword not in ("ELASTIC", "DENSITY", "EXPANSION", "PLASTIC", "CREEP",
                                  "USER MATERIAL", "DEPVAR"):
            notes.untranslated(card, f"no dromo law for this property of material {self.name!r}")

    # ------------------------------------------------------------------ law
    def law(self, viscous, umat_library, notes, T_initial):
        """The law table (dict) or None (untranslatable: already reported in ``notes``).

        ``viscous``: some step is a ``*VISCO`` step; ``T_initial``: the initial temperature (for
        ``T_ref``, see :func:`thermal_reference`).
        """
        p = self.props
        if "USER MATERIAL" in p:
            d = self._user(viscous, umat_library, notes)
        elif "ELASTIC" in p:
            d = self._elastic_plastic(viscous, notes)
        else:
            notes.untranslated(self.card, f"material {self.name!r} has no *ELASTIC or *USER MATERIAL "
                                          f"card dromo can use")
            return None
        if d is None:
            return None
        if "EXPANSION" in p:
            d.update(thermal_reference(p["EXPANSION"], T_initial, notes))
        if "DENSITY" in p:
            rows = _rows(p["DENSITY"], 1)
            d["density"] = rows[0][0]
            if len({r[0] for r in rows}) > 1:
                notes.untranslated(p["DENSITY"], "temperature-dependent density: dromo's density is a "
                                                 "constant; the first value is used")
        return d

    def _elastic_plastic(self, viscous, notes):
        el = self.props["ELASTIC"]
        etype = el.options.get("TYPE", "ISO").upper()
        if etype == "ISO":
            d = {"type": "elastic", **_columns(el, ISO)}
        elif etype == "ORTHO":
            d = {"type": "elastic", "symmetry": "orthotropic", **_columns(el, ORTHO)}
        elif etype == "ENGINEERING CONSTANTS":
            d = {"type": "elastic", "symmetry": "orthotropic", **_columns(el, ENGINEERING)}
        else:
            notes.untranslated(el, f"TYPE={etype}: dromo's elastic law is isotropic, cubic or "
                                   f"orthotropic")
            return None
        plastic, creep = self.props.get("PLASTIC"), self.props.get("CREEP")
        if plastic is None and creep is None:
            return d
        if etype != "ISO":
            notes.untranslated(plastic or creep, f"plasticity with TYPE={etype} elasticity: dromo's "
                                                 f"von_mises law has isotropic elasticity")
            return None
        d["type"] = "von_mises"
        d.update(hardening(plastic, notes) if plastic is not None else {"R0": 0.0})
        if creep is not None and viscous:
            flow = creep_flow(creep, notes)
            if flow is None:
                return None
            d["flow"] = flow
        return d

    def _user(self, viscous, umat_library, notes):
        um = self.props["USER MATERIAL"]
        try:
            n = int(um.options.get("CONSTANTS", "0"))
        except ValueError:
            raise um.error(f"CONSTANTS={um.options['CONSTANTS']!r} is not an integer") from None
        rows = _rows(um, n) if n else [[0.0]]
        if self.name.upper().startswith("ANISO_PLAS"):
            if n != 15:
                raise um.error(f"material {self.name!r}: ANISO_PLAS needs CONSTANTS=15, got {n}")
            consts = rows[0][:15] if len(rows) == 1 else rows
            return {"type": "aniso_plas", "constants": consts, "viscous": bool(viscous)}
        dep = self.props.get("DEPVAR")
        nstatv = int(_rows(dep, 1)[0][0]) if dep is not None else 0
        d = {"type": "umat", "library": umat_library or UMAT_PLACEHOLDER, "props": rows[0][:n],
             "nstatv": nstatv}
        if not umat_library:
            notes.untranslated(um, f"material {self.name!r}: give the UMAT library "
                                   f"(--umat-library); '{UMAT_PLACEHOLDER}' written")
        if len(rows) > 1:
            notes.untranslated(um, f"material {self.name!r}: temperature-dependent UMAT constants; "
                                   f"dromo passes constant props (the first row)")
        return d


def hardening(card, notes):
    """``*PLASTIC`` -> ``R0`` and ``H`` (isotropic) or ``kinematic`` (Prager), per temperature."""
    rows = _rows(card, 2)                               # (yield stress, plastic strain, T)
    temps = sorted({r[2] for r in rows})
    R0, H = [], []
    for T in temps:
        pts = np.array([r[:2] for r in rows if r[2] == T])
        if pts[0, 1] != 0.0:
            notes.untranslated(card, f"the curve at T = {T:g} starts at plastic strain {pts[0, 1]:g}, "
                                     f"not 0: its first stress is used as yield stress")
        slope = 0.0
        if len(pts) > 1:
            slope = (pts[1, 0] - pts[0, 0]) / (pts[1, 1] - pts[0, 1])
            line = pts[0, 0] + slope * (pts[:, 1] - pts[0, 1])
            if not np.allclose(line, pts[:, 0], rtol=1e-6, atol=0.0):
                notes.untranslated(card, f"multilinear hardening curve (T = {T:g}): dromo's von_mises "
                                         f"hardening is linear; the first segment is used")
        R0.append(pts[0, 0])
        H.append(slope)
    table = (lambda v: v[0]) if len(temps) == 1 else (lambda v: [[T, x] for T, x in zip(temps, v)])
    kind = card.options.get("HARDENING", "ISOTROPIC").upper()
    if kind == "KINEMATIC":
        return {"R0": table(R0), "kinematic": [{"C": table(H)}]}
    if kind != "ISOTROPIC":
        notes.untranslated(card, f"HARDENING={kind}: translated as isotropic hardening")
    return {"R0": table(R0), "H": table(H)}


def creep_flow(card, notes):
    """``*CREEP, LAW=NORTON`` (A, n, m, T) -> the ``power`` flow of :mod:`dromo.materials.viscoplastic`."""
    law = card.options.get("LAW", "NORTON").upper()
    if law != "NORTON":
        notes.untranslated(card, f"LAW={law}: dromo maps the Norton law only")
        return None
    return {"type": "power", **_columns(card, ("A", "n", "m"))}


def thermal_reference(card, T_initial, notes):
    """``*EXPANSION`` -> ``alpha`` and ``T_ref``.

    CalculiX's thermal strain is α(T)(T − Z) − α(T₀)(T₀ − Z) (Z = ``ZERO=``, default 0; T₀ the initial
    temperature), dromo's is α(T)(T − T_ref): equal with ``T_ref = T₀`` when α is constant, and with
    ``T_ref = Z`` when T₀ = Z.  Otherwise ``T_ref = T₀`` is an approximation (warning).
    """
    etype = card.options.get("TYPE", "ISO").upper()
    if etype not in ("ISO", "ORTHO"):
        notes.untranslated(card, f"TYPE={etype}: dromo's expansion is isotropic or orthotropic")
        return {}
    try:
        zero = float(card.options.get("ZERO", "0") or 0)
    except ValueError:
        raise card.error(f"ZERO={card.options['ZERO']!r} is not a number") from None
    if etype == "ISO":
        out = _columns(card, ("alpha",))
    else:
        cols = _columns(card, ("a1", "a2", "a3"))
        if any(isinstance(v, list) for v in cols.values()):
            notes.untranslated(card, "temperature-dependent orthotropic expansion: dromo's orthotropic "
                                     "alpha is constant; the first row is used")
            cols = {k: (v[0][1] if isinstance(v, list) else v) for k, v in cols.items()}
        out = {"alpha": [cols["a1"], cols["a2"], cols["a3"]]}
    constant = not (etype == "ISO" and isinstance(out["alpha"], list))
    if constant or T_initial == zero:
        out["T_ref"] = float(T_initial) if constant else zero
    else:
        out["T_ref"] = float(T_initial)
        notes.untranslated(card, f"temperature-dependent alpha with ZERO={zero:g} different from the "
                                 f"initial temperature {T_initial:g}: dromo's thermal strain "
                                 f"α(T)(T − T_ref) uses T_ref = {T_initial:g}, an approximation")
    return out
