"""``dromo compare`` / :func:`dromo.io.compare.compare_results`: error figures in time between two results."""
import json
import os

import numpy as np
import pytest
from mpi4py import MPI

from dromo.errors import InputError
from dromo.io.archive import Archive
from dromo.io.compare import compare_results, interpolation_plan, mesh_hash
from dromo.mesh.generate import box_mesh
from dromo.parallel import partition_range

from .._mpi import dromo_cmd, run_mpi, serial_only

N_IP = 64                                      # box_mesh(2, 2, 2) hex8: 8 cells x 8 points


def _base(mesh):
    """Fields linear in time: U(t) = U0 + t U1 (27, 3), p(t) = p0 + t p1 (64, 1)."""
    x = mesh.points
    k = np.arange(N_IP, dtype=float)[:, None]
    return (lambda t: np.sin(x + 0.3) + t * x ** 2), (lambda t: np.cos(k) + t * k / N_IP)


def write_result(path, comm, times, u=None, p=None, mesh=None, with_mesh=True, extra=()):
    """A result archive with U (node) and p (ip), given as functions of t returning global arrays."""
    mesh = mesh or box_mesh(2, 2, 2)
    bu, bp = _base(box_mesh(2, 2, 2))
    u, p = u or bu, p or bp
    with Archive.create(path, comm) as ar:
        if with_mesh:
            ar.write_mesh(mesh)
        for name, loc, f in (("U", "node", u), ("p", "ip", p)) + tuple(extra):
            C = f(0.0).shape[1]
            n = f(0.0).shape[0]
            ar.create_field(name, loc, C, n_items=n)
            s, e = partition_range(n, comm)
            for t in times:
                ar.append_step(name, f(t)[s:e], t)
    return path


def _paths(shared_tmp, *names):
    return [str(shared_tmp / f"{n}.h5") for n in names]


@pytest.mark.mpi
def test_identical_archives_give_zero(shared_tmp, comm):
    a, b = _paths(shared_tmp, "a", "b")
    write_result(a, comm, [0.0, 0.5, 1.0])
    write_result(b, comm, [0.0, 0.5, 1.0])
    res = compare_results(a, b, comm=comm)
    assert list(res) == ["U", "p"]                      # default: U, S, p present in both
    for r in res.values():
        assert r.n_steps == 3 and r.max_rel_error == 0.0 and r.max_abs_diff == 0.0
        assert np.array_equal(r.rel_error, np.zeros(3)) and (r.norm_ref > 0).all()
    assert res["U"].location == "node" and res["p"].location == "ip" and res["p"].n_items == N_IP
    # a field that is zero in both: 0/0 -> 0
    zero = ("z", "node", lambda t: np.zeros((27, 2)))
    write_result(a, comm, [0.0, 1.0], extra=[zero])
    write_result(b, comm, [0.0, 1.0], extra=[zero])
    r = compare_results(a, b, ["z"], comm)["z"]
    assert r.max_rel_error == 0.0 and r.max_step_rel_error == 0.0


