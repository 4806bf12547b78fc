"""The dromo archive: one HDF5 file, written collectively (MPI-IO), in natural (rank-count independent)
numbering, readable at any rank count.

Layout (``F`` = number of steps of a field, ``N`` = its items, ``C`` = its components)::

    /                         attrs: format="dromo-archive", format_version, dromo_version, created
    /mesh/points              (n_nodes, 3) float64
    /mesh/node_ids            (n_nodes,) int64          external node ids
    /mesh/cells/<k>_<type>/connectivity (n, nn) int64   0-based natural node indices, VTK/Abaqus order
    /mesh/cells/<k>_<type>/ids          (n,) int64      external element ids
                              attrs: type, rule, first_cell (global cell index of row 0), n_qp
    /mesh/node_sets/<name>    int64 natural node indices
    /mesh/element_sets/<name> int64 global cell indices
    /mesh/facet_sets/<name>/<facet type>  (nf, nfn) int64 natural node indices
    /fields/<name>/values     (F, N, C) float64, growable along F
    /fields/<name>/time       (F,) float64
    /fields/<name>/parameters (F, P) float64 (P may be 0)
                              attrs: location ("node" | "ip" | "cell" | "global"), components, units,
                                     description, plus any provenance attributes
    /<group>/...              free-form groups written by other stages (bases, ROM operators)

Integration points are numbered cell by cell in natural cell order, point by point within a cell in the
rule's order (:mod:`dromo.mesh.quadrature`). Field names (``U``, ``S``, ``E``, ``T``, ``p``) and component
orders (Mandel for symmetric tensors): :mod:`dromo.io.fields`.

Writes are atomic: :meth:`Archive.create` writes ``PATH.tmp-HOST-PID`` and renames it to ``PATH`` only
when :meth:`Archive.close` is reached without error; a failure (on any rank) removes the temporary file,
so a half-written archive never looks valid. ``mode="a"`` copies the archive to a temporary name first.
Temporaries left by a killed run (``PATH.tmp-HOST-PID`` of a process that no longer exists on this host,
or the older ``PATH.tmp-PID``) are removed, with a warning, by the next run writing ``PATH``.

Write failures (full disk, quota, read-only or vanished folder). Every write first checks, collectively,
that the file system holding the archive has room for the bytes it is about to write (plus
:data:`SPACE_MARGIN` for HDF5's metadata): if not, :class:`OutputError` is raised on every rank naming the
file, the bytes needed and the bytes free, before anything is written. A write that fails anyway (a quota,
a race with another job, an I/O error) raises :class:`OutputError` on every rank, or, when the failing
rank cannot tell whether the others are stuck inside HDF5's collective call, aborts the job after
:data:`WAIT_SECONDS` (status 74). The archive is then *broken*: :meth:`Archive.close` removes the
temporary file and leaves the HDF5 file open, and the process ends with status 74 once the error is
printed (:func:`~dromo.io.output_guard.leave_open`: with this h5py, closing a file whose metadata cannot be flushed loops
forever inside ``File.close``). ``DROMO_SPACE_CHECK=0`` turns the free-space check off (for file systems
whose ``statvfs`` means nothing).
"""
import datetime
import os
import shutil
from contextlib import contextmanager

import numpy as np
from mpi4py import MPI

from .. import __version__
from ..errors import CollectiveError, DromoError, InputError
from ..parallel.comm import partition_range
from ..parallel.errors import agree_or_abort, collective, raise_collectively
from ..parallel.log import get_logger
from .fields import LOCATIONS
from .archive_mesh import decode_name, distributed_mesh, encode_name, read_mesh, read_mesh_stripes, write_mesh  # noqa: F401
from .output_guard import (EXIT_OUTPUT, SPACE_MARGIN, WAIT_SECONDS, OutputError, ensure_space, free_bytes,  # noqa: F401
                           human_size, leave_open, pid_alive, prepare_output, remove_stale_temporaries, temp_name)

FORMAT = "dromo-archive"
FORMAT_VERSION = 1

log = get_logger(__name__)


def _h5py():
    import h5py
    return h5py


def _open_h5(path, mode, comm):
    h5py = _h5py()
    if h5py.get_config().mpi:
        return h5py.File(path, mode, driver="mpio", comm=comm)
    if comm.size > 1:
        raise InputError("h5py was built without MPI: dromo needs the MPI build (Debian python3-h5py-mpi) "
                         "to write archives from several ranks")
    return h5py.File(path, mode)


