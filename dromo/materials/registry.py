"""Build a law from its (TOML-like) dict: ``make_law({"type": ..., ...})``.

Types: ``elastic`` (:mod:`.elastic`), ``von_mises`` (:mod:`.viscoplastic`; aliases ``viscoplastic``,
``chaboche``), ``aniso_plas`` (:mod:`.aniso_plas`, CalculiX's law; a case-insensitive ``name``
starting with ``ANISO_PLAS`` with no type also selects it, as in CalculiX), ``umat`` (:mod:`.umat`).
"""
from ..errors import InputError
from .aniso_plas import AnisoPlas
from .elastic import Elastic
from .umat import UmatLaw
from .viscoplastic import VonMises

LAWS = {"elastic": Elastic, "von_mises": VonMises, "viscoplastic": VonMises, "chaboche": VonMises,
        "aniso_plas": AnisoPlas, "umat": UmatLaw}


def make_law(d):
    """Return the :class:`~dromo.materials.base.Law` described by the dict ``d``.

    Raises :class:`~dromo.errors.InputError` for an unknown type or bad parameters (the message names
    the parameter or file).
    """
    if not isinstance(d, dict):
        raise InputError(f"a material must be a table (dict), got {type(d).__name__}")
    typ = d.get("type")
    if typ is None and str(d.get("name", "")).upper().startswith("ANISO_PLAS"):
        typ = "aniso_plas"
    if typ is None:
        raise InputError(f"material {d.get('name', '?')!r}: missing 'type' (one of {sorted(LAWS)})")
    cls = LAWS.get(str(typ).lower())
    if cls is None:
        raise InputError(f"material {d.get('name', '?')!r}: unknown type {typ!r} (one of {sorted(LAWS)})")
    return cls(d)
