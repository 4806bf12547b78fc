"""Distributed model reduction: POD (method of snapshots, accurate TSQR SVD, incremental, out-of-core),
empirical cubature (ECM), (Q)DEIM points and Gappy-POD.

Snapshots and modes are distributed by rows (each rank holds ``(n_local, m)`` local rows); see
:mod:`dromo.reduction.sources` for the data model and :mod:`dromo.reduction.pod` for the conventions.

Modules: :mod:`~dromo.reduction.pod` (POD bases, inner products, basis archive I/O), :mod:`~.svd` (TSQR),
:mod:`~.incremental` (basis updates), :mod:`~.sources` (streamed snapshots), :mod:`~.compression`
(integrand compression), :mod:`~.ecm` (greedy + NNLS of the empirical cubature), :mod:`~.reduced_quadrature`
(the resulting rule), :mod:`~.eim` (DEIM/QDEIM points, Gappy-POD fit and reconstruction),
:mod:`~.hyperreduce` (the offline pipeline).
"""
from .sources import SnapshotSource, ArraySource, ArchiveSeriesSource, as_source
from .pod import InnerProduct, inner_product, PODBasis, pod, truncation_rank, write_basis, read_basis
from .svd import tsqr_r, tsqr_svd
from .incremental import IncrementalPOD
from .compression import IntegrandBasis, compress_integrand
from .reduced_quadrature import ReducedQuadrature
from .ecm import ECMToleranceWarning, ecm_greedy, empirical_cubature
from .eim import PointSelection, qdeim, deim, GappyFit, GappyPOD

__all__ = ["SnapshotSource", "ArraySource", "ArchiveSeriesSource", "as_source", "InnerProduct", "inner_product", "PODBasis", "pod",
           "truncation_rank", "write_basis", "read_basis", "tsqr_r", "tsqr_svd", "IncrementalPOD",
           "IntegrandBasis", "compress_integrand", "ReducedQuadrature", "ECMToleranceWarning", "ecm_greedy",
           "empirical_cubature", "PointSelection", "qdeim", "deim", "GappyFit", "GappyPOD",
           "plot_singular_values"]


def plot_singular_values(*args, **kwargs):
    """See :func:`dromo.reduction.plots.plot_singular_values` (imports matplotlib lazily)."""
    from .plots import plot_singular_values as f
    return f(*args, **kwargs)
