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
from ..io.fields import DISPLACEMENT, MANDEL_COMPONENTS, STRAIN, STRESS, TEMPERATURE, VECTOR_COMPONENTS
from ..parallel.errors import collective

MANDEL = list(MANDEL_COMPONENTS)


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
    from .points import gather_internal
    return gather_internal(problem.groups, [g.ips for g in problem.groups], state.internal, name,
                           problem.state_layout[name], problem.dm.n_ip_local)


def _packed_internal(problem, state):
    from .points import pack_internal
    return pack_internal(problem.groups, [g.ips for g in problem.groups], state.internal, problem.dm.n_ip_local)


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
                archive.write_mesh(problem.dm)
            archive.create_field(DISPLACEMENT, "node", 3, components=list(VECTOR_COMPONENTS),
                                 description="displacement")
            archive.create_field(STRESS, "ip", 6, components=MANDEL, description="stress (Mandel)")
            archive.create_field(STRAIN, "ip", 6, components=MANDEL, description="total strain (Mandel)")
            for name, size in problem.state_layout.items():
                archive.create_field(name, "ip", size, components=MANDEL if size == 6 else None,
                                     description=f"internal variable {name}")
            if problem.has_temperature:
                archive.create_field(TEMPERATURE, "ip", 1, components=["T"], description="temperature")

    def write(self, state):
        ar, pb = self.archive, self.problem
        t = state.time
        ar.append_step(DISPLACEMENT, self.rn.owned_to_natural(state.u), t)
        ar.append_step(STRESS, self.ri.owned_to_natural(state.stress), t)
        ar.append_step(STRAIN, self.ri.owned_to_natural(state.eps), t)
        for name in pb.state_layout:
            ar.append_step(name, self.ri.owned_to_natural(internal_field(pb, state, name)), t)
        if pb.has_temperature:
            ar.append_step(TEMPERATURE, self.ri.owned_to_natural(state.temperature[:, None]), t)

    def n_steps(self):
        return self.archive.field_info(DISPLACEMENT)["n_steps"]

    def truncate(self, n_steps):
        """Drop output steps beyond ``n_steps`` (after a restart from an older checkpoint)."""
        self.archive.truncate_steps(n_steps)


# ---------------------------------------------------------------------------------------- checkpoint
def write_checkpoint(archive, problem, state, stepping, n_output_steps):
    """Write ``state`` and the time-stepping counters ``stepping`` (dict) into ``/checkpoint``."""
    dm = problem.dm
    rn, ri = dm.redistributor("node"), dm.redistributor("ip")
    g = archive.require_group("checkpoint")
    archive.write_natural(f"{g}/u", rn.owned_to_natural(state.u), dm.n_nodes_global)
    archive.write_natural(f"{g}/eps", ri.owned_to_natural(state.eps), dm.n_ip_global)
    archive.write_natural(f"{g}/stress", ri.owned_to_natural(state.stress), dm.n_ip_global)
    archive.write_natural(f"{g}/internal", ri.owned_to_natural(_packed_internal(problem, state)), dm.n_ip_global)
    archive.write_natural(f"{g}/temperature", ri.owned_to_natural(state.temperature), dm.n_ip_global)
    attrs = {"time": float(state.time), "increment": int(state.increment), "n_output_steps": int(n_output_steps),
             "n_state": [int(g_.law.n_state) for g_ in problem.groups]}
    attrs.update({f"stepping_{k}": v for k, v in stepping.items()})
    archive.set_attrs(g, attrs)


def read_checkpoint(archive, problem):
    """Read ``/checkpoint``: returns (State, stepping dict, n_output_steps). Any rank count."""
    dm = problem.dm
    with collective(dm.comm):
        if not archive.has("checkpoint"):
            raise InputError(f"{archive.final_path}: no checkpoint in this archive")
    attrs = archive.get_attrs("checkpoint")
    n_state = [int(v) for v in np.atleast_1d(attrs["n_state"])]
    with collective(dm.comm):
        if n_state != [gr.law.n_state for gr in problem.groups]:
            raise InputError(f"{archive.final_path}: checkpoint internal variables {n_state} do not match "
                             f"the case's laws {[gr.law.n_state for gr in problem.groups]}")
    rn, ri = dm.redistributor("node"), dm.redistributor("ip")

    def read(name, n):
        try:
            return archive.read_natural(f"checkpoint/{name}", n)
        except InputError as e:
            raise InputError(f"{archive.final_path}: checkpoint is for another mesh or damaged ({e})") from None
    u = rn.natural_to_owned(read("u", dm.n_nodes_global))
    eps = ri.natural_to_owned(read("eps", dm.n_ip_global))
    stress = ri.natural_to_owned(read("stress", dm.n_ip_global))
    packed = ri.natural_to_owned(read("internal", dm.n_ip_global))
    temp = ri.natural_to_owned(read("temperature", dm.n_ip_global))
    internal = [packed[gr.ips, :gr.law.n_state].copy() for gr in problem.groups]
    stepping = {k[len("stepping_"):]: v for k, v in attrs.items() if k.startswith("stepping_")}
    st = State(float(attrs["time"]), u, eps, stress, internal, temp, int(attrs["increment"]))
    return st, stepping, int(attrs["n_output_steps"])
