"""The full mechanical state of a run, its output fields and its checkpoint in the dromo archive.

:class:`State` is distributed: ``u`` on the owned nodes, everything else on the local integration points
(rank order). It is all the reference solver needs to continue, and what the one-increment API takes
and returns.

Archive output (one step per converged increment, natural numbering, XDMF sidecar automatic):
``U`` (node, 3), ``S`` stress, ``E`` total strain (ip, Mandel 6), every internal variable of the laws
under its own name (``p``, ``eps_p``, ``alpha_1`` … ; zeros at points whose law lacks it), and ``T``
(ip, 1) when the case has a temperature. Checkpoint (``/checkpoint`` group, overwritten): the state in
natural numbering (internal variables packed per point, ``n_state_max`` columns), time, the
time-stepping counters and the number of output steps it belongs to.
"""
from dataclasses import dataclass, field, replace

import numpy as np

from ..errors import InputError
from ..parallel.comm import partition_range
from ..parallel.errors import collective

MANDEL = ["xx", "yy", "zz", "xy", "xz", "yz"]


@dataclass
class State:
    """Converged state at ``time``.

    u : (n_owned_nodes, 3) displacement of the owned nodes (PETSc order)
    eps, stress : (n_ip_local, 6) total strain and stress (Mandel)
    internal : list over the problem's material groups of (n_points_of_group, n_state) arrays
    temperature : (n_ip_local,) temperature of the state
    increment : number of converged increments so far
    info : solver statistics of the increment that produced it (Newton / KSP iterations)
    """
    time: float
    u: np.ndarray
    eps: np.ndarray
    stress: np.ndarray
    internal: list
    temperature: np.ndarray
    increment: int = 0
    info: dict = field(default_factory=dict)

    @classmethod
    def from_fields(cls, problem, time, u, eps, stress, fields, temperature=None, increment=0):
        """A state rebuilt from full fields (the inverse of :func:`internal_field`), e.g. reconstructed by
        the ROM: ``u (n_owned_nodes, 3)``, ``eps``/``stress (n_ip_local, 6)``, ``fields`` {internal variable
        name: (n_ip_local, size)} on the problem's local points. Every internal variable of every law must
        be given (an :class:`InputError` names the missing one); ``temperature`` defaults to the case's
        temperature at ``time``."""
        n = problem.dm.n_ip_local
        internal = []
        for g in problem.groups:
            st = g.law.initial_state(len(g.ips))
            for name in g.law.state_names:
                if name not in fields:
                    raise InputError(f"{problem.name}: state at t = {time:g}: internal variable {name!r} of law "
                                     f"{g.law.name!r} is missing (given: {sorted(fields)})")
                vals = np.asarray(fields[name], dtype=float).reshape(n, -1)[g.ips]
                view = g.law.state_view(st, name)
                view[...] = vals.reshape(view.shape)
            internal.append(st)
        T = problem.temperature_at(time) if temperature is None else np.asarray(temperature, dtype=float)
        return cls(float(time), np.asarray(u, dtype=float).reshape(-1, 3).copy(),
                   np.asarray(eps, dtype=float).reshape(n, 6).copy(),
                   np.asarray(stress, dtype=float).reshape(n, 6).copy(), internal, T, int(increment))

    def copy(self):
        return replace(self, u=self.u.copy(), eps=self.eps.copy(), stress=self.stress.copy(),
                       internal=[a.copy() for a in self.internal], temperature=self.temperature.copy(),
                       info=dict(self.info))


def initial_state(problem, time=None):
    """Virgin state at ``time`` (default: the start time): zero displacement, strain and stress."""
    dm = problem.dm
    t = problem.time.start if time is None else float(time)
    return State(t, np.zeros((dm.n_owned_nodes, 3)), np.zeros((dm.n_ip_local, 6)),
                 np.zeros((dm.n_ip_local, 6)), problem.initial_internal(), problem.temperature_at(t))


def internal_field(problem, state, name):
    """One internal variable over all local points (n_ip_local, size); zeros where the law lacks it."""
    size = problem.state_layout[name]
    out = np.zeros((problem.dm.n_ip_local, size))
    for g, st in zip(problem.groups, state.internal):
        if name in g.law.state_names:
            out[g.ips] = g.law.state_view(st, name).reshape(len(g.ips), size)
    return out


def _packed_internal(problem, state):
    width = max([g.law.n_state for g in problem.groups] + [1])
    out = np.zeros((problem.dm.n_ip_local, width))
    for g, st in zip(problem.groups, state.internal):
        out[g.ips, :st.shape[1]] = st
    return out


