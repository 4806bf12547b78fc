"""The offline stage: training cases and their HF results → a :class:`~dromo.rom.model.ReducedModel`.

:func:`build` (collective, any rank count) takes training runs — each a
:class:`~dromo.hf.problem.Problem` (its case) on one common :class:`~dromo.mesh.DistributedMesh` and
the archive of its HF result (from ``dromo solve`` or ``dromo import``) — and computes:

1. **Liftings** of the imposed displacements: for every imposed term ``i`` (node set, component, in
   case order; :meth:`Problem.dirichlet_terms`) the linear-elastic response ``L_i`` of the first case
   (its laws' tangent in the virgin state at the start temperature) to unit values on that term's dofs
   and zero on the other imposed dofs. A state is ``u(t) = Σ a_i(t) L_i + Ψ γ(t)``, ``a_i(t)`` the
   imposed value of term i;
2. **the displacement basis** Ψ: POD (TSQR, relative energy tolerance ``u_tol``) of the snapshots minus
   their lifting (``u_j − Σ a_i(t_j) L_i``, exactly zero on the imposed dofs), so every mode vanishes
   on every imposed dof;
3. **reduced integration and dual operators** (:func:`dromo.reduction.hyperreduce.reduce`): ECM on
   the internal-force integrand of the stress snapshots, QDEIM + Gappy-POD for the dual fields;
4. **point data**: per reduced point its material group, coordinates, cell nodes and shape values (for
   nodal temperature series), strains of the modes and of the liftings;
5. **reduced loads**, affine in what an online case may change: per pressure facet set, ``Ψᵀ f`` of a
   unit pressure; with gravity or centrifugal loads in training, per material group the 12 vectors
   ``Ψᵀ ∫ Nᵀ e_i ρ_g`` and ``Ψᵀ ∫ Nᵀ x_j e_i ρ_g`` (unit density on the group's element set): any
   gravity and any centrifugal load (ω, axis) of the online case is a combination of them;
6. the law table of every material group, the load types and the temperature kind of the training.
"""
import numpy as np
from mpi4py import MPI

from ..errors import InputError
from ..parallel import get_logger
from ..parallel.collectives import allreduce_sum
from .full import FullOperators

log = get_logger("dromo.rom.offline")


