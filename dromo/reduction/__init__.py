"""Distributed model reduction: POD (method of snapshots, accurate TSQR SVD, incremental, out-of-core).

Snapshots and modes are distributed by rows (each rank holds ``(n_local, m)`` local rows); see
:mod:`dromo.reduction.sources` for the data model and :mod:`dromo.reduction.pod` for the conventions.
"""
from .sources import SnapshotSource, ArraySource, as_source
from .pod import InnerProduct, PODBasis, pod, truncation_rank, write_basis, read_basis
from .svd import tsqr_r, tsqr_svd
from .incremental import IncrementalPOD

__all__ = ["SnapshotSource", "ArraySource", "as_source", "InnerProduct", "PODBasis", "pod",
           "truncation_rank", "write_basis", "read_basis", "tsqr_r", "tsqr_svd", "IncrementalPOD",
           "plot_singular_values"]


def plot_singular_values(*args, **kwargs):
    """See :func:`dromo.reduction.plots.plot_singular_values` (imports matplotlib lazily)."""
    from .plots import plot_singular_values as f
    return f(*args, **kwargs)
