"""The reduced model: offline build, online reduced Newton, reconstruction, at 1, 2 and 3 ranks.

Verification (issue 14): a Galerkin ROM (every integration point, a basis spanning the training
trajectory) replays its training run to the Newton tolerance; the hyper-reduced ROM reproduces the
training trajectory within a small multiple of its tolerances and predicts an unseen loading over a
longer span within 1 % (u) and 3 % (p); the reduced loads equal the projected HF loads for any load
magnitude, gravity, rotation speed or axis; the temperature at the points equals the HF one.
"""
import os

import numpy as np
import pytest
from mpi4py import MPI

from dromo.io.compare import compare_results
from dromo.rom import ReducedModel, build, load_training

from . import rom_cases as rc


def _train(folder, comm, runs, **kw):
    if comm.rank == 0:
        rc.write_mesh(folder)
    comm.Barrier()
    path = rc.write_training(folder, runs, **kw) if comm.rank == 0 else None
    path = comm.bcast(path, root=0)
    runs_, opts = load_training(path, comm)
    rom = build(runs_, comm, **opts)
    rom.save(os.path.join(folder, "rom.h5"), comm)
    return rom


def _cases(folder, comm, specs):
    paths = {}
    if comm.rank == 0:
        for name, kw in specs.items():
            paths[name] = rc.write_case(folder, name, **kw)
    return comm.bcast(paths, root=0)


@pytest.mark.mpi
def test_galerkin_rom_replays_its_training_run(comm, shared_tmp):
    d = str(shared_tmp)
    if comm.rank == 0:
        rc.write_mesh(d)
    cases = _cases(d, comm, {"a": dict(ux=0.012, time_extra="fixed = true")})
    built = _train(d, comm, [("a.toml", "a.h5")], pod_tol=1e-12, ecm='variant = "full"', dual_tol=1e-12)
    assert built.n_points == built.n_ip and np.all(built.points.weights > 0)
    rom = ReducedModel.load(os.path.join(d, "rom.h5"), comm)
    out = os.path.join(d, "rom_a.h5")
    res = rom.solve(cases["a"], output=out, reconstruct=("U", "S", "p"))
    assert res.n_steps == 31
    c = compare_results(out, os.path.join(d, "a.h5"), ["U", "S", "p"], comm)
    # the HF Newton stops at rtol 1e-8 of the force scale: the replay agrees to that level
    assert c["U"].max_rel_error < 1e-7, c["U"].max_rel_error
    assert c["S"].max_rel_error < 1e-6 and c["p"].max_rel_error < 1e-6
    # the law values at the reduced points are the HF ones (no Gappy-POD in between)
    from dromo.io.archive import Archive
    with Archive.open(os.path.join(d, "a.h5"), comm) as ar:
        S_hf = ar.read_items("S", rom.points.ids)
    S_rom = res.point_values("S")
    assert np.abs(S_rom - S_hf).max() <= 1e-6 * np.abs(S_hf).max()


@pytest.mark.mpi
def test_hyperreduced_rom_on_its_training_and_on_an_unseen_loading(comm, shared_tmp):
    d = str(shared_tmp)
    if comm.rank == 0:
        rc.write_mesh(d)
    cases = _cases(d, comm, {"a": dict(ux=0.012), "b": dict(ux=0.018),
                             "c": dict(ux=0.015, end=4.0)})          # unseen level, longer span
    ecm_tol = 1e-5
    built = _train(d, comm, [("a.toml", "a.h5"), ("b.toml", "b.h5")], pod_tol=1e-6,
                   ecm=f'variant = "global"\ntol = {ecm_tol}')
    assert built.quadrature["n_ecm_points"] < built.n_ip and built.quadrature["error"] <= ecm_tol
    assert built.n_liftings == 5                                        # XMIN x y z, XMAX x y
    rom = ReducedModel.load(os.path.join(d, "rom.h5"), comm)
    from dromo.hf import load_case, run
    pb, _ = load_case(cases["c"], comm)
    run(pb, os.path.join(d, "c.h5"))
    for name, bound_u, bound_p in (("a", 50 * ecm_tol, 50 * ecm_tol), ("c", 1e-2, 3e-2)):
        out = os.path.join(d, f"rom_{name}.h5")
        rom.solve(cases[name], output=out, reconstruct=("U", "p"))
        c = compare_results(out, os.path.join(d, f"{name}.h5"), ["U", "p"], comm)
        assert c["U"].max_rel_error <= bound_u, (name, c["U"].max_rel_error)
        assert c["p"].max_rel_error <= bound_p, (name, c["p"].max_rel_error)