def build(runs, comm=None, u_tol=1e-6, u_max_modes=None, ecm_tol=1e-4, variant="global", max_points=None,
          stress_tol=None, dual_fields=None, dual_tol=1e-5, dual_max_modes=None, full_quadrature=False,
          training_info=None, dual_runs=None, dual_bases=None):
    """Build a :class:`~dromo.rom.model.ReducedModel` from training runs (module docstring). Collective.

    ``runs``: list of ``(problem, archive_path)`` (or ``(problem, archive_path, steps)``), every problem
    on the same DistributedMesh, with the same imposed terms (keys, in order), element sets and law
    types. ``full_quadrature``: keep every integration point with its quadrature weight (no ECM).
    ``dual_runs``: more archive paths (same mesh) whose dual-field snapshots join the dual bases only (the
    displacement basis and the reduced integration stay those of ``runs``): the overlap of a dictionary's
    local ROMs, whose dual fields are reconstructed for draws near their cluster's border. Only their dual
    fields are read, never their displacements.
    ``dual_bases``: the dual bases already computed ({F: (PODBasis of local ip rows × nc, nc, components)},
    :func:`dromo.reduction.hyperreduce.dual_pod`; all the training's dual fields or some of them), used
    instead of the POD of the runs' dual snapshots of those fields: a dictionary computes the bases over every
    draw once for all its ROMs. Each ROM still adds the bases' QDEIM points to its own ECM points and fits its own
    Gappy-POD on them. Not together with ``dual_runs``.
    """
    from ..reduction.hyperreduce import quadrature_summary, read_training, reduce
    from ..reduction.pod import pod
    from .model import CaseTerms, ReducedModel
    comm = comm or MPI.COMM_WORLD
    if not runs:
        raise InputError("dromo offline: no training run")
    if dual_runs and dual_bases is not None:
        raise InputError("dromo offline: dual_runs and dual_bases together (the bases already span what the "
                         "runs would add: give one of them)")
    runs = [tuple(r) + (None,) * (3 - len(r)) for r in runs]
    pb0 = runs[0][0]
    dm = pb0.dm
    _check_compatible([r[0] for r in runs])
    tr = read_training([r[1] for r in runs], comm, dm=dm, dual_fields=dual_fields, steps=[r[2] for r in runs])
    # 1. liftings
    terms = pb0.dirichlet_terms()
    L = liftings(pb0) if terms else np.zeros((3 * dm.n_owned_nodes, 0))
    # 2. displacement basis of the lifted snapshots
    U = tr.U.copy()
    imposed = np.asarray(pb0.dirichlet_dofs, dtype=np.int64) - dm.dof_range[0]
    for j in range(U.shape[1]):
        pb = runs[int(tr.source[j])][0]
        a = np.array([t.value * t.amplitude(tr.times[j]) for t in pb.dirichlet_terms()])
        if a.size:
            U[:, j] -= L @ a
    U[imposed] = 0.0
    ub = pod(U, comm=comm, tol=u_tol, max_modes=u_max_modes, inner_name="euclid", method="svd")
    del U
    ub.modes[imposed] = 0.0
    log.info("offline: %d snapshots from %d run(s), %d liftings, %d displacement modes (tol %.1e)",
             tr.U.shape[1], len(runs), L.shape[1], ub.n_kept, u_tol)
    # 3. reduced integration, dual operators
    duals = tr.duals()
    if dual_bases is not None:
        _check_dual_bases(dual_bases, tr, dm)
        log.info("offline: dual bases given (%s)", ", ".join(f"{f}: {b.n_kept} modes"
                                                            for f, (b, _nc, _c) in dual_bases.items()))
    elif dual_runs:
        extra = read_training(list(dual_runs), comm, dm=dm, dual_fields=list(tr.dual_fields), read_u=False)
        duals = {f: ((lambda ld=ld, f=f: np.hstack([ld(), extra.load(f)])), nc, comps)
                 for f, (ld, nc, comps) in duals.items()}
        log.info("offline: dual bases also over %d snapshots of %d more run(s)", extra.times.size, len(dual_runs))
    hr = reduce(dm, ub.modes, tr.stress, duals, comm, tol=ecm_tol, variant=variant, max_points=max_points,
                stress_tol=stress_tol, dual_tol=dual_tol, dual_max_modes=dual_max_modes, full=full_quadrature,
                dual_bases=dual_bases)
    # 4. point data
    from ..fem.points import mode_strains
    pts = point_data(dm, hr, mode_strains(dm, L), pb0.ip_material)
    # 5. reduced loads, 6. case terms
    pressure, body, types = _reduced_loads(runs, ub.modes, comm)
    groups = [{"elset": g.elset, "type": (g.spec or {}).get("type", type(g.law).__name__),
               "spec": g.spec, "density": float(g.density), "state_names": list(g.law.state_names)}
              for g in pb0.groups]
    temp = "none" if pb0.temperature is None else ("nodal" if pb0.temperature.file is not None else "field")
    case = CaseTerms(groups, [t.key for t in terms], pressure, body, types, temp, dict(training_info or {}))
    rom = ReducedModel(dm.fingerprint(), dm.n_nodes_global, dm.n_ip_global, pts, _dual_fields(hr),
                       quadrature_summary(hr, ecm_tol, "full" if full_quadrature else variant), case, comm,
                       operators=FullOperators(dm, ub, L, hr.duals,
                                               provenance={"runs": ";".join(str(r[1]) for r in runs)}),
                       mesh=dm)
    log.info("offline: %s", rom.summary())
    return rom