def _collective_write(ds, key, values, empty):
    """``ds[key] = values`` as a collective MPI-IO write, also on a rank whose selection is ``empty``.

    h5py returns early, without calling H5Dwrite, when a selection is empty; in a collective transfer
    the other ranks would then wait forever. An empty rank takes part with an explicit empty selection.
    """
    from h5py import h5fd, h5p, h5s
    if not empty:
        with ds.collective:
            ds[key] = values
        return
    if not _h5py().get_config().mpi:
        return
    dxpl = h5p.create(h5p.DATASET_XFER)
    dxpl.set_dxpl_mpio(h5fd.MPIO_COLLECTIVE)
    fs = ds.id.get_space()
    fs.select_none()
    ms = h5s.create_simple((1,))
    ms.select_none()
    ds.id.write(ms, fs, np.zeros(1, dtype=ds.dtype), dxpl=dxpl)


def _growable_without_fill(g, name, row_shape, chunks):
    """Create ``g[name]``, float64 of shape ``(0,) + row_shape`` growable along axis 0, chunked, that never
    writes fill values. h5py always sets fill-at-allocation on chunked datasets, and parallel HDF5 allocates
    at every extension: each new step's chunks were written with zeros in ``resize``, then with the step's
    values (about 70 % of an import's time on 2 ranks went to it). The values of a step are always written
    whole right after the extension, so no unwritten entry is ever read."""
    h5py = _h5py()
    shape = (0,) + tuple(int(n) for n in row_shape)
    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    dcpl.set_chunk(tuple(int(c) for c in chunks))
    dcpl.set_fill_time(h5py.h5d.FILL_TIME_NEVER)
    space = h5py.h5s.create_simple(shape, (h5py.h5s.UNLIMITED,) + shape[1:])
    h5py.h5d.create(g.id, name.encode(), h5py.h5t.py_create(np.dtype(np.float64)), space, dcpl=dcpl)
    return g[name]


