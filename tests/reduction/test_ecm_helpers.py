"""Reference-solver snapshots shared by the ECM / EIM / hyper-reduction tests (no tests in this module).

A distorted hex8 bar (4 × 1 × 1, 6 × 2 × 2 cells, 384 integration points), elastoviscoplastic von Mises
law with kinematic hardening, clamped at x = 0 and driven at x = 4 by a cyclic imposed displacement
(x and y), solved by :mod:`dromo.hf` with a fixed step: 16 increments, about half a second serially.
Increments 2, 6, 10, 14 are held out, the others train.
"""
import numpy as np
from mpi4py import MPI

LAW = {"type": "von_mises", "E": 200e3, "nu": 0.3, "R0": 200.0, "H": 2000.0,
       "kinematic": [{"C": 30e3, "D": 300.0}], "flow": {"type": "norton", "K": 100.0, "n": 4.0}}

_CACHE = {}
TEST = np.arange(2, 16, 4)                      # held out: every fourth increment
TRAIN = np.setdiff1d(np.arange(16), TEST)


def hf_snapshots(comm):
    """Dict: dm, problem, U (3·n_owned, m) owned rows, S (n_ip_local, 6, m), p (n_ip_local, m),
    C (n_ip_local, 6, 6, m) consistent tangents, w (n_ip_local,), train / test step indices. Cached."""
    key = (comm.size, comm.py2f() if hasattr(comm, "py2f") else id(comm))
    if key in _CACHE:
        return _CACHE[key]
    from dromo.fem.operators import ip_weights
    from dromo.hf import Displacement, Problem, TangentSolver, TimeStepping, hf_increment, initial_state, internal_field
    from dromo.mesh.generate import box_mesh
    mesh = box_mesh(6, 2, 2, lengths=(4.0, 1.0, 1.0), element="hex8", distort=0.2, seed=1)
    dt = 0.25
    pb = Problem(mesh, {"all": LAW},
                 [Displacement("xmin", {"x": 0, "y": 0, "z": 0}),
                  Displacement("xmax", {"x": 0.012, "y": 0.006}, amplitude="cyc")],
                 amplitudes={"cyc": [[0, 0], [1, 1], [2, -1], [3, 0.5], [4, 1.2]]},
                 time=TimeStepping(end=4.0, dt=dt, fixed=True), comm=comm)
    st = initial_state(pb)
    solver = TangentSolver(pb)
    U, S, P, C = [], [], [], []
    for _ in range(16):
        new = hf_increment(pb, st, dt, solver=solver)
        T = new.temperature
        _s, _i, tan, _f = pb.update_laws(st.eps, new.eps - st.eps, st.internal, st.temperature, T, dt, new.time)
        U.append(new.u.reshape(-1))
        S.append(new.stress)
        P.append(internal_field(pb, new, "p")[:, 0])
        C.append(tan)
        st = new
    d = dict(dm=pb.dm, problem=pb, U=np.stack(U, axis=-1), S=np.stack(S, axis=-1), p=np.stack(P, axis=-1),
             C=np.stack(C, axis=-1), w=ip_weights(pb.dm), train=TRAIN, test=TEST)
    _CACHE[key] = d
    return d


def to_natural(dm, owned, location):
    """Full natural-order array on every rank from owned rows ``(n_owned_items, ...)``."""
    red = dm.redistributor(location)
    block = red.owned_to_natural(np.ascontiguousarray(owned))
    return np.concatenate(dm.comm.allgather(block))


def serial_copy(d):
    """The same snapshots on a COMM_SELF mesh (natural order = serial owned order)."""
    from dromo.fem.operators import ip_weights
    from dromo.mesh.distributed import DistributedMesh
    dm = d["dm"]
    m = d["U"].shape[1]
    dms = DistributedMesh(dm.global_mesh, MPI.COMM_SELF)
    U = to_natural(dm, d["U"].reshape(dm.n_owned_nodes, 3, m), "node").reshape(-1, m)
    S = to_natural(dm, d["S"], "ip")
    p = to_natural(dm, d["p"], "ip")
    C = to_natural(dm, d["C"], "ip")
    return dict(dm=dms, U=U, S=S, p=p, C=C, w=ip_weights(dms), train=d["train"], test=d["test"])


def reduced_setup(d, u_tol=1e-6, comm=None):
    """POD of the training displacements and the mode strains: (basis, strains (n_ip, 6, k))."""
    from dromo.reduction import pod
    from dromo.fem.points import mode_strains
    comm = comm or d["dm"].comm
    basis = pod(d["U"][:, d["train"]], comm=comm, tol=u_tol, method="svd")
    return basis, mode_strains(d["dm"], basis.modes)
