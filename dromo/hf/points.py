"""A case's constitutive physics at a few integration points: :class:`PointProblem`.

The online ROM never touches the mesh: it needs, at its reduced points only, the law of each point
(with its internal variables), the temperature and the time stepping. :class:`PointProblem` holds
exactly that. It is built either from a full :class:`~dromo.hf.problem.Problem` by
:meth:`Problem.restrict(point_ids) <dromo.hf.problem.Problem.restrict>` (offline: the HF case restricted
to the points this rank owns), or directly from its parts (online: laws from the online case file,
point coordinates and temperature interpolation data from the ROM archive).

Nothing here is collective: a PointProblem is a rank's share of the points, its methods are local
(the caller sums what it needs across ranks).

Conventions: stresses, strains and tangents in Mandel notation (``xx, yy, zz, xy, xz, yz``, shears
× √2), temperatures in the case's unit, times in the case's unit.
"""
import math
from dataclasses import dataclass

import numpy as np

from ..errors import InputError


@dataclass
class PointGroup:
    """The points of one element set with one law: ``rows`` index the PointProblem's points."""
    elset: str
    law: object
    rows: np.ndarray


def interpolate_series(times, values, t):
    """A time series ``values (F, ...)`` at ``times (F,)`` (increasing), linear in time and constant
    beyond its ends, at time ``t``."""
    if t <= times[0]:
        return values[0].copy()
    if t >= times[-1]:
        return values[-1].copy()
    j = int(np.searchsorted(times, t, side="right")) - 1
    w = (t - times[j]) / (times[j + 1] - times[j])
    return (1 - w) * values[j] + w * values[j + 1]


def update_groups(groups, rows, n, eps_old, deps, internal_old, T_old, T_new, dt, time, nonfinite=None):
    """Backward-Euler update of every group's law (``groups[i].law``) over its points ``rows[i]`` of ``n``
    points: ``(stress (n, 6), internal list, tangent (n, 6, 6), number of points that failed here)``.
    ``nonfinite``: a list that receives the indices (of the n points) where a law returned NaN/Inf."""
    stress = np.empty((n, 6))
    tangent = np.empty((n, 6, 6))
    internal = []
    failed = 0
    for g, r, st in zip(groups, rows, internal_old):
        res = g.law.update(eps_old[r], deps[r], st, T_old[r], T_new[r], dt, time)
        stress[r] = res.stress
        tangent[r] = res.tangent
        internal.append(res.state)
        failed += int(np.count_nonzero(res.failed))
        if nonfinite is not None and getattr(res, "nonfinite", None) is not None:
            nonfinite.extend(np.asarray(r)[np.asarray(res.nonfinite, bool)].tolist())
    return stress, internal, tangent, failed


def gather_internal(groups, rows, internal, name, size, n):
    """One internal variable ``(n, size)`` over points whose groups (``groups``, each with a ``law``) hold
    the points ``rows[i]`` and the internal variables ``internal[i]``; zeros where a law lacks it."""
    out = np.zeros((n, size))
    for g, r, st in zip(groups, rows, internal):
        if name in g.law.state_names:
            out[r] = g.law.state_view(st, name).reshape(len(r), size)
    return out


def pack_internal(groups, rows, internal, n):
    """All internal variables packed per point ``(n, max n_state)`` (zero padded), same arguments."""
    out = np.zeros((n, max([g.law.n_state for g in groups] + [1])))
    for r, st in zip(rows, internal):
        out[r, :st.shape[1]] = st
    return out


class PointSubset:
    """Some of a point set's points, ``sel`` (indices into its ``n`` points, increasing), with the law groups
    restricted to them: ``groups`` (:class:`PointGroup` whose ``rows`` index the subset, only groups with
    points here), ``group_index`` (each one's index among the full groups) and ``in_group`` (the positions of
    its points among the full group's rows: where its internal variables are in the full group's arrays).

    The online stage splits its points in two such subsets: the points of the reduced integration (non-zero
    weight), whose laws run at every Newton iteration, and the points added for the dual fields' Gappy-POD only
    (zero weight), whose laws run once per increment at the converged strains."""

    def __init__(self, groups, sel, n):
        self.sel = np.asarray(sel, dtype=np.int64)
        self.n = self.sel.size
        pos = np.full(int(n), -1, dtype=np.int64)
        pos[self.sel] = np.arange(self.n)
        self.groups, self.group_index, self.in_group = [], [], []
        for gi, g in enumerate(groups):
            p = pos[np.asarray(g.rows, dtype=np.int64)]
            m = p >= 0
            if m.any():
                self.groups.append(PointGroup(g.elset, g.law, p[m]))
                self.group_index.append(gi)
                self.in_group.append(np.flatnonzero(m))
        self.whole = len(self.groups) == 1 and np.array_equal(self.groups[0].rows, np.arange(self.n))

    def take(self, internal):
        """This subset's internal variables, one array per group here, from the full groups' arrays
        ``internal`` (``[(n_group, n_state)]``)."""
        return [internal[gi][ing] for gi, ing in zip(self.group_index, self.in_group)]

    def store(self, internal, parts):
        """Write this subset's internal variables ``parts`` (as :meth:`take` gives them) into the full groups'
        arrays."""
        for gi, ing, st in zip(self.group_index, self.in_group, parts):
            internal[gi][ing] = st

    def update_laws(self, eps_old, deps, internal_old, T_old, T_new, dt, time, nonfinite=None):
        """:func:`update_groups` over this subset's points (arrays over the subset, internal variables as
        :meth:`take` gives them); ``nonfinite`` receives indices among the *full* points."""
        found = [] if nonfinite is not None else None
        out = update_groups(self.groups, [g.rows for g in self.groups], self.n, eps_old, deps, internal_old,
                            T_old, T_new, dt, time, nonfinite=found)
        if found:
            nonfinite.extend(self.sel[found].tolist())
        return out


