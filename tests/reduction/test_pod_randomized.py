"""POD by the block randomized SVD (``method="randomized"``, issue 23): the block grown until the tolerance is met with its
oversampling, ``max_modes``, power steps until the residuals converge. The same subspace and singular
values as TSQR and the method of snapshots, weights, streamed sources, the same result at 1, 2 and 3 ranks
and the refusals are tested with SLEPc's in test_pod_slepc.py."""
import numpy as np
import pytest
from mpi4py import MPI

from dromo.errors import InputError
from dromo.reduction import ArraySource, pod
from dromo.reduction.randomized import pod_randomized

from .test_pod import local_rows, sin_max_angle, synthetic

COMM = MPI.COMM_WORLD


@pytest.mark.mpi
def test_randomized_grows_its_block_until_the_tolerance_and_caps_by_max_modes():
    sigma = 0.8 ** np.arange(60)
    G, Q, _V = synthetic(400, 200, sigma, seed=5)
    U, (a, b) = local_rows(G)
    r = pod(U, comm=COMM, tol=1e-5, method="randomized")     # about 52 modes > the first block of 32
    t = pod(U, comm=COMM, tol=1e-5, method="svd")
    assert r.n_kept == t.n_kept > 32
    assert len(r.singular_values) >= r.n_kept + 13           # the oversampling columns were there
    assert np.allclose(r.singular_values[:r.n_kept], sigma[:r.n_kept], rtol=1e-9)
    assert sin_max_angle(r.modes[:, :20], t.modes[:, :20]) <= 1e-8
    c = pod(U, comm=COMM, tol=1e-5, max_modes=5, method="randomized")
    assert c.n_kept == 5 and sin_max_angle(c.modes, Q[a:b, :5]) <= 1e-8
    full = pod(U, comm=COMM, method="randomized")            # no tolerance: every nonzero mode
    assert full.n_kept == 60


@pytest.mark.mpi
def test_randomized_iterates_until_the_residuals_converge_on_a_slow_decay(dromo_warnings):
    """On a slowly decaying spectrum the first block's Ritz values are poor; power steps are taken until
    the kept triplets' residuals meet the criterion, and then match TSQR's. Stopped early (max_steps),
    the method says so."""
    sigma = 1.0 / (1.0 + np.arange(150)) ** 0.5
    G, _Q, _V = synthetic(500, 150, sigma, seed=11)
    U, _ab = local_rows(G)
    src = ArraySource(U, comm=COMM)
    from dromo.reduction.pod import InnerProduct
    ip = InnerProduct(None, U.shape[0], COMM)
    t = pod(U, comm=COMM, max_modes=10, method="svd")
    conv = pod_randomized(src, ip, None, 10, True)
    assert conv.n_kept == 10
    assert np.abs(conv.singular_values[:10] - sigma[:10]).max() <= 1e-12
    assert sin_max_angle(conv.modes, t.modes) <= 1e-8
    early = pod_randomized(src, ip, None, 10, True, power_steps=0, max_steps=0)
    assert np.abs(early.singular_values[:10] - sigma[:10]).max() > 1e-3
    assert any("still" in w and "residual" in w for w in dromo_warnings)


@pytest.mark.mpi
def test_unknown_method_is_refused():
    with pytest.raises(InputError, match="unknown POD method"):
        pod(np.ones((5, 3)), comm=COMM, tol=1e-3, method="random")
