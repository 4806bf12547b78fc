"""Snapshot sources: the row-distributed snapshot matrix, in memory or streamed in blocks of columns.

Data model
----------
The snapshot matrix ``U`` (``N × m``: ``N`` global rows = dofs or integration-point components, ``m``
columns = snapshots) is distributed **by rows**: each rank holds a local block ``(n_local, m)`` float64 of
its own rows, in the rank's own ordering. No rank ever holds the whole matrix. A
:class:`SnapshotSource` hands out column blocks ``[start, stop)`` of the local rows, so a POD can stream
snapshot sets larger than memory (the archive's field sources read blocks of time steps from HDF5).

Every ``read`` is collective (all ranks call it with the same ``start, stop``); ``label(j)`` is the same
string on every rank and names snapshot ``j`` for error messages ("field U, time 0.35, params (...)").
"""
from typing import Protocol, runtime_checkable

import numpy as np
from mpi4py import MPI

from ..errors import InputError
from ..parallel import collective

__all__ = ["SnapshotSource", "ArraySource", "ArchiveSeriesSource", "parse_archive_window", "window_steps",
           "as_source", "read_block", "check_finite"]


@runtime_checkable
class SnapshotSource(Protocol):
    """Column-streamable, row-distributed snapshot matrix (see the module docstring).

    Attributes
    ----------
    n_snapshots : int
        Number of columns ``m`` (the same on every rank).
    n_local : int
        Number of rows held by this rank (may be 0 on some ranks).
    comm : MPI.Comm
    """
    n_snapshots: int
    n_local: int
    comm: MPI.Comm

    def read(self, start: int, stop: int) -> np.ndarray:
        """Local rows of snapshots ``start..stop-1``: array ``(n_local, stop - start)`` float64. Collective."""

    def label(self, j: int) -> str:
        """Human label of snapshot ``j`` (same on every rank), used in error messages."""


class ArraySource:
    """A :class:`SnapshotSource` over a local in-memory array ``(n_local, m)``.

    Parameters
    ----------
    local : array_like (n_local, m)
        This rank's rows of the snapshot matrix. Converted to float64 (no copy when it already is).
        A 1-D array is taken as a single snapshot column.
    comm : MPI.Comm, optional (default ``COMM_WORLD``)
    labels : sequence of str, optional
        Label of every snapshot (same on every rank); default ``"<name> snapshot j"``.
    name : str
        Name used in default labels (e.g. the field name).

    Creating it is collective: the snapshot counts of all ranks are compared and an
    :class:`~dromo.errors.InputError` is raised on every rank when they differ.
    """

    def __init__(self, local, comm=None, labels=None, name="snapshots"):
        self.comm = comm or MPI.COMM_WORLD
        a = np.asarray(local, dtype=np.float64)
        if a.ndim == 1:
            a = a[:, None]
        self.array = a
        self.name = name
        self._labels = None if labels is None else [str(x) for x in labels]
        ok = a.ndim == 2
        m = a.shape[1] if ok else -1
        counts = self.comm.allgather(m) if self.comm.size > 1 else [m]
        if not ok or len(set(counts)) != 1:
            raise InputError(f"{name}: every rank must hold an (n_local, m) array with the same number of "
                             f"snapshots m; got m per rank {counts}")
        if self._labels is not None and len(self._labels) != m:
            raise InputError(f"{name}: {len(self._labels)} labels for {m} snapshots")
        self.n_local, self.n_snapshots = a.shape

    def read(self, start, stop):
        """View of the local columns ``start:stop`` (not a copy; do not modify)."""
        return self.array[:, start:stop]

    def label(self, j):
        if self._labels is not None:
            return self._labels[j]
        return f"{self.name} snapshot {j}"


def parse_archive_window(text):
    """``"PATH"`` or ``"PATH@T0:T1"`` (either bound may be left out) → ``(path, window)``; ``window`` is
    ``None`` or ``(t0, t1)`` with ``None`` for an open bound. A path that exists as a file is taken whole."""
    import os
    text = str(text)
    if "@" not in text or os.path.exists(text):
        return text, None
    path, _, win = text.rpartition("@")
    if ":" not in win:
        raise InputError(f"{text}: time window must be PATH@T0:T1 (either bound may be left out)")
    a, b = win.split(":", 1)
    try:
        t0 = float(a) if a.strip() else None
        t1 = float(b) if b.strip() else None
    except ValueError:
        raise InputError(f"{text}: time window {win!r} is not T0:T1 with numbers") from None
    if t0 is not None and t1 is not None and t1 < t0:
        raise InputError(f"{text}: empty time window {win!r} (T1 < T0)")
    return path, (t0, t1)