@pytest.mark.mpi
def test_known_perturbation_gives_the_expected_figures(shared_tmp, comm):
    a, b = _paths(shared_tmp, "pa", "pb")
    times = [0.5, 1.0, 1.5]
    bu, bp = _base(box_mesh(2, 2, 2))

    def au(t):
        v = bu(t) * (1 + 1e-3)
        if t == 1.0:
            v[5, 2] += 0.25
        return v
    write_result(a, comm, times, u=au, p=lambda t: bp(t) - 0.01 * t)
    write_result(b, comm, times)
    res = compare_results(a, b, ["p", "U"], comm)
    assert list(res) == ["p", "U"]
    for name, fa, fb in (("U", au, bu), ("p", lambda t: bp(t) - 0.01 * t, bp)):
        d = np.array([np.linalg.norm(fa(t) - fb(t)) for t in times])
        n = np.array([np.linalg.norm(fb(t)) for t in times])
        r = res[name]
        assert np.allclose(r.norm_diff, d, rtol=1e-13, atol=0) and np.allclose(r.norm_ref, n, rtol=1e-13)
        assert r.max_rel_error == pytest.approx(d.max() / n.max(), rel=1e-13)
        assert np.allclose(r.rel_error, d / n, rtol=1e-13)
        assert r.worst_time == times[int(np.argmax(d))]
        assert r.max_step_rel_error == pytest.approx((d / n).max(), rel=1e-13)
        assert r.max_abs_diff == pytest.approx(max(np.abs(fa(t) - fb(t)).max() for t in times), rel=1e-15)
    assert res["U"].worst_time == 1.0 and res["p"].worst_time == 1.5
    assert res["p"].max_abs_diff == pytest.approx(0.015, rel=1e-12)
    # a uniform relative perturbation gives exactly that figure at every step
    write_result(a, comm, times, u=lambda t: 1.02 * bu(t))
    r = compare_results(a, b, ["U"], comm)["U"]
    assert r.max_rel_error == pytest.approx(0.02, rel=1e-12) and np.allclose(r.rel_error, 0.02, rtol=1e-12)


@pytest.mark.mpi
def test_different_time_grids_interpolate_linearly(shared_tmp, comm):
    a, b = _paths(shared_tmp, "ga", "gb")
    tb = [0.0, 0.3, 0.7, 1.0, 2.0]
    ta = [0.0, 0.25, 0.5, 0.7, 1.0, 1.5, float(np.nextafter(2.0, 3.0))]     # last: round-off past B
    write_result(a, comm, ta)
    write_result(b, comm, tb)
    res = compare_results(a, b, comm=comm)
    for r in res.values():                                 # fields linear in time: B's interpolation is exact
        assert r.n_steps == len(ta) and r.max_rel_error < 1e-14 and r.max_abs_diff < 1e-14
    # B quadratic in time, A zero: the reference norm is that of the piecewise-linear interpolant
    x = box_mesh(2, 2, 2).points
    write_result(a, comm, ta, u=lambda t: np.zeros((27, 3)))
    write_result(b, comm, tb, u=lambda t: t ** 2 * x)
    r = compare_results(a, b, ["U"], comm)["U"]
    expected = np.interp(ta, tb, np.square(tb)) * np.linalg.norm(x)
    assert np.allclose(r.norm_ref, expected, rtol=1e-13, atol=0) and np.array_equal(r.norm_diff, r.norm_ref)
    assert r.max_rel_error == 1.0 and r.worst_time == ta[-1]
    # times of A outside B's span: an error, or skipped with a note
    write_result(a, comm, [-0.5, 0.0, 1.0, 2.5])
    write_result(b, comm, tb)
    with pytest.raises(InputError, match="2 time\\(s\\) outside the reference's span \\[0, 2\\]: -0.5 \\(step 0\\), 2.5 \\(step 3\\)"):
        compare_results(a, b, ["U"], comm)
    r = compare_results(a, b, ["U"], comm, outside="skip")["U"]
    assert r.n_steps == 2 and r.skipped_times == [-0.5, 2.5] and r.max_rel_error < 1e-14


def test_interpolation_plan():
    plan, skipped = interpolation_plan([0.0, 0.5, 1.0, 3.0], [0.0, 1.0, 2.0], outside="skip")
    assert plan == [(0, 0, 0.0), (1, 0, 0.5), (2, 1, 0.0)] and skipped == [3.0]
    plan, _ = interpolation_plan([1.0 - 1e-12, 2.0 + 1e-12], [0.0, 1.0, 2.0])
    assert plan == [(0, 1, 0.0), (1, 2, 0.0)]
    with pytest.raises(InputError, match="do not increase at step 2"):
        interpolation_plan([0.0], [0.0, 1.0, 1.0])
    with pytest.raises(InputError, match="no steps"):
        interpolation_plan([], [0.0])
    with pytest.raises(InputError, match="no time of A \\(3 ... 4\\) inside the reference's span \\[0, 2\\]"):
        interpolation_plan([3.0, 4.0], [0.0, 1.0, 2.0], outside="skip")
    assert interpolation_plan([1.0], [1.0]) == ([(0, 0, 0.0)], [])


