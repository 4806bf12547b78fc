"""MPI plumbing: communicators, collective error handling, rank-0 logging and progress."""
from .comm import world, rank, size, is_root, allreduce_sum, partition_range
from .errors import collective, raise_collectively, install_excepthook
from .log import get_logger, progress, configure_logging

__all__ = [
    "world", "rank", "size", "is_root", "allreduce_sum", "partition_range",
    "collective", "raise_collectively", "install_excepthook",
    "get_logger", "progress", "configure_logging",
]
