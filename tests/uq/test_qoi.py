"""The certified maxima of dromo.uq.qoi (FieldMax) against the maximum of the whole reconstructed field."""
import numpy as np
import pytest

from dromo.uq.qoi import FieldMax


def _brute(rows, C):
    v = np.einsum("nik,ks->nsi", rows, C)
    return (v[..., 0] if rows.shape[1] == 1 else np.linalg.norm(v, axis=-1)).max()


@pytest.mark.parametrize("nc", [1, 6])
@pytest.mark.parametrize("head", [1, 4, 16, 40])
def test_field_max_equals_the_whole_fields_maximum(nc, head):
    """Decaying and flat spectra, signed scalars (all negative too), a few items or steps: the same maximum as
    the whole reconstructed field; with a decaying spectrum few (item, step) pairs are computed exactly."""
    rng = np.random.default_rng(nc * 100 + head)
    n, k, s = 500, 30, 21
    for decay in (0.7, 1.0):
        rows = rng.standard_normal((n, nc, k)) * decay ** np.arange(k)
        for C in (rng.standard_normal((k, s)), -np.abs(rng.standard_normal((k, 1))), rng.standard_normal((k, 3))):
            fm = FieldMax(rows, head)
            got = fm.max(C)
            assert got == pytest.approx(_brute(rows, C), rel=1e-13, abs=1e-13)
            if nc == 1:
                assert fm.max(-np.ones((k, s)) * 0) == pytest.approx(0.0, abs=1e-15)
    # all values negative (a scalar's maximum is signed)
    rows = -np.abs(rng.standard_normal((n, 1, k)))
    assert FieldMax(rows, head).max(np.abs(rng.standard_normal((k, s)))) < 0
    # a sharply decaying spectrum: the bound leaves few candidates
    rows = rng.standard_normal((n, nc, k)) * 0.3 ** np.arange(k)
    fm = FieldMax(rows, 8)
    C = rng.standard_normal((k, s))
    assert fm.max(C) == pytest.approx(_brute(rows, C), rel=1e-13)
    assert fm.candidates < 0.05 * n * s


def test_field_max_without_items_or_steps():
    assert FieldMax(np.zeros((0, 6, 5))).max(np.ones((5, 3))) == -np.inf
    assert FieldMax(np.ones((4, 1, 5))).max(np.ones((5, 0))) == -np.inf
