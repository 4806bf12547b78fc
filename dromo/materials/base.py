"""The constitutive-law interface used by the reference solver, the ECM and the online ROM.

Every law works on *batches* of integration points (arrays with a leading axis of n points) and in
**Mandel notation** (see :mod:`dromo.materials.tensors`). Small strain.

Interface
---------
``law.name``            str, the law's name (from the case file or the law type)
``law.state_names``     list of the named internal variables, e.g. ``["p", "eps_p", "alpha_1"]``
``law.state_sizes``     dict name -> number of floats per point (scalars 1, tensors 6 in Mandel)
``law.n_state``         total floats per point
``law.initial_state(n)`` -> ``(n, n_state)`` array (virgin material: zeros unless documented)
``law.update(eps_old, deps, state_old, T_old, T_new, dt, time=0.0)`` -> :class:`LawResult`
(``tangent="parts"``: the tangent's structure instead of the 6 × 6 matrices, for the laws that have one)

* ``eps_old``, ``deps``: ``(n, 6)`` total strain at the start of the increment and its increment
  (Mandel, the thermal strain is *included*: the law subtracts α(T)(T − T_ref) itself);
* ``state_old``: ``(n, n_state)``; it is never modified;
* ``T_old``, ``T_new``: temperature at the start / end of the increment, scalar or ``(n,)``;
  parameters are evaluated at ``T_new`` (as CalculiX and Abaqus UMATs do);
* ``dt``: time increment (> 0 for viscous laws; ``dt = 0`` makes them behave rate-independently
  only where documented), ``time``: total time at the *start* of the increment.

``LawResult(stress, state, tangent, failed)``: stress ``(n, 6)`` Mandel at the end of the increment,
new state ``(n, n_state)``, consistent (algorithmic) tangent ``(n, 6, 6)`` Mandel ∂σ/∂ε (not
necessarily symmetric), ``failed`` ``(n,)`` bool — True where the local Newton did not converge; the
values of those points are the last (finite) iterate, never NaN: the caller must cut the step;
``nonfinite`` ``(n,)`` bool — True where the law itself returned NaN/Inf (a UMAT: also ``failed``; a
defect of the law or its parameters that a smaller step does not cure, reported as such by the ROM).

``law.state_view(state, name)`` returns the slice of one internal variable: ``(n,)`` for size 1,
``(n, size)`` otherwise — a view into ``state`` for built-in laws.

Bad input (NaN/inf strain or temperature, wrong shapes, temperature outside a table) raises
:class:`~dromo.errors.InputError`.
"""
from dataclasses import dataclass

import numpy as np

from ..errors import InputError


@dataclass
class LawResult:
    """Output of :meth:`Law.update` (see the module docstring for shapes and conventions)."""
    stress: np.ndarray
    state: np.ndarray
    tangent: np.ndarray
    failed: np.ndarray
    #: (n,) bool, points where the law produced NaN/Inf (also ``failed``); None when the law cannot
    nonfinite: np.ndarray = None
    #: (n, 14) the tangent's structure when asked for (``tangent`` is then None): see :meth:`Law.update`
    tangent_parts: np.ndarray = None


#: the structured tangent's constant matrices (Mandel): J ones on the normal block; D the deviatoric
#: projector there and the identity on the shears (``C = Kb J + cdev D + u ⊗ n``, :meth:`Law.update`)
TANGENT_J = np.zeros((6, 6))
TANGENT_J[:3, :3] = 1.0
TANGENT_D = np.diag([0.0, 0.0, 0.0, 1.0, 1.0, 1.0])
TANGENT_D[:3, :3] = np.eye(3) - 1.0 / 3.0


def tangent_from_parts(parts):
    """The tangents ``(n, 6, 6)`` of structured tangents ``(n, 14)`` (:meth:`Law.update`, ``tangent="parts"``)."""
    parts = np.asarray(parts, dtype=float).reshape(-1, 14)
    return (parts[:, 0, None, None] * TANGENT_J + parts[:, 1, None, None] * TANGENT_D
            + parts[:, 2:8, None] * parts[:, None, 8:14])


def check_parameters(d, known, where):
    """InputError naming every key of the table ``d`` that is not in ``known`` (a dict key -> doc, or a
    set), with the keys that are accepted; ``where`` names the material (and sub-table)."""
    extra = sorted(set(d) - set(known))
    if extra:
        raise InputError(f"{where}: unknown parameter(s) {extra} (known: {sorted(known)})")


