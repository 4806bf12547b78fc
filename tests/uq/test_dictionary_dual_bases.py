"""A dictionary's dual bases (issue 19, offline cost): with ``overlap = "all"`` the dual bases over every
training draw are computed once for all the ROMs of the dictionary; its local ROMs and its global ROM have the
dual subspaces, reduced points and Gappy-POD reconstructions each ROM used to get by computing them itself
(``build(..., dual_runs=...)``, the previous way); with ``overlap = "none"`` each local ROM's dual bases stay
its cluster's own. At 1, 2 and 3 ranks, on a 9-draw hot bar (``uq_cases``)."""
import os

import numpy as np
import pytest
from scipy.linalg import subspace_angles

from . import uq_cases

N_DRAWS = 9
FIELDS = ("S", "p")


def _weighted_rows(dm, modes, nc):
    """``√w``-scaled rows of every rank, stacked (the same order for every basis on ``dm``): the Euclidean
    geometry of these is the quadrature inner product's."""
    from dromo.fem.operators import ip_weights
    w = np.repeat(ip_weights(dm), nc)
    return np.concatenate(dm.comm.allgather(np.sqrt(w)[:, None] * modes))


def _weighted_norms(dm, X, nc):
    """Column norms ``(m,)`` of local ip rows ``(n_ip_local · nc, m)`` in the quadrature inner product."""
    from mpi4py import MPI
    from dromo.fem.operators import ip_weights
    w = np.repeat(ip_weights(dm), nc)
    return np.sqrt(dm.comm.allreduce((w[:, None] * X ** 2).sum(axis=0), op=MPI.SUM))


def _same_duals(dm, old, new, snapshots, where):
    """The dual operators ``old`` and ``new`` ({F: DualOperator} on ``dm``) span the same subspaces and
    reconstruct the same fields from their values at the points (every training snapshot)."""
    for f in FIELDS:
        a, b = old[f], new[f]
        nc = a.n_components
        assert a.basis.n_kept == b.basis.n_kept, (where, f, a.basis.n_kept, b.basis.n_kept)
        angles = subspace_angles(_weighted_rows(dm, a.basis.modes, nc), _weighted_rows(dm, b.basis.modes, nc))
        assert angles.max() <= 1e-8, (where, f, angles.max())
        assert np.array_equal(a.gappy.point_ids, b.gappy.point_ids), (where, f)
        X = snapshots[f]
        ra = a.gappy.fit_reconstruct(a.gappy.values_at_points(X))
        rb = b.gappy.fit_reconstruct(b.gappy.values_at_points(X))
        diff = _weighted_norms(dm, ra - rb, nc) / _weighted_norms(dm, X, nc).max()
        assert diff.max() <= 1e-8, (where, f, diff.max())


@pytest.mark.mpi
def test_dual_bases_computed_once_equal_each_rom_s_own(comm, shared_tmp):
    from dromo.errors import InputError
    from dromo.hf.case_file import build_problem, read_case
    from dromo.io.archive import Archive
    from dromo.mesh.distributed import DistributedMesh
    from dromo.reduction.hyperreduce import read_training
    from dromo.rom.offline import build
    from dromo.uq.dictionary import Dictionary, read_config, train
    from dromo.uq.random_field import FieldDraw, KLBasis
    from dromo.uq.sampling import draw_spec
    d = str(shared_tmp)
    if comm.rank == 0:
        uq_cases.write(d, n=N_DRAWS)
        with open(os.path.join(d, "train4.toml")) as fh:
            text = fh.read()
        with open(os.path.join(d, "train_none.toml"), "w") as fh:
            fh.write(text.replace("[dictionary]\n", "[dictionary]\noverlap = \"none\"\n"))
    comm.Barrier()
    train(os.path.join(d, "train4.toml"), comm, output=os.path.join(d, "all.h5"))
    train(os.path.join(d, "train_none.toml"), comm, output=os.path.join(d, "none.h5"))
    opts = read_config(os.path.join(d, "train4.toml"))["build"]
    # the previous way on the dictionary's draws: each ROM computes its dual bases over its own runs
    with Archive.open(os.path.join(d, "all.h5"), comm) as ar:
        dm = DistributedMesh(ar.read_mesh(), comm)
        kl = KLBasis.read(ar, dm)
    spec = read_case(os.path.join(d, "case.toml"))
    paths = [os.path.join(d, "hf", f"draw_{j:04d}.h5") for j in range(N_DRAWS)]
    tr = read_training(paths, comm, dm=dm, dual_fields=list(FIELDS), read_u=False)
    assert tr.U is None and tr.times.size == tr.source.size > 0
    snapshots = {f: tr.load(f) for f in FIELDS}
    for name, overlap in (("all.h5", True), ("none.h5", False)):
        dic = Dictionary(os.path.join(d, name), comm)
        assert dic.meta["config"]["dictionary"]["overlap"] == ("all" if overlap else "none")
        xi, labels = dic.arrays["xi"], dic.arrays["labels"]
        problems = [build_problem(draw_spec(spec, FieldDraw(x, basis=kl)), comm, dm) for x in xi]
        for c in range(dic.n_clusters + 1):
            members = np.flatnonzero(labels == c) if c < dic.n_clusters else np.arange(N_DRAWS)
            extra = np.flatnonzero(labels != c) if overlap and c < dic.n_clusters else []
            old = build([(problems[j], paths[j]) for j in members], comm, dual_runs=[paths[j] for j in extra],
                        **opts)
            new = dic.operators(dm, c if c < dic.n_clusters else -1)
            assert np.array_equal(old.points.ids, dic.models[c].points.ids), (name, c)
            _same_duals(dm, old.operators.duals, new.duals, snapshots, (name, c))
    # the overlap's bases are the global ROM's, larger than a cluster's own
    all_, none = Dictionary(os.path.join(d, "all.h5"), comm), Dictionary(os.path.join(d, "none.h5"), comm)
    for c in range(all_.n_clusters):
        assert all_.roms[c].duals["p"].n_modes == all_.global_rom.duals["p"].n_modes > none.roms[c].duals["p"].n_modes
    with pytest.raises(InputError, match="dual_runs and dual_bases together"):
        build([(problems[0], paths[0])], comm, dual_runs=[paths[1]], dual_bases={}, **opts)