class PointTemperature:
    """Temperature at a set of points over time.

    Either ``evaluate(t) -> (n,)`` from a :class:`~dromo.hf.loads.Temperature` (value, expression or
    function) evaluated at the point coordinates ``x (n, 3)`` with the amplitude ``amplitude(t)``, or
    a nodal time series already interpolated to the points: ``series = (times (F,), values (F, n))``,
    linear in time and constant beyond its ends. ``None`` temperature gives zeros. ``offset (n,)``: the
    values at the points of the spec's offset field δT (:class:`~dromo.hf.loads.Temperature`), added as
    ``amplitude(t) · offset``.

    A temperature that depends on the time only through the amplitude value ``a``
    (:attr:`Temperature.uses_time <dromo.hf.loads.Temperature.uses_time>` False: a value, or an expression
    without ``t``) is kept per value of ``a``, the last :data:`MEMO` of them: a periodic amplitude
    repeats its values every cycle, and the expression (about 0.05-0.2 ms per call on ~50 points, the
    reduced increment's largest cost after the laws) is then evaluated once per distinct value. The
    values returned are fresh arrays, bit for bit those of an evaluation.
    """

    #: values of the amplitude kept (least recently computed dropped first)
    MEMO = 64

    def __init__(self, n, spec=None, coordinates=None, amplitude=None, series=None, offset=None):
        self.n = int(n)
        self.offset = None if offset is None else np.asarray(offset, dtype=float).reshape(self.n)
        self.spec = spec
        self.x = None if coordinates is None else np.asarray(coordinates, dtype=float).reshape(-1, 3)
        self.amplitude = amplitude
        self.series = series
        if spec is not None and series is None and self.x is None:
            raise InputError("temperature at points: point coordinates are needed for this temperature")
        self._memo = {} if spec is not None and series is None and not spec.uses_time else None

    def __call__(self, t):
        if self.series is not None:
            return interpolate_series(*self.series, t)
        if self.spec is None:
            return np.zeros(self.n)
        if self.n == 0:
            return np.zeros(0)
        a = self.amplitude(t)
        if self._memo is None:
            return self._evaluate(t, a)
        key = (float(a), math.copysign(1.0, float(a)))        # 0.0 and -0.0 apart (e.g. arctan2(a, -1))
        out = self._memo.get(key)
        if out is None:
            if len(self._memo) >= self.MEMO:
                del self._memo[next(iter(self._memo))]
            out = self._memo[key] = self._evaluate(t, a)
        return out.copy()

    def _evaluate(self, t, a):
        out = self.spec.evaluate(self.x, t, a)
        return out if self.offset is None else out + a * self.offset


class PointProblem:
    """Laws, internal variables and temperature at ``n`` points (a rank's share). Not collective.

    Parameters
    ----------
    groups : list of :class:`PointGroup` (their ``rows`` partition ``range(n)``)
    temperature : :class:`PointTemperature`
    time : :class:`~dromo.hf.problem.TimeStepping`
    ids : (n,) natural integration-point ids (for messages and output)
    name : case name
    """

    def __init__(self, groups, temperature, time, ids, name="case"):
        self.groups = list(groups)
        self.temperature = temperature
        self.time = time
        self.ids = np.asarray(ids, dtype=np.int64)
        self.name = name
        self.n = self.ids.size
        seen = np.zeros(self.n, int)
        for g in self.groups:
            seen[g.rows] += 1
        if self.n and not (seen == 1).all():
            raise InputError(f"{name}: points without a law or with two laws: natural ids "
                             f"{self.ids[seen != 1][:10].tolist()}")

    @property
    def state_layout(self):
        """Internal variable name -> size, over all laws (as :attr:`Problem.state_layout`)."""
        layout = {}
        for g in self.groups:
            for nm in g.law.state_names:
                layout.setdefault(nm, g.law.state_sizes[nm])
        return layout

    def initial_internal(self):
        """Virgin internal variables: list over groups of ``(n_group, n_state)``."""
        return [g.law.initial_state(len(g.rows)) for g in self.groups]

    def temperature_at(self, t):
        """Temperature at the points, ``(n,)``."""
        return self.temperature(t)

    def update_laws(self, eps_old, deps, internal_old, T_old, T_new, dt, time):
        """Every law over its points for one increment (local, no MPI).

        Returns ``(stress (n, 6), internal (list per group), tangent (n, 6, 6), n_failed)``; the indices of
        the points where a law returned NaN/Inf are left in :attr:`nonfinite`.
        """
        self.nonfinite = []
        return update_groups(self.groups, [g.rows for g in self.groups], self.n, eps_old, deps, internal_old,
                             T_old, T_new, dt, time, nonfinite=self.nonfinite)

    def internal_field(self, internal, name):
        """One internal variable at all points ``(n, size)`` (zeros where the law lacks it)."""
        return gather_internal(self.groups, [g.rows for g in self.groups], internal, name,
                               self.state_layout[name], self.n)

    def packed_internal(self, internal):
        """Internal variables packed per point ``(n, max n_state)`` (zero padded)."""
        return pack_internal(self.groups, [g.rows for g in self.groups], internal, self.n)

    def unpack_internal(self, packed):
        """Inverse of :meth:`packed_internal`."""
        packed = np.asarray(packed, dtype=float).reshape(self.n, -1)
        return [packed[g.rows, :g.law.n_state].copy() for g in self.groups]