def hyperreduce(snapshots, output, comm=None, basis=None, u_field="U", stress_field="S", u_tol=1e-6,
                u_max_modes=None, tol=1e-4, compress_tol="same", variant="global", max_points=None,
                subdomains_per_rank=1, stress_tol=None, dual_fields=None, dual_tol=1e-5, dual_max_modes=None,
                steps=None):
    """``dromo hyperreduce``: read, reduce (:mod:`dromo.reduction.hyperreduce`) and write a model with the
    reduced points and dual operators but no case terms (it reconstructs and indicates, it cannot solve:
    :func:`build` makes one that can). Collective.

    ``snapshots``: one archive or a list of archives of the same mesh. The displacement basis is the POD
    of their ``U`` (``u_tol``, TSQR) or the basis of a ``dromo pod`` archive (``basis=``). Returns the
    :class:`~dromo.rom.model.ReducedModel` written to ``output``.
    """
    from ..io.archive import Archive
    from ..reduction.hyperreduce import point_arrays, quadrature_summary, read_training, reduce
    from ..reduction.pod import PODBasis, pod
    from .model import PointData, ReducedModel
    comm = comm or MPI.COMM_WORLD
    tr = read_training(snapshots, comm, u_field=u_field, stress_field=stress_field, dual_fields=dual_fields,
                       steps=steps)
    dm = tr.dm
    if basis is None:
        ub = pod(tr.U, comm=comm, tol=u_tol, max_modes=u_max_modes, inner_name="euclid", method="svd")
    else:
        with Archive.open(basis, comm) as bar:
            ub = PODBasis.from_archive(bar, u_field, comm, redistributor=dm.redistributor("node"))
    hr = reduce(dm, ub.modes, tr.stress, tr.duals(), comm, tol=tol, compress_tol=compress_tol, variant=variant,
                max_points=max_points, subdomains_per_rank=subdomains_per_rank, stress_tol=stress_tol,
                dual_tol=dual_tol, dual_max_modes=dual_max_modes)
    names = [str(s) for s in ([snapshots] if isinstance(snapshots, (str, bytes)) else snapshots)]
    rom = ReducedModel(dm.fingerprint(), dm.n_nodes_global, dm.n_ip_global, PointData(**point_arrays(dm, hr)),
                       _dual_fields(hr), quadrature_summary(hr, tol, variant), None, comm,
                       operators=FullOperators(dm, ub, None, hr.duals,
                                               provenance={"snapshots": ";".join(names), "field": u_field}),
                       mesh=dm)
    rom.save(output, comm)
    log.info("reduced points: %d (%d ECM, relative error of the reduced internal-force integrals over the "
             "training snapshots %.3e) written to %s", rom.n_points, hr.ecm_ids.size, hr.quadrature.error, output)
    return rom


def _dual_fields(hr):
    from .model import DualField
    return {f: DualField(f, d.gappy.fit, d.basis.n_kept, d.components, d.selection.ids) for f, d in hr.duals.items()}


def _check_dual_bases(bases, tr, dm):
    """Given dual bases (:func:`build`'s ``dual_bases``) match the training's dual fields: names among them,
    components and local rows (``n_ip_local · nc``); InputError naming the field otherwise."""
    if not set(bases) <= set(tr.dual_fields):
        raise InputError(f"dromo offline: dual bases of the fields {sorted(bases)}, the training's dual fields are "
                         f"{sorted(tr.dual_fields)}")
    from ..parallel.errors import collective
    with collective(dm.comm):
        for f, (b, nc, _comps) in bases.items():
            if nc != tr.dual_fields[f][0] or b.modes.shape[0] != dm.n_ip_local * nc:
                raise InputError(f"dromo offline: dual basis of {f!r}: {nc} components and {b.modes.shape[0]} "
                                 f"local rows, the training's field has {tr.dual_fields[f][0]} components on "
                                 f"{dm.n_ip_local} local integration points (rank {dm.comm.rank})")