def _chunked_bytes(ds, n_steps):
    """Bytes HDF5 allocates for ``n_steps`` more steps (first axis) of the chunked dataset ``ds``: whole
    chunks, so a partly filled last chunk counts in full."""
    shape, chunks = ds.shape, ds.chunks or ds.shape
    n = int(n_steps)
    for size, c in zip(shape[1:], chunks[1:]):
        n *= -(-int(size) // max(1, int(c))) * int(c)
    return n * ds.dtype.itemsize


class Archive:
    """A dromo archive open on every rank of ``comm`` (all methods are collective unless noted)."""

    def __init__(self, h5, path, final_path, comm, writable):
        self.h5 = h5
        self.path = path              # the file actually open (temporary while writing)
        self.final_path = final_path  # where it lands on success
        self.comm = comm
        self.writable = writable
        self._closed = False
        self._broken = False

    # ------------------------------------------------------------------ opening and closing
    @classmethod
    def create(cls, path, comm=None, attrs=None):
        """Create a new archive at ``path`` (written under a temporary name until :meth:`close`)."""
        comm = comm or MPI.COMM_WORLD
        path = os.fspath(path)
        tmp = comm.bcast(temp_name(path) if comm.rank == 0 else None, root=0)
        prepare_output(path, tmp, 0, f"a new archive ({tmp})", comm)
        h5 = None
        try:
            with collective(comm):
                try:
                    h5 = _open_h5(tmp, "w", comm)
                except OSError as exc:
                    raise OutputError(f"{path}: cannot create the temporary file {tmp} ({exc})") from exc
        except CollectiveError:
            if h5 is not None:
                leave_open(h5)
            if comm.rank == 0 and os.path.exists(tmp):
                os.remove(tmp)
            raise
        ar = cls(h5, tmp, path, comm, True)
        with ar.writing("the file attributes"):
            h5.attrs["format"] = FORMAT
            h5.attrs["format_version"] = FORMAT_VERSION
            h5.attrs["dromo_version"] = __version__
            h5.attrs["created"] = datetime.datetime.now(datetime.timezone.utc).isoformat()
            h5.attrs["n_ranks_written"] = comm.size
            for k, v in (attrs or {}).items():
                h5.attrs[k] = v
        return ar

    @classmethod
    def open(cls, path, comm=None, mode="r"):
        """Open an existing archive to read (``"r"``) or to add to (``"a"``, atomic through a copy)."""
        comm = comm or MPI.COMM_WORLD
        path = os.fspath(path)
        with collective(comm):
            if not os.path.isfile(path):
                raise InputError(f"{path}: no such archive")
        target = path
        if mode == "a":
            target = comm.bcast(temp_name(path) if comm.rank == 0 else None, root=0)
            prepare_output(path, target, os.path.getsize(path) if comm.rank == 0 else 0,
                            f"a copy to add to ({target})", comm)
            with collective(comm):
                try:
                    if comm.rank == 0:
                        shutil.copyfile(path, target)
                except OSError as exc:
                    if os.path.exists(target):
                        os.remove(target)
                    raise OutputError(f"{path}: cannot copy it to {target} to add to it ({exc})") from exc
        elif mode != "r":
            raise ValueError(f"mode must be 'r' or 'a', not {mode!r}")
        h5 = None
        exc = None
        try:
            h5 = _open_h5(target, "r" if mode == "r" else "r+", comm)
            if h5.attrs.get("format") != FORMAT:
                raise InputError(f"{path}: not a dromo archive (no format attribute '{FORMAT}')")
        except OSError as e:
            exc = InputError(f"{path}: cannot be read as HDF5 ({e})")
        except InputError as e:
            exc = e
        if exc is not None and h5 is not None:
            h5.close()
        if exc is not None and mode == "a" and comm.rank == 0 and os.path.exists(target):
            os.remove(target)
        raise_collectively(exc, comm)
        return cls(h5, target, path, comm, mode == "a")

    def close(self, success=True):
        """Close; when writing, rename the temporary file to its final name if ``success`` on all ranks.

        Raises :class:`OutputError` on every rank when the data cannot be flushed (the temporary is then
        removed and ``final_path`` left as it was). After a failed write the close is bounded in time
        (module docstring).
        """
        if self._closed:
            return
        self._closed = True
        if not self.writable:
            self.h5.close()
            return
        ok = self.comm.allreduce(bool(success) and not self._broken, op=MPI.LAND)
        err = None
        if ok:
            # Flush first: on a full disk a failed flush raises here, whereas h5py's File.close would spin.
            try:
                with self.writing("the last data (flush)"):
                    self.h5.flush()
            except OutputError as exc:
                ok, err = False, exc
        if not ok:
            self._discard()
            if err is not None:
                raise err
            return
        with collective(self.comm):
            self.h5.close()
        with self.writing("the final name (rename)"):
            if self.comm.rank == 0:
                os.replace(self.path, self.final_path)
        from .xdmf import write_xdmf
        write_xdmf(self.final_path, self.comm)

    def _discard(self):
        """Close without keeping the temporary file: removed first, then the HDF5 file closed (or, after a
        failed write, left open until the process ends: :func:`~dromo.io.output_guard.leave_open`). Collective."""
        if self.comm.rank == 0 and os.path.exists(self.path):
            try:
                os.remove(self.path)
            except OSError as exc:
                log.error("%s: cannot remove the temporary %s (%s)", self.final_path, self.path, exc)
        self.comm.Barrier()
        if self._broken:
            leave_open(self.h5)
        else:
            try:
                self.h5.close()
            except Exception as exc:  # noqa: BLE001 - already failing; the temporary is gone
                log.debug("closing %s after a failure: %s", self.path, exc)

    @contextmanager
    def writing(self, what):
        """Run a block that writes ``what`` into the archive on every rank; any failure becomes an
        :class:`OutputError` raised on every rank naming the file and the free space, and marks the archive
        broken (its close then discards it, bounded in time). Collective."""
        exc = None
        try:
            yield
        except CollectiveError:             # already raised on every rank (a nested collective section)
            self._broken = True
            raise
        except Exception as e:  # noqa: BLE001 - re-raised collectively below
            exc = e
            if not isinstance(e, DromoError):
                exc = OutputError(f"{self.final_path}: writing {what} failed: {e}{self._space_note()}")
                exc.__cause__ = e
        try:
            # HDF5 calls are collective: a rank that failed may have left the others blocked inside one
            agree_or_abort(exc, self.comm, WAIT_SECONDS, cleanup=self._remove_temporary, status=EXIT_OUTPUT)
        except CollectiveError:
            self._broken = True
            raise

    def _remove_temporary(self):
        """Remove the temporary file (local; any rank may; a missing file is fine)."""
        try:
            os.remove(self.path)
        except FileNotFoundError:
            pass

    def _space_note(self):
        try:
            return f" ({human_size(free_bytes(self.path))} free in {os.path.dirname(os.path.abspath(self.path))})"
        except OSError as exc:
            return f" (the output folder cannot be checked: {exc})"

    def ensure_space(self, nbytes, what):
        """Raise :class:`OutputError` on every rank unless the file system has ``nbytes`` +
        :data:`SPACE_MARGIN` free for ``what`` (one ``statvfs`` on rank 0, broadcast). Collective."""
        ensure_space(self.final_path, self.path, nbytes, what, self.comm)

    def abort(self):
        """Close without keeping anything that was written."""
        self.close(success=False)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.close(success=exc_type is None)
        return False

    # ------------------------------------------------------------------ mesh (dromo.io.archive_mesh)
    def write_mesh(self, mesh):
        """Write the mesh and its quadrature attributes (collective): :func:`dromo.io.archive_mesh.write_mesh`."""
        write_mesh(self, mesh)

    def has_mesh(self):
        return "mesh" in self.h5

    def read_mesh(self):
        """The mesh as a :class:`~dromo.mesh.meshdata.MeshData` replicated on every rank (small meshes and
        tools): :func:`dromo.io.archive_mesh.read_mesh`."""
        return read_mesh(self)

    def read_mesh_stripes(self):
        """The mesh as :class:`~dromo.mesh.stripes.MeshStripes`, each rank its natural stripes (the set-up's
        input): :func:`dromo.io.archive_mesh.read_mesh_stripes`."""
        return read_mesh_stripes(self)

    def mesh_fingerprint(self):
        """The stored mesh's :meth:`~dromo.mesh.meshdata.MeshData.fingerprint` (collective: rank 0 streams
        the datasets into the hash in bounded chunks, :func:`dromo.io.compare.mesh_hash`)."""
        from .compare import mesh_hash
        return mesh_hash(self)

    def n_items(self, location):
        """Number of items of a location: nodes, integration points or cells of the stored mesh."""
        g = self.h5["mesh"]
        if location == "node":
            return g["points"].shape[0]
        blocks = g["cells"].values()
        if location == "cell":
            return sum(b["ids"].shape[0] for b in blocks)
        if location == "ip":
            return sum(b["ids"].shape[0] * int(b.attrs["n_qp"]) for b in blocks)
        raise InputError(f"unknown field location {location!r} (one of {LOCATIONS})")

    # ------------------------------------------------------------------ fields (time series)
    def create_field(self, name, location, n_components, n_items=None, components=None, units="",
                     description="", n_parameters=0, attrs=None, chunk_items=1 << 16):
        """Create an empty, growable series ``/fields/<name>`` of shape (0, n_items, n_components)."""
        if location not in LOCATIONS:
            raise InputError(f"field {name}: unknown location {location!r} (one of {LOCATIONS})")
        if n_items is None:
            n_items = 1 if location == "global" else self.n_items(location)
        with self.writing(f"field {name}"):
            return self._create_field(name, location, n_components, n_items, components, units, description,
                                      n_parameters, attrs, chunk_items)

    def _create_field(self, name, location, n_components, n_items, components, units, description,
                      n_parameters, attrs, chunk_items):
        g = self.h5.require_group("fields").create_group(name)
        chunks = (1, max(1, min(int(n_items), chunk_items)), max(1, int(n_components)))
        _growable_without_fill(g, "values", (n_items, n_components), chunks)
        g.create_dataset("time", shape=(0,), maxshape=(None,), chunks=(1024,), dtype=np.float64)
        g.create_dataset("parameters", shape=(0, n_parameters), maxshape=(None, None),
                         chunks=(1024, max(1, n_parameters)), dtype=np.float64)
        g.attrs["location"] = location
        g.attrs["components"] = list(components) if components is not None else \
            [str(i) for i in range(n_components)]
        g.attrs["units"] = units
        g.attrs["description"] = description
        for k, v in (attrs or {}).items():
            g.attrs[k] = v
        return g

    def fields(self):
        """Names of the stored fields."""
        return sorted(self.h5["fields"]) if "fields" in self.h5 else []

    def link_field(self, name, target):
        """Make ``name`` another name of the stored field ``target`` (and of its basis record ``/bases/<target>``
        when there is one): HDF5 soft links, no data copied; readers see ``name`` as an ordinary field.
        Collective."""
        import h5py
        with self.writing(f"link {name} -> {target}"):
            if target not in self.fields():
                raise InputError(f"{self.final_path}: cannot link field {name!r} to {target!r}: no such field")
            self.h5["fields"][name] = h5py.SoftLink(f"/fields/{target}")
            if "bases" in self.h5 and target in self.h5["bases"]:
                self.h5["bases"][name] = h5py.SoftLink(f"/bases/{target}")

    def field_target(self, name):
        """The stored field that ``name`` names: ``name`` itself, or the target of a :meth:`link_field`."""
        import h5py
        self._field_group(name)
        link = self.h5["fields"].get(name, getlink=True)
        return link.path.rsplit("/", 1)[-1] if isinstance(link, h5py.SoftLink) else name

    def field_info(self, name):
        """Dict with location, n_steps, n_items, n_components, components, units, time, parameters."""
        g = self._field_group(name)
        F, N, C = g["values"].shape
        info = {k: (v.tolist() if hasattr(v, "tolist") else v) for k, v in g.attrs.items()}
        info.update(n_steps=F, n_items=N, n_components=C, time=g["time"][...],
                    parameters=g["parameters"][...])
        info["components"] = [str(c) for c in g.attrs["components"]]
        return info

    def _field_group(self, name):
        if "fields" not in self.h5 or name not in self.h5["fields"]:
            raise InputError(f"{self.final_path}: no field {name!r} (fields: {', '.join(self.fields()) or 'none'})")
        return self.h5["fields"][name]

    def append_step(self, name, block_values, time, parameters=()):
        """Append one step to field ``name``.

        ``block_values`` is this rank's contiguous natural block ``(stop-start, C)`` of the items, with
        ``(start, stop) = partition_range(n_items, comm)`` (see :class:`~dromo.parallel.Redistributor`,
        whose ``owned_to_natural`` produces exactly that). Returns the new step index.
        """
        g = self._field_group(name)
        ds = g["values"]
        F, N, C = ds.shape
        start, stop = partition_range(N, self.comm)
        block_values = np.asarray(block_values, dtype=np.float64).reshape(stop - start, C)
        self.ensure_space(_chunked_bytes(ds, 1), f"step {F} of field {name}")
        with self.writing(f"step {F} of field {name}"):
            ds.resize(F + 1, axis=0)
            g["time"].resize(F + 1, axis=0)
            g["parameters"].resize(F + 1, axis=0)
            _collective_write(ds, (F, slice(start, stop), slice(None)), block_values, stop == start)
            if self.comm.rank == 0:
                g["time"][F] = float(time)
                if g["parameters"].shape[1]:
                    g["parameters"][F, :] = np.asarray(parameters, dtype=np.float64)
        return F

    def write_field(self, name, location, block_values, times, parameters=None, **kwargs):
        """Write a whole series at once: ``block_values`` (F, stop-start, C) natural block of this rank."""
        block_values = np.asarray(block_values, dtype=np.float64)
        F, _n, C = block_values.shape
        P = 0 if parameters is None else np.asarray(parameters).reshape(F, -1).shape[1]
        n_items = self.comm.allreduce(_n)
        g = self.create_field(name, location, C, n_items=n_items, n_parameters=P, **kwargs)
        start, stop = partition_range(n_items, self.comm)
        if stop - start != _n:
            raise ValueError(f"field {name}: rank block has {_n} rows, expected {stop - start}")
        self.ensure_space(_chunked_bytes(g["values"], F) + 8 * F * (P + 1), f"field {name}")
        with self.writing(f"field {name}"):
            for ds, shape in ((g["values"], (F, n_items, C)), (g["time"], (F,)), (g["parameters"], (F, P))):
                ds.resize(shape)
            _collective_write(g["values"], (slice(None), slice(start, stop), slice(None)), block_values,
                              stop == start or F == 0)
            if self.comm.rank == 0:
                g["time"][:] = np.asarray(times, dtype=np.float64)
                if P:
                    g["parameters"][...] = np.asarray(parameters, dtype=np.float64).reshape(F, P)

    def read_steps(self, name, steps):
        """This rank's natural block of ``steps`` (a slice or sorted index list): (n_sel, stop-start, C)."""
        g = self._field_group(name)
        ds = g["values"]
        F, N, C = ds.shape
        start, stop = partition_range(N, self.comm)
        if isinstance(steps, slice):
            sel = steps
        else:
            sel = np.asarray(steps, dtype=np.int64)
            if sel.size and (sel.min() < 0 or sel.max() >= F):
                raise InputError(f"{self.final_path}: field {name} has {F} steps, asked for {sel.tolist()}")
            sel = sel.tolist()
        n_sel = len(range(*sel.indices(F))) if isinstance(sel, slice) else len(sel)
        if stop == start or n_sel == 0:
            return np.zeros((n_sel, stop - start, C))
        # independent read: a rank with nothing to read simply does not take part
        return ds[sel, start:stop, :]

    def read_items(self, name, items, steps=slice(None)):
        """Values of field ``name`` at a few natural ``items`` of this rank's choice (any order, repeats
        allowed; each rank its own, possibly none) for ``steps``: ``(n_steps, len(items), C)``. For small
        item sets (e.g. the nodes around a ROM's reduced points). Collective (checks); the reads are
        independent."""
        g = self._field_group(name)
        ds = g["values"]
        F, N, C = ds.shape
        items = np.asarray(items, dtype=np.int64).reshape(-1)
        with collective(self.comm):
            bad = items[(items < 0) | (items >= N)]
            if bad.size:
                raise InputError(f"{self.final_path}: field {name} has {N} items, asked for item {int(bad[0])}")
        uniq, inv = np.unique(items, return_inverse=True)
        sel = ds[steps, uniq.tolist(), :] if uniq.size else np.zeros((len(range(F))[steps].__len__(), 0, C))
        return np.ascontiguousarray(np.asarray(sel)[:, inv, :], dtype=np.float64)

    def field_source(self, name, redistributor=None, components=None):
        """A :class:`~dromo.reduction.sources.SnapshotSource`-like streaming reader over the steps of a field.

        Rows are items × components (item-major) of this rank: its natural block, or its owned items
        when a ``redistributor`` (:class:`~dromo.parallel.Redistributor`) is given.
        """
        return FieldSource(self, name, redistributor, components)

    # ------------------------------------------------------------------ free-form arrays
    def write_array(self, path, data, attrs=None):
        """Write a small replicated array at ``path``; rank 0's values are written (and its shape used on every
        rank, so a value that differs between ranks, a timing say, cannot desynchronize the file)."""
        data = np.ascontiguousarray(data)
        if self.comm.size > 1:
            data = self.comm.bcast(data if self.comm.rank == 0 else None, root=0)
        self.ensure_space(data.nbytes, path)
        with self.writing(path):
            if path in self.h5:
                del self.h5[path]
            ds = self.h5.create_dataset(path, shape=data.shape, dtype=data.dtype)
            if self.comm.rank == 0 and data.size:
                ds[...] = data
            for k, v in (attrs or {}).items():
                ds.attrs[k] = v
        return ds

    def read_array(self, path):
        """The whole array at ``path``, replicated on every rank."""
        with collective(self.comm):
            if path not in self.h5:
                raise InputError(f"{self.final_path}: no dataset {path}")
            return self.h5[path][...]

    def write_natural(self, path, block, n_items):
        """Write an item-distributed array at ``path``: shape ``(n_items,) + block.shape[1:]`` float64.

        ``block`` is this rank's contiguous natural block of the items, ``partition_range(n_items)``
        (what :meth:`Redistributor.owned_to_natural <dromo.parallel.Redistributor.owned_to_natural>`
        yields); an existing dataset at ``path`` is replaced. One collective MPI-IO write.
        """
        block = np.ascontiguousarray(block, dtype=np.float64)
        start, stop = partition_range(n_items, self.comm)
        if block.shape[0] != stop - start:
            raise ValueError(f"{path}: rank block has {block.shape[0]} rows, expected {stop - start}")
        self.ensure_space(8 * int(n_items) * int(np.prod(block.shape[1:], dtype=np.int64)), path)
        with self.writing(path):
            if path in self.h5:
                del self.h5[path]
            ds = self.h5.create_dataset(path, shape=(int(n_items),) + block.shape[1:], dtype=np.float64)
            _collective_write(ds, slice(start, stop), block, stop == start or block.size == 0)
        return ds

    def read_natural(self, path, n_items=None):
        """This rank's natural block ``partition_range(n_items)`` of the array at ``path`` (any rank count).

        ``n_items`` (the length of the first axis) is checked when given.
        """
        with collective(self.comm):
            if path not in self.h5:
                raise InputError(f"{self.final_path}: no dataset {path}")
            ds = self.h5[path]
            if n_items is not None and ds.shape[0] != n_items:
                raise InputError(f"{self.final_path}: {path} has {ds.shape[0]} items, expected {n_items}")
        start, stop = partition_range(ds.shape[0], self.comm)
        if stop == start:
            return np.zeros((0,) + ds.shape[1:], dtype=ds.dtype)
        return ds[start:stop]           # independent read: a rank with nothing to read does not take part

    # ------------------------------------------------------------------ groups and attributes
    def has(self, path):
        """Whether a group or dataset exists at ``path`` (no communication)."""
        return path in self.h5

    def require_group(self, path):
        """Create the group ``path`` (and its parents) unless it exists; returns ``path``."""
        with self.writing(path):
            self.h5.require_group(path)
        return path

    def delete(self, path):
        """Remove the group or dataset at ``path`` if present."""
        with self.writing(f"the removal of {path}"):
            if path in self.h5:
                del self.h5[path]

    def set_attrs(self, path, attrs):
        """Set attributes (a dict; same values on every rank) on the group or dataset ``path``.

        A missing ``path`` is created as a group. Rank 0's values are written on every rank.
        """
        if self.comm.size > 1:
            attrs = self.comm.bcast(attrs if self.comm.rank == 0 else None, root=0)
        with self.writing(f"attributes of {path}"):
            obj = self.h5[path] if path in self.h5 else self.h5.require_group(path)
            for k, v in attrs.items():
                obj.attrs[k] = v

    def get_attrs(self, path):
        """The attributes of ``path`` as a dict: strings decoded, numpy scalars as Python numbers."""
        with collective(self.comm):
            if path not in self.h5:
                raise InputError(f"{self.final_path}: no group or dataset {path}")
            return {k: _plain(v) for k, v in self.h5[path].attrs.items()}

    def truncate_steps(self, n_steps):
        """Drop the steps beyond ``n_steps`` of every field (e.g. after a restart from an older checkpoint)."""
        with self.writing(f"the first {n_steps} steps"):
            for name in self.fields():
                g = self.h5["fields"][name]
                if g["values"].shape[0] > n_steps:
                    for k in ("values", "time", "parameters"):
                        g[k].resize(int(n_steps), axis=0)


def _plain(v):
    """An HDF5 attribute value as a plain Python value (bytes → str, numpy scalar → int/float)."""
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, np.generic):
        return v.item()
    return v