@pytest.mark.mpi
def test_mesh_mismatch_is_a_clear_error(shared_tmp, comm):
    a, b, c, d, e = _paths(shared_tmp, "ma", "mb", "mc", "md", "me")
    write_result(a, comm, [0.0, 1.0])
    write_result(b, comm, [0.0, 1.0], mesh=box_mesh(2, 2, 2, distort=0.2))     # same sizes, moved nodes
    with pytest.raises(InputError, match=f"{b}: its mesh \\(27 nodes, 8 cells\\) differs from the mesh of "
                                         f"{a} \\(27 nodes, 8 cells\\): different node coordinates"):
        compare_results(a, b, comm=comm)
    write_result(c, comm, [0.0, 1.0], mesh=box_mesh(3, 2, 2))
    with pytest.raises(InputError, match=f"{c}: its mesh \\(36 nodes, 12 cells\\) differs.*different sizes"):
        compare_results(a, c, comm=comm)
    # without /mesh, the numbers of items decide
    write_result(d, comm, [0.0, 1.0], with_mesh=False)
    assert compare_results(a, d, comm=comm)["U"].max_rel_error == 0.0
    write_result(e, comm, [0.0, 1.0], with_mesh=False, u=lambda t: np.ones((28, 3)))
    with pytest.raises(InputError, match=f"field U: n_items 28 in {e} but 27 in {a}"):
        compare_results(a, e, ["U"], comm)
    # the mesh hash is the mesh's fingerprint (the one a ROM archive records), however it is streamed
    with Archive.open(b, comm) as ar:
        h = mesh_hash(ar)
        assert h == box_mesh(2, 2, 2, distort=0.2).fingerprint() == mesh_hash(ar, chunk_rows=5)
        assert h == comm.bcast(h)
    with Archive.open(d, comm) as ar, pytest.raises(InputError, match=f"{d}: archive has no /mesh"):
        mesh_hash(ar)


@pytest.mark.mpi
def test_missing_field_names_the_file(shared_tmp, comm):
    a, b = _paths(shared_tmp, "fa", "fb")
    write_result(a, comm, [0.0, 1.0], extra=[("T", "ip", lambda t: np.ones((N_IP, 1)))])
    write_result(b, comm, [0.0, 1.0])
    with pytest.raises(InputError, match=f"{b}: no field 'T' \\(fields: U, p\\)"):
        compare_results(a, b, ["U", "T"], comm)
    with pytest.raises(InputError, match=f"{a}: no field 'S'"):
        compare_results(a, b, ["S"], comm)
    write_result(b, comm, [0.0, 1.0], extra=[("T", "ip", lambda t: np.ones((N_IP, 1)))])
    assert compare_results(a, b, ["T"], comm)["T"].max_rel_error == 0.0
    with pytest.raises(InputError, match="no such archive"):
        compare_results(a, str(shared_tmp / "none.h5"), comm=comm)


