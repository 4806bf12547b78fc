"""Temperature-dependent material parameters (piecewise-linear tables).

A parameter in a law dict is either a number (constant) or a table, written as one of::

    {"T": [T0, T1, ...], "values": [v0, v1, ...]}      # T strictly increasing
    [[T0, v0], [T1, v1], ...]                            # list of (temperature, value) pairs

Interpolation is linear between nodes, exact at the nodes and continuous; a temperature outside
``[T0, T_last]`` raises :class:`~dromo.errors.InputError` (no silent extrapolation). A one-row table is
a constant valid at any temperature. Temperatures use the case's unit (dromo's built-in cases: K).
"""
import numbers

import numpy as np

from ..errors import InputError


class Param:
    """One scalar parameter, constant or tabulated in temperature.

    Parameters
    ----------
    name : str
        Parameter name, used in error messages (e.g. ``"von_mises.E"``).
    spec : number, dict or list
        See the module docstring.
    check : callable(values) -> str or None, optional
        Validity check on the constant / every table value; returns an error description or None.
    """

    def __init__(self, name, spec, check=None):
        self.name = name
        if isinstance(spec, numbers.Real) and not isinstance(spec, bool):
            self.temps = None
            self.values = np.array([float(spec)])
        else:
            temps, values = _parse_table(name, spec)
            if len(temps) == 1:
                self.temps, self.values = None, values
            else:
                self.temps, self.values = temps, values
        if not np.all(np.isfinite(self.values)):
            raise InputError(f"material parameter {name!r}: non-finite value {self.values.tolist()}")
        if check is not None:
            msg = check(self.values)
            if msg:
                raise InputError(f"material parameter {name!r}: {msg} (got {self.values.tolist()})")

    @property
    def constant(self):
        """True when the parameter does not depend on temperature."""
        return self.temps is None

    def __call__(self, T):
        """Value at temperature(s) ``T`` (scalar or array): a float if constant, else an array like T."""
        if self.temps is None:
            return float(self.values[0])
        T = np.asarray(T, dtype=float)
        if T.size and (not np.all(np.isfinite(T)) or T.min() < self.temps[0] or T.max() > self.temps[-1]):
            bad = T[~((T >= self.temps[0]) & (T <= self.temps[-1]))]
            raise InputError(
                f"material parameter {self.name!r}: temperature {bad.ravel()[0]!r} outside its table range "
                f"[{self.temps[0]}, {self.temps[-1]}]")
        return np.interp(T, self.temps, self.values)

    def range(self):
        """(T_min, T_max) of the table, or None if constant."""
        return None if self.temps is None else (self.temps[0], self.temps[-1])


def _parse_table(name, spec):
    try:
        if isinstance(spec, dict):
            if set(spec) - {"T", "values"} or "T" not in spec or "values" not in spec:
                raise InputError(f"material parameter {name!r}: a table needs exactly the keys 'T' and 'values'")
            temps = np.asarray(spec["T"], dtype=float).ravel()
            values = np.asarray(spec["values"], dtype=float).ravel()
        else:
            arr = np.asarray(spec, dtype=float)
            if arr.ndim != 2 or arr.shape[1] != 2:
                raise InputError(f"material parameter {name!r}: expected a number, {{'T': [...], 'values': [...]}} "
                                 f"or a list of [T, value] pairs, got {spec!r}")
            temps, values = arr[:, 0].copy(), arr[:, 1].copy()
    except (TypeError, ValueError) as exc:
        if isinstance(exc, InputError):
            raise
        raise InputError(f"material parameter {name!r}: cannot read table {spec!r} ({exc})") from None
    if temps.size == 0 or temps.size != values.size:
        raise InputError(f"material parameter {name!r}: table needs as many temperatures as values (>= 1)")
    if not np.all(np.isfinite(temps)):
        raise InputError(f"material parameter {name!r}: non-finite temperature in table")
    if np.any(np.diff(temps) <= 0):
        raise InputError(f"material parameter {name!r}: table temperatures must be strictly increasing, "
                         f"got {temps.tolist()}")
    return temps, values


def positive(v):
    """Check: all values > 0."""
    return None if np.all(v > 0) else "must be > 0"


def nonnegative(v):
    """Check: all values >= 0."""
    return None if np.all(v >= 0) else "must be >= 0"


def poisson(v):
    """Check: −1 < ν < 0.5."""
    return None if np.all((v > -1.0) & (v < 0.5)) else "Poisson's ratio must lie in (-1, 0.5)"


def at_least_one(v):
    """Check: all values >= 1 (flow exponents)."""
    return None if np.all(v >= 1.0) else "must be >= 1"
