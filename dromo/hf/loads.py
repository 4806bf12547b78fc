"""Loads of the reference solver: amplitudes, imposed displacements, pressure, body forces, temperature.

Every load is a plain description (a dataclass, no mesh attached); :class:`~dromo.hf.problem.Problem`
checks its sets against the mesh and precomputes its unit vector once. A load's magnitude at time t is
its value times its amplitude ``a(t)`` (1 when there is none).

* :class:`Amplitude` — piecewise-linear table ``(t_i, a_i)``, times strictly increasing, held
  constant outside the table (as Abaqus/CalculiX do); or any Python callable ``a(t)``.
* :class:`Displacement` — imposed displacement per component on a node set: ``u_c = value_c · a(t)``.
* :class:`Pressure` — uniform pressure [F/L²] on a facet set (positive pushes into the solid).
* :class:`Gravity` — body force ρ g [F/L³] (ρ per material, see ``Problem``).
* :class:`Centrifugal` — body force ρ ω² r⊥ (r⊥: distance vector from the axis); the amplitude
  multiplies the force (i.e. ω²).
* :class:`Temperature` — temperature at the integration points: a constant (times the amplitude), an
  expression in ``x, y, z, t, a`` (a = amplitude value; the functions and syntax of
  :mod:`dromo.expressions`: ``exp log sqrt abs sin cos tan sinh cosh tanh arctan2 minimum maximum where``,
  ``pi``, arithmetic, comparisons, ``A if C else B``), a Python function ``T(x (n, 3), t) -> (n,)``, or a nodal time
  series from a dromo archive (linear in time, interpolated to the points by the shape functions).
"""
import dataclasses
from dataclasses import dataclass
from typing import Callable, Optional, Sequence, Union

import numpy as np

from ..errors import InputError
from ..expressions import Expression

COMPONENTS = {"x": 0, "y": 1, "z": 2, 0: 0, 1: 1, 2: 2, "0": 0, "1": 1, "2": 2}


class Amplitude:
    """Piecewise-linear amplitude ``a(t)`` from a table; constant beyond its ends.

    ``table``: ``[[t0, a0], [t1, a1], ...]`` or ``{"time": [...], "value": [...]}``; times strictly
    increasing (a non-monotonic table raises :class:`InputError` naming the amplitude and the row).
    """

    def __init__(self, name, table):
        self.name = str(name)
        try:
            if isinstance(table, dict):
                t = np.asarray(table["time"], dtype=float)
                a = np.asarray(table["value"], dtype=float)
            else:
                arr = np.asarray(table, dtype=float)
                if arr.ndim != 2 or arr.shape[1] != 2:
                    raise ValueError
                t, a = arr[:, 0], arr[:, 1]
        except (KeyError, ValueError, TypeError):
            raise InputError(f"amplitude {self.name!r}: expected a table [[t0, a0], [t1, a1], ...] or "
                             f"{{time = [...], value = [...]}}") from None
        if t.shape != a.shape or t.size == 0:
            raise InputError(f"amplitude {self.name!r}: time and value must be non-empty and of equal length")
        if not (np.isfinite(t).all() and np.isfinite(a).all()):
            raise InputError(f"amplitude {self.name!r}: non-finite entries")
        bad = np.flatnonzero(np.diff(t) <= 0)
        if bad.size:
            i = int(bad[0]) + 1
            raise InputError(f"amplitude {self.name!r}: times must be strictly increasing; row {i} "
                             f"(t = {t[i]:g}) does not come after row {i - 1} (t = {t[i - 1]:g})")
        self.times, self.values = t, a

    def __call__(self, t):
        return float(np.interp(float(t), self.times, self.values))

    def __repr__(self):
        return f"Amplitude({self.name!r}, {len(self.times)} points)"


def resolve_amplitude(amplitude, amplitudes, where):
    """Turn a load's ``amplitude`` (None, a name, an :class:`Amplitude`, a table or a callable) into a
    callable ``a(t)``."""
    if amplitude is None:
        return lambda t: 1.0
    if isinstance(amplitude, str):
        if amplitude not in amplitudes:
            raise InputError(f"{where}: unknown amplitude {amplitude!r} "
                             f"(amplitudes: {', '.join(sorted(amplitudes)) or 'none'})")
        return resolve_amplitude(amplitudes[amplitude], amplitudes, where)
    if callable(amplitude):
        return amplitude
    return Amplitude(where, amplitude)


@dataclass
class Displacement:
    """Imposed displacement ``u_c(t) = values[c] · a(t)`` on the nodes of ``set``.

    ``values``: {component ("x"/"y"/"z" or 0/1/2): value [L]}; absent components stay free.
    """
    set: str
    values: dict
    amplitude: Union[None, str, Callable, Sequence] = None

    def __post_init__(self):
        comps = {}
        for k, v in dict(self.values).items():
            if k not in COMPONENTS:
                raise InputError(f"displacement on {self.set!r}: unknown component {k!r} (x, y, z)")
            try:
                comps[COMPONENTS[k]] = float(v)
            except (TypeError, ValueError):
                raise InputError(f"displacement on {self.set!r}: component {k!r} must be a number, "
                                 f"got {v!r}") from None
        if not comps:
            raise InputError(f"displacement on {self.set!r}: no component given (x, y, z)")
        self.values = comps


