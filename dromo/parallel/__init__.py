"""MPI plumbing: communicators, the row split, rank-count independent collectives, collective error
handling, rank-0 logging and progress."""
from .comm import world, rank, size, is_root, partition_offsets, partition_range
from .collectives import allreduce_sum, broadcast_arrays, argmax_smallest_id, broadcast_row, fetch_rows
from .errors import agree_or_abort, collective, raise_collectively, install_excepthook
from .log import get_logger, progress, configure_logging

__all__ = [
    "world", "rank", "size", "is_root", "partition_offsets", "partition_range",
    "allreduce_sum", "broadcast_arrays", "argmax_smallest_id", "broadcast_row", "fetch_rows",
    "agree_or_abort", "collective", "raise_collectively", "install_excepthook",
    "get_logger", "progress", "configure_logging",
]