def window_steps(times, window, where):
    """Indices of the ``times`` inside ``window`` = ``(t0, t1)`` (``None``: open bound; the window itself
    ``None``: every step), bounds included with a relative slack of 1e-9 (bounds typed in decimal match
    times accumulated in binary, 0.1 + 0.1 + 0.1). InputError naming ``where`` when none is inside."""
    t = np.asarray(times, dtype=float)
    if window is None:
        return np.arange(t.size)
    lo = -np.inf if window[0] is None else window[0]
    hi = np.inf if window[1] is None else window[1]
    slack = 1e-9 * max([abs(v) for v in window if v is not None] + [np.abs(t).max(initial=0.0)])
    sel = np.flatnonzero((t >= lo - slack) & (t <= hi + slack))
    if sel.size == 0:
        raise InputError(f"{where}: no step in the time window [{lo:g}, {hi:g}]" +
                         (f" (times {t.min():g} .. {t.max():g})" if t.size else " (no step at all)"))
    return sel


class ArchiveSeriesSource:
    """The steps of one field in several dromo archives of the same mesh, as one :class:`SnapshotSource`
    streamed archive after archive (a block that spans two archives is filled from each in turn; nothing
    is concatenated beyond the block asked for).

    Parameters
    ----------
    archives : sequence of paths, ``(path, window)`` pairs, or ``"PATH@T0:T1"`` strings
        ``window`` = ``(t0, t1)``: only the steps with ``t0 <= time <= t1`` (``None`` for an open bound).
    field : str — the field read from every archive (e.g. ``"U"``)
    comm : MPI.Comm, optional (default ``COMM_WORLD``)
    redistributor : optional :class:`~dromo.parallel.Redistributor` of the common mesh (rows = owned items),
        else each rank's natural block, as :meth:`~dromo.io.archive.Archive.field_source`.
    components : optional component selection, as ``field_source``.

    Creating it is collective and checks, with an :class:`~dromo.errors.InputError` naming the archive on
    every rank: the field exists in each archive with the same location, item count and components; the
    meshes are the same (:meth:`~dromo.mesh.meshdata.MeshData.fingerprint`, when the archives hold one: all
    or none must); each window selects at least one step. The archives stay open until :meth:`close` (or
    the end of a ``with`` block).

    Attributes: ``paths``, ``windows``, ``steps`` (selected step indices per archive), ``times`` (the
    selected times, concatenated), ``archive_index`` (archive of every snapshot), ``info`` (the first
    archive's ``field_info``), ``n_snapshots``, ``n_local``, ``comm``, ``name``.
    """

    def __init__(self, archives, field, comm=None, redistributor=None, components=None):
        from ..io.archive import Archive
        self.comm = comm or MPI.COMM_WORLD
        self.name = field
        items = [archives] if isinstance(archives, (str, bytes)) or hasattr(archives, "__fspath__") else \
            list(archives)
        if not items:
            raise InputError(f"field {field}: no snapshot archive given")
        self.paths, self.windows = [], []
        for it in items:
            path, win = it if isinstance(it, tuple) else parse_archive_window(it)
            self.paths.append(str(path))
            self.windows.append(None if win is None else tuple(win))
        self._archives, self._sources, self.steps = [], [], []
        try:
            ref, ref_print = None, None
            for path, win in zip(self.paths, self.windows):
                ar = Archive.open(path, self.comm)
                self._archives.append(ar)
                info = ar.field_info(field)
                key = (info["location"], info["n_items"], info["n_components"], tuple(info["components"]))
                fp = ar.mesh_fingerprint() if ar.has_mesh() else None
                if ref is None:
                    ref, ref_print, self.info = key, fp, info
                elif key != ref:
                    raise InputError(f"{path}: field {field} is {key[0]} × {key[1]} items × {key[2]} components "
                                     f"{list(key[3])}, but {ref[0]} × {ref[1]} × {ref[2]} {list(ref[3])} in "
                                     f"{self.paths[0]}: all snapshot archives must share one mesh")
                elif (fp is None) != (ref_print is None):
                    raise InputError(f"{path}: {'no' if fp is None else 'a'} mesh in the archive, but "
                                     f"{'a' if fp is None else 'no'} mesh in {self.paths[0]}: cannot check "
                                     f"that the snapshot archives share one mesh")
                elif fp != ref_print:
                    raise InputError(f"{path}: its mesh differs from the mesh of {self.paths[0]} (all snapshot "
                                     f"archives must share one mesh)")
                self.steps.append(window_steps(info["time"], win, f"{path}: field {field}"))
                self._sources.append(ar.field_source(field, redistributor, components))
        except BaseException:
            self.close()
            raise
        self.n_local = self._sources[0].n_local
        counts = np.array([s.size for s in self.steps], dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(counts)])
        self.n_snapshots = int(self.offsets[-1])
        self.archive_index = np.repeat(np.arange(len(self.paths)), counts)
        self.times = np.concatenate([np.asarray(s.info["time"], dtype=float)[st]
                                     for s, st in zip(self._sources, self.steps)])

    def _locate(self, j):
        a = int(np.searchsorted(self.offsets, j, side="right") - 1)
        return a, int(self.steps[a][j - self.offsets[a]])

    def read(self, start, stop):
        """Local rows of snapshots ``start:stop``: ``(n_local, stop - start)`` float64, filled archive by
        archive (each archive's selected steps read in contiguous runs). Collective."""
        out = np.empty((self.n_local, stop - start))
        for a, src in enumerate(self._sources):
            lo, hi = max(start, int(self.offsets[a])), min(stop, int(self.offsets[a + 1]))
            if lo >= hi:
                continue
            idx = self.steps[a][lo - self.offsets[a]:hi - self.offsets[a]]
            # contiguous runs of step indices (a time window gives one run)
            cuts = np.flatnonzero(np.diff(idx) != 1) + 1
            col = lo - start
            for run in np.split(idx, cuts):
                r0, r1 = int(run[0]), int(run[-1]) + 1
                out[:, col:col + r1 - r0] = src.read(r0, r1)
                col += r1 - r0
        return out

    def label(self, j):
        a, step = self._locate(j)
        return f"{self._sources[a].label(step)}, archive {self.paths[a]}"

    def describe(self):
        """One line per archive: path, window, selected steps (for logs and provenance)."""
        parts = []
        for path, win, st in zip(self.paths, self.windows, self.steps):
            w = "" if win is None else "@" + ":".join("" if v is None else f"{v:g}" for v in win)
            parts.append(f"{path}{w} ({st.size} steps)")
        return ", ".join(parts)

    def close(self):
        for ar in self._archives:
            ar.close()
        self._archives = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def as_source(data, comm=None, name="snapshots"):
    """Return ``data`` if it is a :class:`SnapshotSource`, else wrap a local array in :class:`ArraySource`."""
    if isinstance(data, SnapshotSource) and not isinstance(data, np.ndarray):
        return data
    return ArraySource(data, comm=comm, name=name)


