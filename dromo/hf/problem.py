"""A high-fidelity case: distributed mesh, materials per element set, loads, amplitudes, time stepping.

Python API::

    from dromo.hf import Problem, Displacement, Pressure, TimeStepping, run
    pb = Problem(mesh,                                   # MeshData, DistributedMesh or a mesh file
                 materials={"all": {"type": "von_mises", "E": 200e3, "nu": 0.3, "R0": 250.0,
                                    "density": 7.8e-9}},   # element set -> law dict (+ density)
                 loads=[Displacement("xmin", {"x": 0, "y": 0, "z": 0}),
                        Displacement("xmax", {"x": 0.02}, amplitude="cycle")],
                 amplitudes={"cycle": [[0, 0], [1, 1], [2, -1]]},
                 time=TimeStepping(end=2.0, dt=0.1))
    run(pb, "result.h5")

Construction is collective and checks everything against the mesh: unknown node/element/facet sets,
amplitudes and components, elements without a material (or with two) raise
:class:`~dromo.errors.InputError` naming the item. Loads are turned into unit vectors once; at time t
:meth:`Problem.external_force`, :meth:`Problem.prescribed_values` and :meth:`Problem.temperature_at`
combine them with their amplitudes.
"""
from dataclasses import dataclass, fields

import numpy as np
from mpi4py import MPI

from ..errors import InputError
from ..parallel.errors import collective
from ..parallel.log import get_logger
from .loads import (Amplitude, Centrifugal, Displacement, Gravity, Pressure, Temperature,
                    resolve_amplitude)

log = get_logger(__name__)


@dataclass
class TimeStepping:
    """Time stepping and Newton settings.

    ``end``: final time; ``dt``: first (and nominal) increment; ``dt_min``/``dt_max``: bounds of the
    automatic step (``dt_min`` default dt·1e-4, ``dt_max`` default dt); ``fixed``: no cut-back and no
    regrowth (CalculiX ``DIRECT``); ``cutback``: factor on failure; ``growth``: factor after
    ``easy_increments`` consecutive increments converged in at most ``easy_iterations`` iterations.
    Newton: converged when the residual on free dofs ≤ max(rtol · F, atol), F = max(‖f_ext‖,
    ‖f_int‖ (with reactions)); at most ``max_iterations``.
    Linear solver (:class:`~dromo.hf.newton.NewtonSolver`): ``linear_solver`` ``"auto"`` (MUMPS LU up
    to ``direct_max_dofs`` global dofs, GAMG beyond: below about 2e4 dofs MUMPS is as fast or faster
    on every geometry tried, above it GAMG is faster on compact parts (1.2–1.5× at 6e4 dofs on 1 rank)
    and scales better (1.9× vs 1.5× on 2 ranks), while slender parts (the blade) need 30–45 GAMG
    iterations per solve, so that up to a few 1e4 dofs ``linear_solver = "direct"`` is faster there),
    ``"direct"`` or ``"iterative"``;
    ``reuse_preconditioner``: keep the LU factors / GAMG hierarchy over the Newton iterations and, with
    ``reuse_across_increments`` (default), over the increments; rebuilt after a solve with the old one
    took more than ``reuse_max_its`` iterations or twice as many as with a fresh one. The solver's
    history is reset at every checkpoint, so a restart still reproduces the uninterrupted run bit for
    bit; without ``reuse_across_increments`` an increment's result depends on its start state only
    (not on the solver's history, which changes results at the linear tolerance). ``inexact_newton``:
    Eisenstat–Walker KSP tolerances, never below ``ksp_rtol``.
    """
    end: float = 1.0
    dt: float = 0.1
    start: float = 0.0
    dt_min: float = None
    dt_max: float = None
    fixed: bool = False
    cutback: float = 0.5
    growth: float = 1.5
    easy_iterations: int = 4
    easy_increments: int = 2
    max_iterations: int = 20
    rtol: float = 1e-8
    atol: float = 1e-10
    ksp_rtol: float = 1e-10
    max_increments: int = 100000
    linear_solver: str = "auto"
    direct_max_dofs: int = 20000
    reuse_preconditioner: bool = True
    reuse_max_its: int = 25
    reuse_across_increments: bool = True
    inexact_newton: bool = True

    def __post_init__(self):
        for k in ("end", "dt", "start", "cutback", "growth", "rtol", "atol", "ksp_rtol"):
            v = getattr(self, k)
            try:
                setattr(self, k, float(v))
            except (TypeError, ValueError):
                raise InputError(f"time.{k}: expected a number, got {v!r}") from None
        if self.dt <= 0 or self.end <= self.start:
            raise InputError(f"time: need dt > 0 and end > start (dt = {self.dt}, start = {self.start}, "
                             f"end = {self.end})")
        self.dt_min = self.dt * 1e-4 if self.dt_min is None else float(self.dt_min)
        self.dt_max = self.dt if self.dt_max is None else float(self.dt_max)
        if not 0 < self.dt_min <= self.dt <= self.dt_max:
            raise InputError(f"time: need 0 < dt_min <= dt <= dt_max (got {self.dt_min}, {self.dt}, "
                             f"{self.dt_max})")
        if self.linear_solver not in ("auto", "direct", "iterative"):
            raise InputError(f"time.linear_solver: expected 'auto', 'direct' or 'iterative', got "
                             f"{self.linear_solver!r}")
        if not 0 < self.cutback < 1 or self.growth < 1:
            raise InputError("time: need 0 < cutback < 1 and growth >= 1")

    @classmethod
    def from_dict(cls, d, where="time"):
        known = {f.name for f in fields(cls)}
        extra = set(d) - known
        if extra:
            raise InputError(f"{where}: unknown key(s) {sorted(extra)} (known: {sorted(known)})")
        return cls(**d)


