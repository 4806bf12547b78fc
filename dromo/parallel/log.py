"""Rank-0 logging and progress reporting for long loops.

``get_logger(__name__)`` returns a standard :mod:`logging` logger under the ``dromo`` hierarchy. Rank 0
emits records at the configured level; other ranks emit only errors, prefixed with their rank, so a
job's output stays readable at any rank count.
"""
import logging
import os
import sys
import time

from mpi4py import MPI

_CONFIGURED = False


class _RankFilter(logging.Filter):
    def __init__(self, comm):
        super().__init__()
        self.rank = comm.rank

    def filter(self, record):
        record.rank = self.rank
        return self.rank == 0 or record.levelno >= logging.ERROR


def configure_logging(level=None, comm=None):
    """Install dromo's handler once and set the level: ``level`` when given; else, at the first call only,
    ``DROMO_LOG_LEVEL`` or INFO (a later call without a level, e.g. from :func:`get_logger` in a module
    imported after the command line was read, keeps the level the command set)."""
    global _CONFIGURED
    comm = comm or MPI.COMM_WORLD
    root = logging.getLogger("dromo")
    if level is None and not _CONFIGURED:
        level = os.environ.get("DROMO_LOG_LEVEL") or "INFO"
    if level is not None:
        root.setLevel(level.upper() if isinstance(level, str) else level)
    if not _CONFIGURED:
        handler = logging.StreamHandler(sys.stderr)
        handler.addFilter(_RankFilter(comm))
        fmt = "[dromo %(levelname).1s] %(message)s" if comm.size == 1 else \
            "[dromo %(levelname).1s r%(rank)d] %(message)s"
        handler.setFormatter(logging.Formatter(fmt))
        root.addHandler(handler)
        root.propagate = False
        _CONFIGURED = True
    return root


def get_logger(name="dromo"):
    if not name.startswith("dromo"):
        name = "dromo." + name
    configure_logging()
    return logging.getLogger(name)


def progress(iterable, total=None, desc="", logger=None, every_seconds=5.0, every_fraction=0.1):
    """Yield from ``iterable``, logging ``desc i/total, rate, ETA`` on rank 0 now and then.

    A line is logged when ``every_fraction`` of the total or ``every_seconds`` have passed since the
    last one, and at the end. Collective loops call it on every rank; only rank 0 writes.
    """
    logger = logger or get_logger("dromo.progress")
    if total is None:
        try:
            total = len(iterable)
        except TypeError:
            total = None
    t0 = last = time.perf_counter()
    last_i = 0
    i = 0
    for i, item in enumerate(iterable, 1):
        yield item
        now = time.perf_counter()
        frac_step = total and (i - last_i) >= max(1, int(every_fraction * total))
        if now - last >= every_seconds or frac_step or (total and i == total):
            rate = i / max(now - t0, 1e-12)
            if total:
                eta = (total - i) / rate if rate > 0 else float("inf")
                logger.info("%s %d/%d (%.1f/s, ETA %.0f s)", desc, i, total, rate, eta)
            else:
                logger.info("%s %d (%.1f/s)", desc, i, rate)
            last, last_i = now, i
