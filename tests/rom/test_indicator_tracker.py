"""IndicatorTracker: the indicators and the Gappy coefficients of a step from one fit per dual field."""
from types import SimpleNamespace

import numpy as np

from dromo.reduction.eim import GappyFit
from dromo.rom.indicator import IndicatorTracker


def test_assess_equals_the_separate_fits():
    """``assess`` gives the coefficients of ``GappyFit.coefficients`` and the indicator ``residual · ‖v‖ / max
    ‖v‖`` of the two separate fits it replaces (to round-off), with the running scale: values of growing size,
    values nearly in the span of the modes (a tiny residual), a field absent from the values (left out),
    zero values (indicator 0)."""
    rng = np.random.default_rng(2)
    n, nc = 12, 2
    fits = {"p": GappyFit(rng.standard_normal((n * nc, 4)), np.arange(n) * 3, nc),
            "S": GappyFit(rng.standard_normal((n, 3)), np.arange(n) * 3, 1)}
    rom = SimpleNamespace(duals={f: SimpleNamespace(fit=fit) for f, fit in fits.items()})
    steps = [{"p": rng.standard_normal((n, nc)) * s, "S": rng.standard_normal((n, 1))} for s in (1.0, 3.0, 2.0)]
    steps.append({"p": (fits["p"].restricted @ rng.standard_normal(4) + 1e-7 * rng.standard_normal(n * nc))
                  .reshape(n, nc), "S": rng.standard_normal((n, 1))})
    steps.append({"p": rng.standard_normal((n, nc))})
    steps.append({"p": np.zeros((n, nc)), "S": np.zeros((n, 1))})
    tracker, scale = IndicatorTracker(), {}
    for values in steps:
        ind, coeffs = tracker.assess(rom, values)
        assert set(ind) == set(coeffs) == set(values)
        for f, v in values.items():
            y = v.reshape(-1)
            nv = float(np.linalg.norm(y))
            scale[f] = max(scale.get(f, 0.0), nv)
            expected = float(fits[f].residual(y)[0]) * nv / scale[f]
            assert abs(ind[f] - expected) <= 1e-8 * expected
            assert np.allclose(coeffs[f], fits[f].coefficients(y), rtol=1e-10, atol=1e-12 * max(nv, 1.0))
    assert ind == {"p": 0.0, "S": 0.0}
    assert tracker.scale == scale
    assert 0 < IndicatorTracker()(rom, steps[3])["p"] < 1e-6      # __call__: the indicators of assess