@pytest.mark.mpi
def test_reduced_loads_lifting_and_temperature_equal_the_projected_hf_ones(comm, shared_tmp):
    """Pressure, gravity and centrifugal terms of any magnitude, direction, speed and axis, and the
    temperature (expression and nodal series) at the points, against the HF Problem of the online case."""
    from dromo.fem.operators import ip_coordinates
    from dromo.hf.case_file import read_case
    from dromo.hf.problem import Problem
    from dromo.io.archive import Archive
    from dromo.parallel.collectives import allreduce_sum, fetch_rows
    from dromo.rom.online import prepare
    d = str(shared_tmp)
    train_extra = """[[pressure]]
set = "ZMAX"
value = 2.0
amplitude = "cyc"
[gravity]
acceleration = [0.0, 0.0, -9810.0]
[centrifugal]
omega = 300.0
axis_point = [0.0, 0.0, -50.0]
axis_direction = [1.0, 0.0, 0.0]
[temperature]
expression = "293.0 + 20.0 * x * a"
amplitude = "cyc"
"""
    online_extra = """[amplitudes.spin]
0 = 0
[[pressure]]
set = "ZMAX"
value = -3.5
[gravity]
acceleration = [1000.0, 2000.0, 500.0]
amplitude = "cyc"
[centrifugal]
omega = 450.0
axis_point = [1.0, -2.0, -40.0]
axis_direction = [0.3, 1.0, 0.2]
amplitude = "cyc"
[temperature]
file = "T.h5"
"""
    online_extra = online_extra.replace("[amplitudes.spin]\n0 = 0\n", "")
    law = rc.LAW.format(density=7.8e-9) + "alpha = 1.2e-5\nT_ref = 293.0\n"
    if comm.rank == 0:
        rc.write_mesh(d)
    cases = _cases(d, comm, {"t": dict(ux=0.004, extra=train_extra, law=law, end=1.0, dt=0.25),
                             "o": dict(ux=-0.006, extra=online_extra, law=law, end=2.0, dt=0.5)})
    rom = _train(d, comm, [("t.toml", "t.h5")], pod_tol=1e-8)
    dm = rom.operators.dm
    # a nodal temperature series for the online case
    times = [0.0, 2.0]
    with Archive.create(os.path.join(d, "T.h5"), comm) as ar:
        ar.write_mesh(dm)
        ar.create_field("T", "node", 1)
        x = dm.points[:dm.n_owned_nodes]
        for t in times:
            ar.append_step("T", dm.redistributor("node").owned_to_natural(
                (293.0 + t * (50.0 + 20.0 * x[:, 0] - 7.0 * x[:, 2]))[:, None]), t)
    assert rom.case.load_types == ["centrifugal", "gravity", "pressure"]
    oc = prepare(rom, cases["o"], comm)
    spec = read_case(cases["o"])
    pb = Problem(dm, spec["materials"], spec["loads"], spec["amplitudes"], spec["temperature"], spec["time"],
                 comm=comm)
    psi = rom.operators.u_basis.modes
    no3 = 3 * dm.n_owned_nodes
    terms = pb.dirichlet_terms()
    for t in (0.3, 1.0, 1.7):
        f = pb.external_force(t)
        with f.localForm() as lf:
            ref = allreduce_sum(psi.T @ lf.array[:no3], comm)
        assert np.allclose(oc.force(t), ref, rtol=1e-10, atol=1e-12 * np.abs(ref).max()), t
        assert np.allclose(oc.lifting(t), [tm.value * tm.amplitude(t) for tm in terms], rtol=0, atol=1e-15)
        T_hf, _ = fetch_rows(pb.temperature_at(t)[:, None], dm.ip_natural, rom.points.ids, comm)  # replicated
        assert np.allclose(oc.points.temperature_at(t), T_hf[oc.rows, 0], rtol=1e-12, atol=1e-9)
    xq, _ = fetch_rows(ip_coordinates(dm), dm.ip_natural, rom.points.ids, comm)
    assert np.allclose(xq, rom.points.coordinates)


