"""The reduced tangent summed from structured point tangents equals the general product ``Σ w Eᵀ C E``."""
import numpy as np

from dromo.materials.base import tangent_from_parts
from dromo.rom.reduced_tangent import StructuredReducedTangent


def _parts(rng, a, n, flowing):
    """Structured tangents (a, n, 14): Kb, cdev per point and draw, u ≠ 0 only at the ``flowing`` points
    (of some draws)."""
    parts = np.zeros((a, n, 14))
    parts[:, :, 0] = 1e5 * (1 + 0.1 * rng.random((a, n)))
    parts[:, :, 1] = 1.6e5 * (1 + 0.1 * rng.random((a, n)))
    parts[:, :, 8:] = rng.standard_normal((a, n, 6))
    for p in flowing:
        draws = rng.random(a) < 0.5
        parts[draws, p, 2:8] = 1e4 * rng.standard_normal((int(draws.sum()), 6))
    return parts


def test_structured_reduced_tangent_equals_the_general_product():
    rng = np.random.default_rng(0)
    n, k, a = 40, 5, 7
    E = rng.standard_normal((n, 6, k))
    w = rng.random(n)
    rt = StructuredReducedTangent(E, w)
    for flowing in ([], [3, 17, 30], list(range(n))):             # elastic everywhere, a few points, all
        parts = _parts(rng, a, n, flowing)
        C = tangent_from_parts(parts).reshape(a, n, 6, 6)
        ref = np.einsum("p,pik,bpij,pjl->bkl", w, E, C, E)
        K = rt(parts)
        assert np.allclose(K, ref, rtol=1e-12, atol=1e-12 * np.abs(ref).max()), flowing
        if not flowing:
            assert np.array_equal(K, K.transpose(0, 2, 1))