def check_finite(block, source, start, comm=None):
    """Raise :class:`~dromo.errors.InputError` on **every** rank if any rank's block holds NaN or Inf.

    ``block`` is ``(n_local, c)`` = snapshots ``start .. start+c-1``. The message names the first bad
    snapshot by its label (``source.label(j)``). Costs one column sum (O(n c)) and one small Allreduce;
    collective.
    """
    comm = comm or source.comm
    first = np.iinfo(np.int64).max
    if block.size:
        sums = block.sum(axis=0)       # NaN/Inf propagate; a finite overflow is checked below
        for j in np.flatnonzero(~np.isfinite(sums)):
            if not np.isfinite(block[:, j]).all():
                first = start + int(j)
                break
    bad = comm.allreduce(first, op=MPI.MIN) if comm.size > 1 else first
    if bad != np.iinfo(np.int64).max:
        raise InputError(f"non-finite value (NaN or Inf) in snapshot {bad}: {source.label(bad)}")


def read_block(source, start, stop, check=True):
    """Collective ``source.read(start, stop)`` as float64, with errors raised on every rank.

    A failure inside ``read`` on some ranks becomes a :class:`~dromo.errors.CollectiveError` everywhere
    (no hang); a wrongly shaped block or a NaN/Inf value becomes an :class:`~dromo.errors.InputError` on
    every rank naming the snapshot.
    """
    comm = source.comm
    with collective(comm):
        block = np.asarray(source.read(start, stop), dtype=np.float64)
        if block.ndim != 2 or block.shape != (source.n_local, stop - start):
            raise InputError(f"snapshot source returned shape {block.shape} for snapshots "
                             f"{start}..{stop - 1}, expected {(source.n_local, stop - start)}")
    if check:
        check_finite(block, source, start, comm)
    return block
