"""Monte Carlo draws of a random temperature field: reproducible coefficients, the case of a draw.

Draw ``j`` of seed ``s`` has the KL coefficients ``ξ_j = default_rng([s, j]).standard_normal(r)``: it
depends only on (s, j, r), never on the rank count or on which rank computes it. Draws are spread over
the ranks in contiguous blocks (:func:`rank_draws`).
"""
import copy

import numpy as np

from ..errors import InputError
from ..parallel.comm import partition_range


def draw_coefficients(seed, indices, n_modes):
    """KL coefficients of the draws ``indices`` of ``seed``: ``(len(indices), n_modes)``, standard normal."""
    return np.array([np.random.default_rng([int(seed), int(j)]).standard_normal(int(n_modes)) for j in indices]
                    ).reshape(len(indices), int(n_modes))


def rank_draws(n_draws, comm):
    """The draw indices this rank computes: a contiguous block of ``range(n_draws)``."""
    lo, hi = partition_range(int(n_draws), comm)
    return np.arange(lo, hi)


def draw_spec(spec, draw, name=None):
    """A copy of the case spec (:func:`~dromo.hf.case_file.read_case`) whose temperature gets the draw's
    field as its offset (``a(t) δT(x)`` added: :class:`~dromo.hf.loads.Temperature`). The case must have
    a value/expression temperature."""
    from ..hf.loads import Temperature
    T = spec.get("temperature")
    where = spec.get("name", "case")
    if T is None:
        raise InputError(f"{where}: a random temperature needs a [temperature] in the case (its nominal field)")
    if isinstance(T, (int, float)):
        T = Temperature(value=float(T))
    if T.file is not None:
        raise InputError(f"{where}: a random temperature is added to a value or expression temperature, not to "
                         f"a nodal series (file {T.file})")
    out = dict(spec)
    t = copy.copy(T)
    t.offset = draw
    out["temperature"] = t
    if name is not None:
        out["name"] = name
    return out