class FieldSource:
    """Streams a stored field step-block by step-block as (rows, steps) matrices; see ``field_source``."""

    def __init__(self, archive, name, redistributor=None, components=None):
        self.archive = archive
        self.name = name
        self.comm = archive.comm
        info = archive.field_info(name)
        self.info = info
        self.components = list(range(info["n_components"])) if components is None else \
            [info["components"].index(c) if isinstance(c, str) else int(c) for c in components]
        self.redistributor = redistributor
        self.n_snapshots = info["n_steps"]
        start, stop = partition_range(info["n_items"], self.comm)
        n_rows_items = redistributor.n_owned if redistributor is not None else stop - start
        if redistributor is not None and redistributor.n_global != info["n_items"]:
            raise InputError(f"field {name} has {info['n_items']} items, the layout {redistributor.n_global}")
        self.n_local = n_rows_items * len(self.components)

    def read(self, start, stop):
        """Local rows of steps ``start:stop``: (n_local, stop-start) float64 (collective)."""
        block = self.archive.read_steps(self.name, slice(start, stop))[:, :, self.components]
        block = np.moveaxis(block, 0, -1)                        # (items, C, steps)
        if self.redistributor is not None:
            block = self.redistributor.natural_to_owned(block)
        return np.ascontiguousarray(block.reshape(-1, stop - start))

    def label(self, j):
        t = self.info["time"][j] if j < len(self.info["time"]) else float("nan")
        par = self.info["parameters"][j] if len(self.info["parameters"]) else ()
        s = f"field {self.name}, step {j}, time {t:g}"
        if len(par):
            s += ", parameters (" + ", ".join(f"{p:g}" for p in par) + ")"
        return s