@pytest.mark.mpi
def test_enrichment_basis_equals_a_batch_pod_of_the_same_snapshots(comm, shared_tmp):
    """Issue 17, the enrichment step: after one enrichment the incremental displacement basis spans what a
    batch POD of the training snapshots and the new HF snapshot (both minus their lifting) spans
    (principal angles), the model's reduced loads are the projected HF loads, and the estimate right
    after the enrichment is below the tolerance."""
    from dromo.reduction.hyperreduce import read_training
    from dromo.reduction.pod import pod
    from dromo.rom.adapt import adapt
    from dromo.rom.enrich import lifting_values
    d = str(shared_tmp)
    cases = _cases(d, comm, {"a": dict(ux=0.012, time_extra="fixed = true"),
                             "c": dict(ux=0.025, end=2.0, time_extra="fixed = true")})
    _train(d, comm, [("a.toml", "a.h5")])
    rom = ReducedModel.load(os.path.join(d, "rom.h5"), comm)
    run = adapt(rom, cases["c"], {"S": 0.005}, comm, max_enrichments=1)
    assert len(run.history.enrichments) == 1
    e = run.history.enrichments[0]
    assert e["estimate"] > 1.0 > e["estimate_after"] and e["modes_after"] == rom.n_modes + 1
    pb, dm, hf = run.problem, run.problem.dm, run.anchor                # the enrichment's HF state
    assert abs(hf.time - e["time"]) < 1e-12
    imposed = np.asarray(pb.dirichlet_dofs) - dm.dof_range[0]
    tr = read_training(os.path.join(d, "a.h5"), comm, dm=dm)
    L = run.full.liftings
    cols = [tr.U[:, j] - L @ lifting_values(pb, t) for j, t in enumerate(tr.times)]   # same amplitudes in a, c
    cols.append(hf.u.reshape(-1) - L @ lifting_values(pb, hf.time))
    U = np.stack(cols, axis=1)
    U[imposed] = 0.0
    k1 = run.full.modes.shape[1]

    def cosines(A, B):                                              # of the principal angles
        return np.linalg.svd(np.asarray(comm.allreduce(A.T @ B)), compute_uv=False)

    # (1) the data the incremental update saw — the training as its kept modes × singular values, and the
    # new snapshot — has, in batch, the same POD
    from dromo.rom.full import FullOperators
    b0 = FullOperators.read(rom, dm).u_basis
    seen = np.hstack([b0.modes * b0.singular_values[None, :b0.n_kept], U[:, -1:]])
    batch = pod(seen, comm=comm, max_modes=k1, inner_name="euclid", method="svd")
    assert cosines(batch.modes, run.full.modes).min() >= 1.0 - 1e-10
    # (2) and its span lies in that of a batch POD of every training snapshot and the new one
    every = pod(U, comm=comm, tol=1e-9, inner_name="euclid", method="svd")
    assert every.n_kept >= k1 and cosines(every.modes, run.full.modes).min() >= 1.0 - 1e-8
    # (3) the operators updated without recomputing them on the mesh equal the recomputed ones: the mode
    # strains [ε(Ψ) ε(q)] X (the old modes vanish on the imposed dofs, so this path is the one taken) and
    # the transforms rebasing the old coordinates, Ψ_newᵀ Ψ_old and Φ_newᵀ W Φ_old (to the orthonormality of
    # the old modes, ~1e-12 here: the update takes them as orthonormal)
    from dromo.fem.points import mode_strains
    from dromo.rom.enrich import enrich
    assert not comm.allreduce(int(np.any(b0.modes[imposed])))
    full0 = FullOperators.read(rom, dm)
    from dromo.reduction.eim import qdeim
    for f, d in full0.duals.items():                # the stored QDEIM points, as an enrichment may keep them
        q = qdeim(d.basis.modes, dm.ip_natural, comm, d.n_components)
        assert np.array_equal(q.ids, d.selection.ids) and np.array_equal(q.ranks, d.selection.ranks), f
    _rom1, full1, Tu, Td = enrich(pb, rom, full0, hf, run.reject_tol)
    # the enriched model's mode strains are those a restart computes from its stored modes, bit for bit
    assert comm.allreduce(bool(np.array_equal(full1.mode_strains, mode_strains(dm, full1.modes))), op=MPI.LAND)
    np.testing.assert_allclose(Tu, comm.allreduce(full1.modes.T @ full0.modes), rtol=0, atol=1e-10)
    for f, d in full1.duals.items():
        np.testing.assert_allclose(Td[f], d.basis.inner_product.gram(d.basis.modes, full0.duals[f].basis.modes),
                                   rtol=0, atol=1e-10)
    # the reduced loads of the enriched model are the HF loads projected on the new modes
    from dromo.rom.offline import project_loads
    p_ref, b_ref = project_loads(pb, run.full.modes, sorted(run.rom.case.pressure), bool(run.rom.case.body), comm)
    for s, v in run.rom.case.pressure.items():
        assert np.allclose(v, p_ref[s], rtol=1e-12, atol=1e-14 * np.abs(p_ref[s]).max())