def _check_compatible(problems):
    """Same imposed terms, element sets and law types in every training case (InputError naming it)."""
    p0 = problems[0]
    keys0 = [t.key for t in p0.dirichlet_terms()]
    sets0 = [(g.elset, type(g.law).__name__) for g in p0.groups]
    for pb in problems[1:]:
        keys = [t.key for t in pb.dirichlet_terms()]
        if keys != keys0:
            raise InputError(f"training case {pb.name!r}: its imposed displacements {keys} differ from those of "
                             f"{p0.name!r} {keys0} (every training case must impose the same node sets and "
                             f"components, in the same order; values and amplitudes may differ)")
        sets = [(g.elset, type(g.law).__name__) for g in pb.groups]
        if sets != sets0:
            raise InputError(f"training case {pb.name!r}: element sets and laws {sets} differ from those of "
                             f"{p0.name!r} {sets0}")
        if pb.dm is not p0.dm:
            raise InputError(f"training case {pb.name!r}: not on the same distributed mesh as {p0.name!r}")
        if (pb.temperature is None) != (p0.temperature is None):
            raise InputError(f"training case {pb.name!r}: one training case has a temperature and another has "
                             f"none")


def liftings(problem):
    """Linear-elastic responses to unit imposed values, one per imposed term: ``(3 n_owned_nodes, n_L)``
    owned nodal rows (module docstring, step 1). Collective."""
    from ..hf.newton import TangentSolver
    dm = problem.dm
    t0 = problem.time.start
    T0 = problem.temperature_at(t0)
    zeros = np.zeros((dm.n_ip_local, 6))
    _s, _i, tangent, _f = problem.update_laws(zeros, zeros, problem.initial_internal(), T0, T0, problem.time.dt,
                                              t0)
    solver = TangentSolver(problem)
    rhs = dm.create_vector(3)
    out = []
    for term in problem.dirichlet_terms():
        unit = np.isin(solver.rows, term.dofs).astype(float)
        du, _its = solver.linear_solve(tangent, rhs, unit)
        with du.localForm() as lf:
            out.append(lf.array[:3 * dm.n_owned_nodes].copy())
    solver.reset()
    return np.stack(out, axis=1) if out else np.zeros((3 * dm.n_owned_nodes, 0))


def _cell_interpolation(dm, cells, qp):
    """Natural node indices of each point's cell and the shape-function values at the point:
    ``(n, m)`` int64 (-1 padded) and ``(n, m)`` float (0 padded), m = most nodes per cell; ``cells`` and
    ``qp`` (n,) the same on every rank. The rank of each cell fills its row, one ``Allreduce`` shares
    them (collective; nothing of the global mesh is needed)."""
    from mpi4py import MPI
    from ..mesh.elements import get_element
    from ..mesh.meshdata import NODES_PER_CELL
    from ..mesh.quadrature import element_rule
    cells, qp = np.asarray(cells, dtype=np.int64), np.asarray(qp, dtype=np.int64)
    n = len(cells)
    st = dm.stripes
    b = np.searchsorted(st.block_offsets, cells, side="right") - 1
    m = max([NODES_PER_CELL[st.block_types[i]] for i in set(b.tolist())] + [1])
    nodes = np.zeros((n, m), np.int64)
    shape = np.zeros((n, m))
    for blk in dm.blocks:
        j = np.minimum(np.searchsorted(blk.natural, cells), len(blk.natural) - 1)
        hit = blk.natural[j] == cells
        if not hit.any():
            continue
        N = get_element(blk.type).shape_and_dshape(element_rule(blk.type, blk.rule).points)[0]   # (nq, nn)
        nn = blk.cells.shape[1]
        nodes[hit, :nn] = dm.local_natural[blk.cells[j[hit]]] + 1
        shape[hit, :nn] = N[qp[hit]]
    dm.comm.Allreduce(MPI.IN_PLACE, nodes)
    dm.comm.Allreduce(MPI.IN_PLACE, shape)
    return nodes - 1, shape