class Problem:
    """A quasi-static small-strain case on a distributed mesh (see the module docstring).

    Attributes used by the solver: ``dm`` (DistributedMesh), ``groups`` (list of
    :class:`MaterialGroup`), ``dirichlet_dofs`` (owned global dofs), ``time`` (:class:`TimeStepping`),
    ``comm``, ``state_layout`` (output name -> size over all laws).
    """

    def __init__(self, mesh, materials, loads=(), amplitudes=None, temperature=None, time=None,
                 comm=None, name="case", petsc_prefix=None):
        from ..mesh.distributed import DistributedMesh
        comm = comm or getattr(mesh, "comm", None) or MPI.COMM_WORLD
        self.comm = comm
        self.name = name
        self.petsc_prefix = petsc_prefix
        if isinstance(mesh, DistributedMesh):
            dm = mesh
        elif isinstance(mesh, str):
            from ..io.archive import distributed_mesh
            dm = distributed_mesh(mesh, comm)
        else:
            dm = DistributedMesh(mesh, comm)
        self.dm = dm
        self.time = time if isinstance(time, TimeStepping) else TimeStepping.from_dict(time or {})
        amplitudes = dict(amplitudes or {})
        with collective(comm):
            self.amplitudes = {k: (v if callable(v) else Amplitude(k, v)) for k, v in amplitudes.items()}
        self._setup_materials(materials)
        self.loads = list(loads)
        self._setup_loads()
        self.temperature = temperature
        self._setup_temperature()

    # ------------------------------------------------------------------ materials
    def _setup_materials(self, materials):
        from ..materials.base import Law
        from ..materials.registry import make_law
        dm = self.dm
        if not materials:
            raise InputError(f"{self.name}: no materials (give element set -> material)")
        which = [np.full(len(b.cells), -1) for b in dm.blocks]
        self.groups = []
        for k, (elset, spec) in enumerate(materials.items()):
            masks = dm.element_set_mask(elset)                 # InputError if unknown (collective)
            with collective(self.comm):
                density = 0.0
                if isinstance(spec, Law):
                    law = spec
                elif isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[0], Law):
                    law, density = spec
                elif isinstance(spec, dict):
                    d = dict(spec)
                    density = d.pop("density", 0.0)
                    d.setdefault("name", f"material of {elset}")
                    law = make_law(d)
                else:
                    raise InputError(f"{self.name}: material of element set {elset!r} must be a law table "
                                     f"or a Law, got {type(spec).__name__}")
                density = float(density)
                for b, blk in enumerate(dm.blocks):
                    clash = masks[b] & (which[b] >= 0)
                    if clash.any():
                        other = list(materials)[which[b][clash][0]]
                        raise InputError(f"{self.name}: element {blk.ids[clash][0]} is in element sets "
                                         f"{other!r} and {elset!r}, both with a material")
                    which[b][masks[b]] = k
            self.groups.append(MaterialGroup(elset, law, density, None,
                                             dict(spec) if isinstance(spec, dict) else None))
        with collective(self.comm):
            for b, blk in enumerate(dm.blocks):
                if (which[b] < 0).any():
                    i = int(np.flatnonzero(which[b] < 0)[0])
                    raise InputError(f"{self.name}: element {blk.ids[i]} has no material (it is in none of "
                                     f"the element sets {', '.join(map(repr, materials))})")
        ip_mat = np.empty(dm.n_ip_local, dtype=np.int64)
        for b, blk in enumerate(dm.blocks):
            ip_mat[blk.ip_start: blk.ip_start + blk.n_ip] = np.repeat(which[b], blk.n_qp)
        self.ip_material = ip_mat
        for k, g in enumerate(self.groups):
            g.ips = np.flatnonzero(ip_mat == k)
        self.density = {g.elset: g.density for g in self.groups}
        # union of the named internal variables (output fields)
        layout = {}
        for g in self.groups:
            for nm in g.law.state_names:
                size = g.law.state_sizes[nm]
                if layout.setdefault(nm, size) != size:
                    raise InputError(f"{self.name}: internal variable {nm!r} has size {layout[nm]} in one "
                                     f"law and {size} in another")
        self.state_layout = layout

    # ------------------------------------------------------------------ loads
    def _setup_loads(self):
        from ..fem.linear import owned_dofs_of_nodes
        from ..fem.operators import body_force, pressure_load
        dm = self.dm
        dofs, vals, term_idx = [], [], []
        self._dirichlet_terms = []
        self._neumann_terms = []
        for i, ld in enumerate(self.loads):
            where = f"{self.name}: load {i + 1} ({type(ld).__name__.lower()})"
            if isinstance(ld, Displacement):
                nodes = dm.node_set(ld.set)
                with collective(self.comm):
                    if self.comm.allreduce(len(nodes)) == 0 and dm.stripes.set_size("node", ld.set) == 0:
                        raise InputError(f"{where}: node set {ld.set!r} is empty")
                    amp = resolve_amplitude(ld.amplitude, self.amplitudes, where)
                for c, v in ld.values.items():
                    d = owned_dofs_of_nodes(dm, nodes, (c,))
                    dofs.append(d)
                    vals.append(np.full(d.size, v))
                    term_idx.append(np.full(d.size, len(self._dirichlet_terms)))
                    self._dirichlet_terms.append(DirichletTerm(("displacement", ld.set, "xyz"[c]), None, v, amp))
            elif isinstance(ld, Pressure):
                with collective(self.comm):
                    amp = resolve_amplitude(ld.amplitude, self.amplitudes, where)
                self._neumann_terms.append(NeumannTerm(("pressure", ld.set), pressure_load(dm, ld.set, 1.0),
                                                       float(ld.value), amp))
            elif isinstance(ld, (Gravity, Centrifugal)):
                with collective(self.comm):
                    amp = resolve_amplitude(ld.amplitude, self.amplitudes, where)
                    if all(g.density == 0 for g in self.groups):
                        raise InputError(f"{where}: no material has a density")
                    if isinstance(ld, Gravity):
                        acc = np.asarray(ld.acceleration, dtype=float)
                        if acc.shape != (3,):
                            raise InputError(f"{where}: acceleration must be a 3-vector")
                        f = acc
                    else:
                        f = ld.force_density()
                key = ("gravity",) if isinstance(ld, Gravity) else ("centrifugal",)
                self._neumann_terms.append(NeumannTerm(key, body_force(dm, f, density=self.density), 1.0, amp))
            else:
                raise InputError(f"{where}: unknown load type {type(ld).__name__}")
        if dofs:
            d = np.concatenate(dofs)
            v = np.concatenate(vals)
            a = np.concatenate(term_idx)
            # the last load on a dof wins
            order = np.arange(d.size)[::-1]
            _u, first = np.unique(d[order], return_index=True)
            keep = np.sort(order[first])
            self.dirichlet_dofs, self._dirichlet_value, self._dirichlet_term = d[keep], v[keep], a[keep]
        else:
            self.dirichlet_dofs = np.zeros(0, np.int64)
            self._dirichlet_value = np.zeros(0)
            self._dirichlet_term = np.zeros(0, np.int64)
        for k, term in enumerate(self._dirichlet_terms):
            term.dofs = self.dirichlet_dofs[self._dirichlet_term == k]
        n_d = self.comm.allreduce(self.dirichlet_dofs.size)
        if n_d == 0:
            log.warning("%s: no imposed displacement: the problem is only defined if the loads are "
                        "self-equilibrated and the KSP handles the rigid modes", self.name)

    def dirichlet_terms(self):
        """The imposed displacements as affine terms: a list of :class:`DirichletTerm`, one per
        (node set, component) of the case's ``Displacement`` loads, in case order. ``term.dofs`` are the
        owned global dofs where that term is imposed (where several loads impose the same dof, the last
        one wins, so the terms' dofs are disjoint and their union is :attr:`dirichlet_dofs`); the imposed
        value there at time t is ``term.value * term.amplitude(t)``."""
        return list(self._dirichlet_terms)

    def neumann_terms(self):
        """The external forces as affine terms: a list of :class:`NeumannTerm`, one per load, in case
        order; ``f_ext(t) = Σ term.scale · term.amplitude(t) · term.vector``. Pressure terms hold the nodal
        forces of a unit pressure (``scale`` = the case's pressure); body-force terms (gravity,
        centrifugal) their full force (``scale`` = 1)."""
        return list(self._neumann_terms)

    def prescribed_values(self, t):
        """Imposed displacement values at time t on :attr:`dirichlet_dofs` (owned, global dofs)."""
        if not self._dirichlet_terms:
            return np.zeros(0)
        a = np.array([term.value * term.amplitude(t) for term in self._dirichlet_terms])
        return a[self._dirichlet_term]

    def external_force(self, t, vec=None):
        """f_ext(t) = Σ a_i(t) f_i (ghosted Vec)."""
        if vec is None:
            vec = self.dm.create_vector(3)
        vec.set(0.0)
        for term in self._neumann_terms:
            vec.axpy(term.scale * term.amplitude(t), term.vector)
        return vec

    # ------------------------------------------------------------------ temperature
    def _setup_temperature(self):
        from ..fem.operators import ip_coordinates
        T = self.temperature
        self._ip_x = None
        self._T_series = None
        self._T_offset = None
        if T is None:
            return
        if isinstance(T, (int, float)):
            T = self.temperature = Temperature(value=float(T))
        if isinstance(T, dict):
            T = self.temperature = Temperature(**T)
        with collective(self.comm):
            self._T_amp = resolve_amplitude(T.amplitude, self.amplitudes, f"{self.name}: temperature")
        if T.file is not None:
            self._T_series = _nodal_series_at_ips(self.dm, T.file, T.field)
        else:
            self._ip_x = ip_coordinates(self.dm)
        if T.offset is not None:
            self._T_offset = np.asarray(T.offset.at_ips(self.dm), dtype=float).reshape(self.dm.n_ip_local)

    @property
    def has_temperature(self):
        return self.temperature is not None

    def temperature_at(self, t):
        """Temperature at the local integration points (n_ip_local,) at time t (0 without temperature)."""
        if self.temperature is None:
            return np.zeros(self.dm.n_ip_local)
        if self._T_series is not None:
            from .points import interpolate_series
            return interpolate_series(*self._T_series, t)
        with collective(self.comm):
            a = self._T_amp(t)
            out = self.temperature.evaluate(self._ip_x, t, a)
            if self._T_offset is not None:
                out = out + a * self._T_offset
        return out

    # ------------------------------------------------------------------ constitutive update
    def update_laws(self, eps_old, deps, internal_old, T_old, T_new, dt, time):
        """Every law over its points (backward Euler over one increment): returns (stress (n_ip_local, 6),
        internal list (per material group), tangent (n_ip_local, 6, 6), n_failed (global count))."""
        from .points import update_groups
        with collective(self.comm):
            stress, internal, tangent, failed = update_groups(
                self.groups, [g.ips for g in self.groups], self.dm.n_ip_local, eps_old, deps, internal_old, T_old,
                T_new, dt, time)
        failed = self.comm.allreduce(failed)
        return stress, internal, tangent, failed

    def initial_internal(self):
        return [g.law.initial_state(len(g.ips)) for g in self.groups]

    # ------------------------------------------------------------------ restriction to points
    def restrict(self, point_ids):
        """The case's laws, internal variables and temperature at the integration points ``point_ids``
        (natural ids, any order, replicated) that this rank owns: a :class:`~dromo.hf.points.PointProblem`
        whose points are those, in increasing natural id, with the extra attribute ``rows`` (their
        indices among this rank's integration points). Local (no communication).
        """
        from .points import PointGroup, PointProblem, PointTemperature
        dm = self.dm
        want = np.unique(np.asarray(point_ids, dtype=np.int64))
        nat = np.asarray(dm.ip_natural, dtype=np.int64)
        rows = np.flatnonzero(np.isin(nat, want))
        rows = rows[np.argsort(nat[rows], kind="stable")]
        mat = self.ip_material[rows]
        groups = [PointGroup(g.elset, g.law, np.flatnonzero(mat == k)) for k, g in enumerate(self.groups)]
        T = self.temperature
        if T is None:
            temp = PointTemperature(rows.size)
        elif self._T_series is not None:
            times, values = self._T_series
            temp = PointTemperature(rows.size, series=(times, values[:, rows]))
        else:
            temp = PointTemperature(rows.size, spec=T, coordinates=self._ip_x[rows], amplitude=self._T_amp,
                                    offset=None if self._T_offset is None else self._T_offset[rows])
        pp = PointProblem(groups, temp, self.time, nat[rows], name=self.name)
        pp.rows = rows
        return pp