# ---------------------------------------------------------------------------------------- output
class OutputWriter:
    """Creates the output fields in an archive and appends one step per call of :meth:`write`."""

    def __init__(self, problem, archive, create=True):
        self.problem = problem
        self.archive = archive
        dm = problem.dm
        self.rn, self.ri = dm.redistributor("node"), dm.redistributor("ip")
        if create:
            if not archive.has_mesh():
                archive.write_mesh(problem.mesh)
            archive.create_field("U", "node", 3, components=["x", "y", "z"], description="displacement")
            archive.create_field("S", "ip", 6, components=MANDEL, description="stress (Mandel)")
            archive.create_field("E", "ip", 6, components=MANDEL, description="total strain (Mandel)")
            for name, size in problem.state_layout.items():
                archive.create_field(name, "ip", size, components=MANDEL if size == 6 else None,
                                     description=f"internal variable {name}")
            if problem.has_temperature:
                archive.create_field("T", "ip", 1, components=["T"], description="temperature")

    def write(self, state):
        ar, pb = self.archive, self.problem
        t = state.time
        ar.append_step("U", self.rn.owned_to_natural(state.u), t)
        ar.append_step("S", self.ri.owned_to_natural(state.stress), t)
        ar.append_step("E", self.ri.owned_to_natural(state.eps), t)
        for name in pb.state_layout:
            ar.append_step(name, self.ri.owned_to_natural(internal_field(pb, state, name)), t)
        if pb.has_temperature:
            ar.append_step("T", self.ri.owned_to_natural(state.temperature[:, None]), t)

    def n_steps(self):
        return self.archive.field_info("U")["n_steps"]

    def truncate(self, n_steps):
        """Drop output steps beyond ``n_steps`` (after a restart from an older checkpoint)."""
        for name in self.archive.fields():
            g = self.archive.h5["fields"][name]
            if g["values"].shape[0] > n_steps:
                for k in ("values", "time", "parameters"):
                    g[k].resize(n_steps, axis=0)


# ---------------------------------------------------------------------------------------- checkpoint
def _write_natural(h5group, name, block, n_items, comm):
    block = np.ascontiguousarray(block, dtype=np.float64)
    shape = (n_items,) + block.shape[1:]
    if name in h5group:
        del h5group[name]
    ds = h5group.create_dataset(name, shape=shape, dtype=np.float64)
    start, stop = partition_range(n_items, comm)
    with ds.collective:
        ds[start:stop] = block
    return ds


def _read_natural(h5group, name, n_items, comm):
    ds = h5group[name]
    start, stop = partition_range(n_items, comm)
    with ds.collective:
        return ds[start:stop]


def write_checkpoint(archive, problem, state, stepping, n_output_steps):
    """Write ``state`` and the time-stepping counters ``stepping`` (dict) into ``/checkpoint``."""
    dm = problem.dm
    comm = dm.comm
    rn, ri = dm.redistributor("node"), dm.redistributor("ip")
    g = archive.h5.require_group("checkpoint")
    _write_natural(g, "u", rn.owned_to_natural(state.u), dm.n_nodes_global, comm)
    _write_natural(g, "eps", ri.owned_to_natural(state.eps), dm.n_ip_global, comm)
    _write_natural(g, "stress", ri.owned_to_natural(state.stress), dm.n_ip_global, comm)
    _write_natural(g, "internal", ri.owned_to_natural(_packed_internal(problem, state)), dm.n_ip_global, comm)
    _write_natural(g, "temperature", ri.owned_to_natural(state.temperature), dm.n_ip_global, comm)
    g.attrs["time"] = float(state.time)
    g.attrs["increment"] = int(state.increment)
    g.attrs["n_output_steps"] = int(n_output_steps)
    g.attrs["n_state"] = [int(g_.law.n_state) for g_ in problem.groups]
    for k, v in stepping.items():
        g.attrs[f"stepping_{k}"] = v


def read_checkpoint(archive, problem):
    """Read ``/checkpoint``: returns (State, stepping dict, n_output_steps). Any rank count."""
    dm = problem.dm
    comm = dm.comm
    with collective(comm):
        if "checkpoint" not in archive.h5:
            raise InputError(f"{archive.final_path}: no checkpoint in this archive")
        g = archive.h5["checkpoint"]
        if g["u"].shape[0] != dm.n_nodes_global or g["eps"].shape[0] != dm.n_ip_global:
            raise InputError(f"{archive.final_path}: checkpoint is for another mesh "
                             f"({g['u'].shape[0]} nodes, {g['eps'].shape[0]} points)")
        n_state = list(g.attrs["n_state"])
        if n_state != [gr.law.n_state for gr in problem.groups]:
            raise InputError(f"{archive.final_path}: checkpoint internal variables {n_state} do not match "
                             f"the case's laws {[gr.law.n_state for gr in problem.groups]}")
    rn, ri = dm.redistributor("node"), dm.redistributor("ip")
    u = rn.natural_to_owned(_read_natural(g, "u", dm.n_nodes_global, comm))
    eps = ri.natural_to_owned(_read_natural(g, "eps", dm.n_ip_global, comm))
    stress = ri.natural_to_owned(_read_natural(g, "stress", dm.n_ip_global, comm))
    packed = ri.natural_to_owned(_read_natural(g, "internal", dm.n_ip_global, comm))
    temp = ri.natural_to_owned(_read_natural(g, "temperature", dm.n_ip_global, comm))
    internal = [packed[gr.ips, :gr.law.n_state].copy() for gr in problem.groups]
    stepping = {k[len("stepping_"):]: (v.item() if hasattr(v, "item") else v)
                for k, v in g.attrs.items() if k.startswith("stepping_")}
    st = State(float(g.attrs["time"]), u, eps, stress, internal, temp, int(g.attrs["increment"]))
    return st, stepping, int(g.attrs["n_output_steps"])
