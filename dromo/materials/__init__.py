"""Constitutive laws (vectorized over integration points, Mandel notation) and external-law plugins.

Entry point: :func:`make_law` builds a :class:`Law` from a case-file dict; the interface every caller
uses (reference solver, ECM, online ROM) is documented in :mod:`dromo.materials.base`.

Modules: ``tensors`` (Mandel helpers and conversions), ``tables`` (temperature tables), ``elastic``,
``viscoplastic`` (von Mises family: linear/Voce isotropic, Prager/Armstrong–Frederick kinematic,
rate-independent/Norton/power flow), ``aniso_plas`` (CalculiX's ANISO_PLAS), ``umat`` (Abaqus UMAT
plugins through ctypes), ``newton`` (vectorized local solver), ``registry`` (``make_law``).
"""
from .base import Law, LawResult
from .registry import LAWS, make_law

__all__ = ["Law", "LawResult", "LAWS", "make_law"]