@dataclass
class Pressure:
    """Uniform pressure ``value · a(t)`` [F/L²] on facet set ``set`` (positive into the solid)."""
    set: str
    value: float
    amplitude: Union[None, str, Callable, Sequence] = None


@dataclass
class Gravity:
    """Body force ρ g a(t) [F/L³]; ``acceleration`` (3,) [L/T²]."""
    acceleration: Sequence[float]
    amplitude: Union[None, str, Callable, Sequence] = None


@dataclass
class Centrifugal:
    """Body force ρ ω² r⊥ a(t), ω [rad/T] about the axis through ``axis_point`` along ``axis_direction``."""
    omega: float
    axis_point: Sequence[float] = (0.0, 0.0, 0.0)
    axis_direction: Sequence[float] = (0.0, 0.0, 1.0)
    amplitude: Union[None, str, Callable, Sequence] = None

    def force_density(self):
        """Return f(x) -> (n, 3), the centrifugal acceleration ω² r⊥ (to be multiplied by ρ)."""
        c = np.asarray(self.axis_point, dtype=float)
        d = np.asarray(self.axis_direction, dtype=float)
        if c.shape != (3,) or d.shape != (3,) or np.linalg.norm(d) == 0:
            raise InputError("centrifugal load: axis_point and axis_direction must be 3-vectors, "
                             "the direction non-zero")
        d = d / np.linalg.norm(d)
        w2 = float(self.omega) ** 2

        def f(x):
            r = x - c
            return w2 * (r - np.outer(r @ d, d))
        return f


_EXPR_VARIABLES = ("x", "y", "z", "t", "a")


@dataclass
class Temperature:
    """Temperature field T(x, t) at the integration points (see the module docstring).

    Exactly one of ``value`` (constant, times the amplitude), ``expression`` (str in x, y, z, t, a,
    checked and evaluated by :class:`dromo.expressions.Expression`: never run as Python code),
    ``function`` (Python ``T(x, t)``) or ``file`` (dromo archive with the nodal field ``field``).
    ``source`` (the case file, when there is one) only serves the error messages.

    ``offset`` (Python API only, not with ``file``): a spatial field δT(x) [K] added as ``a(t) · δT(x)``
    (a the amplitude): an object with ``at_ips(dm) -> (n_ip_local,)`` (its values at this rank's
    integration points, in the DistributedMesh's local order; collective) and ``at_points(ids) -> (n,)``
    (at natural integration-point ids, for the reduced model; local). A random temperature draw
    (:class:`dromo.uq.random_field.FieldDraw`) is one.
    """
    value: Optional[float] = None
    expression: Optional[str] = None
    function: Optional[Callable] = None
    file: Optional[str] = None
    field: str = "T"
    amplitude: Union[None, str, Callable, Sequence] = None
    source: Optional[str] = dataclasses.field(default=None, repr=False, compare=False)
    offset: object = dataclasses.field(default=None, repr=False, compare=False)
    _expr: object = dataclasses.field(default=None, repr=False, compare=False)

    @property
    def _where(self):
        return f"{self.source} [temperature]" if self.source else "temperature"

    def __post_init__(self):
        given = [k for k in ("value", "expression", "function", "file") if getattr(self, k) is not None]
        if len(given) != 1:
            raise InputError(f"{self._where}: give exactly one of value, expression, function, file "
                             f"(got {given or 'none'})")
        if self.expression is not None:
            self._expr = Expression(self.expression, _EXPR_VARIABLES, f"{self._where} expression")
        if self.offset is not None and self.file is not None:
            raise InputError(f"{self._where}: an offset field cannot be added to a nodal temperature series "
                             f"(file {self.file})")

    @property
    def uses_time(self):
        """Whether :meth:`evaluate` may depend on ``t`` other than through the amplitude value ``a``: a function
        or a file always, an expression when it names ``t``, a value never."""
        if self.value is not None:
            return False
        if self.expression is not None:
            return "t" in self._expr.names
        return True

    def evaluate(self, x, t, a):
        """T at points ``x (n, 3)`` and time t (amplitude value a); not for ``file`` temperatures."""
        n = len(x)
        if self.value is not None:
            return np.full(n, float(self.value) * a)
        if self.expression is not None:
            x = np.asarray(x, dtype=float).reshape(n, 3)
            out = self._expr.evaluate(x=x[:, 0], y=x[:, 1], z=x[:, 2], t=float(t), a=float(a))
        else:
            out = self.function(x, t)
        out = np.broadcast_to(np.asarray(out, dtype=float), (n,)).copy()
        if not np.isfinite(out).all():
            what = f"expression {self.expression!r}" if self.expression is not None else "function"
            raise InputError(f"{self._where}: non-finite values at t = {t:g} from the {what}")
        return out