@dataclass
class DirichletTerm:
    """One imposed (node set, component): ``key = ("displacement", set, "x"|"y"|"z")``; the value at
    time t is ``value * amplitude(t)`` [L] on ``dofs`` (owned global dofs where this term wins)."""
    key: tuple
    dofs: np.ndarray
    value: float
    amplitude: object


@dataclass
class NeumannTerm:
    """One external load: ``key`` (``("pressure", set)``, ``("gravity",)``, ``("centrifugal",)``),
    ``vector`` (ghosted PETSc Vec of nodal forces [F]), contributing ``scale * amplitude(t) * vector``."""
    key: tuple
    vector: object
    scale: float
    amplitude: object


@dataclass
class MaterialGroup:
    """The integration points of one element set with one law (``spec``: the law table it was made
    from, when it was given as a table)."""
    elset: str
    law: object
    density: float
    ips: np.ndarray
    spec: dict = None


def nodal_to_ips(dm, owned):
    """Nodal scalar fields given on the owned nodes ``(n_owned_nodes, F)`` (PETSc order) interpolated by the
    shape functions to this rank's integration points: ``(F, n_ip_local)``. Collective (ghost update)."""
    from ..fem.operators import cell_chunks as _chunks
    from ..mesh.elements import get_element
    from ..mesh.quadrature import element_rule
    owned = np.asarray(owned, dtype=float).reshape(dm.n_owned_nodes, -1)
    F = owned.shape[1]
    vec = dm.create_vector(F)
    with vec.localForm() as lf:
        lf.array[:owned.size] = owned.reshape(-1)
    local = dm.to_local(vec)                                                 # (n_local, F)
    vec.destroy()
    out = np.empty((F, dm.n_ip_local))
    for blk in dm.blocks:
        N = get_element(blk.type).shape_and_dshape(element_rule(blk.type, blk.rule).points)[0]
        for s, e in _chunks(blk):
            v = np.einsum("qa,eaf->feq", N, local[blk.cells[s:e]])
            out[:, blk.ip_start + s * blk.n_qp: blk.ip_start + e * blk.n_qp] = v.reshape(F, -1)
    return out


def _nodal_series_at_ips(dm, path, field):
    """Read a nodal scalar time series from a dromo archive, interpolate it to the local points."""
    from ..io.archive import Archive
    with Archive.open(path, dm.comm) as ar:
        info = ar.field_info(field)
        with collective(dm.comm):
            if info["location"] != "node" or info["n_items"] != dm.n_nodes_global:
                raise InputError(f"{path}: field {field!r} must be nodal on this mesh "
                                 f"({dm.n_nodes_global} nodes), has {info['n_items']} {info['location']} items")
        block = ar.read_steps(field, slice(0, info["n_steps"]))[:, :, 0]      # (F, natural block)
        times = np.asarray(info["time"], dtype=float)
    owned = dm.redistributor("node").natural_to_owned(block.T)               # (n_owned, F)
    out = nodal_to_ips(dm, owned)
    with collective(dm.comm):
        if np.any(np.diff(times) <= 0):
            raise InputError(f"{path}: field {field!r} times must be strictly increasing")
    return times, out