class Law:
    """Base class: named state layout, input checks and chunked evaluation.

    Subclasses set ``name``, ``state_names``, ``state_sizes`` in ``__init__`` (then call
    :meth:`_layout`) and implement ``_update_chunk(eps, deps, state_old, T_old, T_new, dt, time, out)``
    where ``out`` is a :class:`LawResult` of preallocated arrays for the chunk (views), filled in place.
    Points are processed in chunks of ``chunk_size`` so that temporaries stay in cache; this is a loop
    over blocks of thousands of points, not per point.
    """

    name = "law"
    chunk_size = 4096

    def _layout(self):
        self.n_state = int(sum(self.state_sizes[k] for k in self.state_names))
        self._offsets = {}
        off = 0
        for k in self.state_names:
            self._offsets[k] = off
            off += self.state_sizes[k]

    def initial_state(self, n_points):
        """Virgin state, ``(n_points, n_state)`` zeros."""
        return np.zeros((int(n_points), self.n_state))

    def state_view(self, state, name):
        """Slice of the internal variable ``name`` in ``state`` ``(n, n_state)`` (a view)."""
        if name not in self._offsets:
            raise InputError(f"law {self.name!r} has no internal variable {name!r} (has {self.state_names})")
        o, s = self._offsets[name], self.state_sizes[name]
        return state[:, o] if s == 1 else state[:, o:o + s]

    # ------------------------------------------------------------------------------------------------
    def tangent_parts_supported(self):
        """True when :meth:`update` can give its tangent as ``tangent="parts"`` (see there)."""
        return False

    def update(self, eps_old, deps, state_old, T_old, T_new, dt, time=0.0, tangent="full"):
        """Integrate the law over one increment for all points (see the module docstring).

        ``tangent="parts"`` (laws whose :meth:`tangent_parts_supported`): the result's ``tangent`` is None and
        ``tangent_parts`` ``(n, 14)`` holds, per point, ``Kb, cdev, u (6), n (6)`` with the consistent
        tangent ``C = Kb J + cdev D + u ⊗ n`` (J: ones on the normal 3 × 3 block; D: the deviatoric projector
        there and the identity on the shears; Mandel): an isotropic part and a rank-one part, which a
        reduced tangent sums cheaply."""
        eps_old, deps, state_old, T_old, T_new = self._check(eps_old, deps, state_old, T_old, T_new, dt)
        n = eps_old.shape[0]
        parts = tangent == "parts"
        if parts and not self.tangent_parts_supported():
            raise InputError(f"law {self.name!r}: no structured tangent (tangent='parts')")
        out = LawResult(np.empty((n, 6)), np.empty((n, self.n_state)), None if parts else np.empty((n, 6, 6)),
                        np.zeros(n, dtype=bool), np.zeros(n, dtype=bool),
                        np.empty((n, 14)) if parts else None)
        cs = max(int(self.chunk_size), 1)
        for a in range(0, n, cs):
            b = min(a + cs, n)
            sl = slice(a, b)
            o = LawResult(out.stress[sl], out.state[sl], None if parts else out.tangent[sl], out.failed[sl],
                          out.nonfinite[sl], out.tangent_parts[sl] if parts else None)
            self._update_chunk(eps_old[sl], deps[sl], state_old[sl], T_old[sl], T_new[sl],
                               float(dt), float(time), o)
        return out

    def _check(self, eps_old, deps, state_old, T_old, T_new, dt):
        eps_old = np.asarray(eps_old, dtype=float)
        deps = np.asarray(deps, dtype=float)
        state_old = np.asarray(state_old, dtype=float)
        if eps_old.ndim != 2 or eps_old.shape[1] != 6 or deps.shape != eps_old.shape:
            raise InputError(f"law {self.name!r}: eps_old and deps must both have shape (n, 6), "
                             f"got {eps_old.shape} and {deps.shape}")
        n = eps_old.shape[0]
        if state_old.shape != (n, self.n_state):
            raise InputError(f"law {self.name!r}: state_old must have shape ({n}, {self.n_state}), "
                             f"got {state_old.shape}")
        for label, a in (("eps_old", eps_old), ("deps", deps), ("state_old", state_old)):
            if not all_finite(a):
                bad = int(np.argwhere(~np.isfinite(a))[0][0])
                raise InputError(f"law {self.name!r}: non-finite {label} at point {bad}")
        Ts = []
        for label, T in (("T_old", T_old), ("T_new", T_new)):
            T = np.asarray(T, dtype=float)
            if T.ndim == 0:
                T = np.full(n, float(T))
            if T.shape != (n,):
                raise InputError(f"law {self.name!r}: {label} must be a scalar or shape ({n},), got {T.shape}")
            if not all_finite(T):
                raise InputError(f"law {self.name!r}: non-finite temperature {label}")
            Ts.append(T)
        if not np.isfinite(dt) or dt < 0:
            raise InputError(f"law {self.name!r}: time increment dt must be finite and >= 0, got {dt!r}")
        return eps_old, deps, state_old, Ts[0], Ts[1]

    def _update_chunk(self, eps_old, deps, state_old, T_old, T_new, dt, time, out):  # pragma: no cover
        raise NotImplementedError


def all_finite(a):
    """True when every value of the float array ``a`` is finite. One sum first (a NaN or an infinity makes it
    non-finite; no boolean temporary), the elementwise test only when the sum is not finite (which finite
    values can also give, by overflow)."""
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(np.add.reduce(a, axis=None)):
            return True
    return bool(np.isfinite(a).all())


def col(x):
    """A parameter value (float or (n,) array) ready to broadcast against (n, k) arrays."""
    return x if np.ndim(x) == 0 else np.asarray(x)[:, None]