@serial_only
def test_cli_under_mpirun(tmp_path):
    a, b, c = (str(tmp_path / f) for f in ("a.h5", "b.h5", "c.h5"))
    bu, _bp = _base(box_mesh(2, 2, 2))
    write_result(a, MPI.COMM_WORLD, [0.0, 0.5, 1.0, 1.5], u=lambda t: bu(t) * (1 + 0.01 * t))
    write_result(b, MPI.COMM_WORLD, [0.0, 0.4, 0.8, 1.2, 1.6])
    write_result(c, MPI.COMM_WORLD, [0.0, 1.0], mesh=box_mesh(2, 2, 2, distort=0.2))
    js, png = str(tmp_path / "e.json"), str(tmp_path / "e.png")
    p = run_mpi(2, dromo_cmd() + ["compare", a, b, "--fields", "U", "p", "--json", js, "--plot", png])
    assert p.returncode == 0, p.stdout + p.stderr
    lines = p.stdout.splitlines()
    assert sum(ln.startswith("U ") for ln in lines) == 1 and sum(ln.startswith("p ") for ln in lines) == 1
    ref = compare_results(a, b, ["U", "p"], MPI.COMM_WORLD)
    with open(js) as f:
        got = json.load(f)
    assert got["reference"] == "b" and list(got["fields"]) == ["U", "p"]
    for name, r in ref.items():
        g = got["fields"][name]
        assert g["n_steps"] == 4 and g["worst_time"] == r.worst_time
        assert g["max_rel_error"] == pytest.approx(r.max_rel_error, rel=1e-12)
        assert np.allclose(g["rel_error"], r.rel_error, rtol=1e-12, atol=1e-300)
        assert f"{r.max_rel_error:.6e}" in p.stdout
    assert ref["U"].max_rel_error == pytest.approx(0.015, rel=1e-12) and ref["U"].worst_time == 1.5
    assert os.path.getsize(png) > 1000
    p = run_mpi(2, dromo_cmd() + ["compare", a, b, "--fields", "U", "S"])
    assert p.returncode == 1 and f"{a}: no field 'S'" in p.stderr and p.stderr.count("no field 'S'") >= 1
    p = run_mpi(2, dromo_cmd() + ["compare", a, c])
    assert p.returncode == 1 and f"{c}: its mesh" in p.stderr and "differs" in p.stderr


def test_plot_without_matplotlib_is_a_clear_error(monkeypatch, tmp_path):
    import sys
    from dromo.io.compare import plot_errors
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(InputError, match="--plot needs matplotlib.*python3-matplotlib"):
        plot_errors({}, str(tmp_path / "e.png"))


@pytest.mark.mpi
def test_weighted_norms_of_ip_fields(shared_tmp, comm):
    from dromo.fem.operators import ip_weights
    from dromo.io.compare import natural_ip_weights
    from dromo.mesh.distributed import DistributedMesh
    a, b = _paths(shared_tmp, "wa", "wb")
    mesh = box_mesh(2, 2, 2, distort=0.3, seed=4)
    _bu, bp = _base(mesh)
    write_result(a, comm, [0.0, 1.0], mesh=mesh, p=lambda t: bp(t) + 0.1 * t * np.arange(N_IP)[:, None] ** 2)
    write_result(b, comm, [0.0, 1.0], mesh=mesh)
    dm = DistributedMesh(mesh, comm)
    w = np.concatenate(comm.allgather(dm.redistributor("ip").owned_to_natural(ip_weights(dm))))
    assert w.shape == (N_IP,) and np.ptp(w) > 0.1 * w.max()            # distorted: unequal weights
    with Archive.open(a, comm) as ar:
        assert np.allclose(natural_ip_weights(ar, 0, N_IP, chunk_cells=3), w, rtol=1e-13)
        assert np.allclose(natural_ip_weights(ar, 13, 50, chunk_cells=2), w[13:50], rtol=1e-13)
        with pytest.raises(InputError, match="64 integration points"):
            natural_ip_weights(ar, 0, 65)
    res = compare_results(a, b, ["p", "U"], comm, weighted=True)
    d = 0.1 * np.arange(N_IP) ** 2
    r = res["p"]
    assert r.weighted and not res["U"].weighted
    assert r.norm_diff[1] == pytest.approx(np.sqrt(w @ d ** 2), rel=1e-12)
    assert r.norm_ref[1] == pytest.approx(np.sqrt(w @ bp(1.0)[:, 0] ** 2), rel=1e-12)
    assert r.max_abs_diff == pytest.approx(d.max(), rel=1e-15)                 # never weighted
    plain = compare_results(a, b, ["U"], comm)["U"]
    assert np.array_equal(plain.norm_ref, res["U"].norm_ref)