def point_data(dm, hr, lifting_strains, ip_material):
    """The :class:`~dromo.rom.model.PointData` of the reduced points of ``hr`` (a
    :class:`~dromo.reduction.hyperreduce.Hyperreduction`): its point arrays, the lifting strains
    ``(n_ip_local, 6, n_L)`` and the material group ``(n_ip_local,)`` at the points, the cell interpolation
    of nodal temperatures. Collective."""
    from ..reduction.hyperreduce import point_arrays
    from .model import PointData
    pts = PointData(**point_arrays(dm, hr, {"strain_liftings": lifting_strains,
                                            "group": np.asarray(ip_material).astype(np.int64)}))
    pts.cell_nodes, pts.shape = _cell_interpolation(dm, pts.cells, pts.qp)
    return pts


def _reduced_loads(runs, modes, comm):
    """Ψᵀ f of every pressure set and the body-force basis per material group (module docstring, 5)."""
    from ..hf.loads import Centrifugal, Gravity, Pressure
    sets, types = [], set()
    for pb, _a, _s in runs:
        for ld in pb.loads:
            if isinstance(ld, Pressure):
                types.add("pressure")
                if ld.set not in sets:
                    sets.append(ld.set)
            elif isinstance(ld, Gravity):
                types.add("gravity")
            elif isinstance(ld, Centrifugal):
                types.add("centrifugal")
    pressure, body = project_loads(runs[0][0], modes, sets, bool(types & {"gravity", "centrifugal"}), comm)
    return pressure, body, sorted(types)


def load_vectors(problem, pressure_sets, body):
    """The assembled unit loads whose projections are the reduced loads (module docstring, 5), as owned
    nodal rows ``(3 n_owned_nodes,)``: ``{("pressure", set): f}`` and, with ``body``, per material group g
    ``{("body", g, i): ∫ Nᵀ e_i ρ_g, ("body", g, i, j): ∫ Nᵀ x_j e_i ρ_g}``. Collective."""
    from ..fem.operators import body_forces, pressure_load
    dm = problem.dm
    no3 = 3 * dm.n_owned_nodes

    def owned(vec):
        with vec.localForm() as lf:
            f = lf.array[:no3].copy()
        vec.destroy()
        return f

    out = {("pressure", s): owned(pressure_load(dm, s, 1.0)) for s in pressure_sets}
    if body:
        keys, loads = [], []
        for gi, g in enumerate(problem.groups):
            dens = {h.elset: (1.0 if h is g else 0.0) for h in problem.groups}
            for i in range(3):
                keys.append(("body", gi, i))
                loads.append((np.eye(3)[i], dens))
                for j in range(3):
                    keys.append(("body", gi, i, j))
                    loads.append((_linear_field(i, j), dens))
        # one pass over the elements for all of them (the element geometry once)
        out.update(zip(keys, map(owned, body_forces(dm, loads))))
    return out


def project_loads(problem, modes, pressure_sets, body, comm, vectors=None):
    """The reduced loads of the modes ``(3 n_owned_nodes, k)`` on ``problem``'s mesh (module docstring, 5):
    ``({set: (k,) Ψᵀ f(unit pressure)}, {group: (constant (3, k), linear (3, 3, k))} or {} when not
    ``body``)``. ``vectors``: the :func:`load_vectors` already assembled (enrichment reuses them).
    Collective (one Allreduce)."""
    vectors = load_vectors(problem, pressure_sets, body) if vectors is None else vectors
    keys = list(vectors)
    k = modes.shape[1]
    proj = allreduce_sum(np.ascontiguousarray(modes.T @ np.stack([vectors[key] for key in keys], axis=1)), comm) \
        if keys else np.zeros((k, 0))
    col = {key: proj[:, c] for c, key in enumerate(keys)}
    pressure = {s: col[("pressure", s)] for s in pressure_sets}
    out = {}
    if body:
        for gi in range(len(problem.groups)):
            const = np.stack([col[("body", gi, i)] for i in range(3)])
            lin = np.stack([np.stack([col[("body", gi, i, j)] for j in range(3)]) for i in range(3)])
            out[gi] = (const, lin)
    return pressure, out


def _linear_field(i, j):
    """The body-force density ``x_j e_i`` as a function of the points ``x (n, 3)``."""
    def f(x):
        out = np.zeros_like(x)
        out[:, i] = x[:, j]
        return out
    return f
