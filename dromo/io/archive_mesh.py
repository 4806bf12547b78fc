"""The mesh in a dromo archive (``/mesh``, layout in :mod:`dromo.io.archive`): written from each rank's natural
stripes (one collective MPI-IO write per dataset, nothing gathered) or from a replicated mesh (rank 0), read
as stripes (the distributed set-up's input: each rank its own hyperslabs) or whole (small meshes, tools).

The :class:`~dromo.io.archive.Archive` methods ``write_mesh``, ``read_mesh``, ``read_mesh_stripes`` call these
functions; :func:`distributed_mesh` builds a :class:`~dromo.mesh.distributed.DistributedMesh` of a mesh file or
of an archive's mesh. Set names are stored percent-encoded (:func:`encode_name`).
"""
import numpy as np
from mpi4py import MPI

from ..errors import InputError
from ..parallel.errors import collective


def write_mesh(ar, mesh):
    """Write the mesh and its quadrature attributes (collective).

    ``mesh``: a :class:`~dromo.mesh.distributed.DistributedMesh` or
    :class:`~dromo.mesh.stripes.MeshStripes` (each rank writes its natural stripes: one collective
    MPI-IO write per dataset, nothing gathered), or a :class:`~dromo.mesh.meshdata.MeshData` replicated
    on every rank (rank 0 writes it).
    """
    pieces = _mesh_pieces(mesh, ar.comm)
    nbytes = sum(8 * total * int(np.prod(local.shape[1:], dtype=np.int64)) for _p, local, total, _o in pieces)
    ar.ensure_space(nbytes, "the mesh")
    with ar.writing("the mesh"):
        _write_mesh(ar, mesh, pieces)


def _write_mesh(ar, mesh, pieces):
    from .archive import _collective_write
    from ..mesh.quadrature import element_rule
    g = ar.h5.require_group("mesh")
    g.require_group("cells")
    for path, local, total, offset in pieces:
        ds = g.create_dataset(path, shape=(total,) + local.shape[1:], dtype=local.dtype)
        if total * int(np.prod(local.shape[1:], dtype=np.int64)):      # the same on every rank
            _collective_write(ds, slice(offset, offset + len(local)), local, local.size == 0)
    types, rules, sizes = _mesh_blocks(mesh)
    first = 0
    for k, (t, rule, n) in enumerate(zip(types, rules, sizes)):
        bg = g["cells"][f"{k}_{t}"]
        bg.attrs["type"] = t
        bg.attrs["rule"] = rule
        bg.attrs["first_cell"] = first
        bg.attrs["n_qp"] = len(element_rule(t, rule).weights)
        first += n
    g.require_group("node_sets")
    g.require_group("element_sets")
    g.require_group("facet_sets")
    g.attrs["source"] = str(getattr(mesh, "source", ""))


def read_mesh(ar):
    """Read the mesh as a :class:`~dromo.mesh.meshdata.MeshData`, replicated on every rank (O(N) on every
    rank: small meshes and tools; the set-up uses :meth:`read_mesh_stripes`)."""
    from ..mesh.meshdata import CellBlock, MeshData
    with collective(ar.comm):
        if "mesh" not in ar.h5:
            raise InputError(f"{ar.final_path}: archive has no /mesh group")
        g = ar.h5["mesh"]
        blocks = []
        for key in sorted(g["cells"], key=lambda s: int(s.split("_", 1)[0])):
            bg = g["cells"][key]
            blocks.append(CellBlock(type=str(bg.attrs["type"]), cells=bg["connectivity"][...],
                                    ids=bg["ids"][...], rule=str(bg.attrs.get("rule", "full"))))
        mesh = MeshData(
            points=g["points"][...], blocks=blocks, node_ids=g["node_ids"][...],
            node_sets={decode_name(k): v[...] for k, v in g["node_sets"].items()},
            element_sets={decode_name(k): v[...] for k, v in g["element_sets"].items()},
            facet_sets={decode_name(k): {f: a[...] for f, a in v.items()} for k, v in g["facet_sets"].items()},
            source=str(g.attrs.get("source", ar.final_path)))
    return mesh


def read_mesh_stripes(ar):
    """The mesh as :class:`~dromo.mesh.stripes.MeshStripes`: each rank reads its natural stripes only
    (the input of a distributed set-up, ``DistributedMesh(archive.read_mesh_stripes())``)."""
    from ..mesh.stripes import MeshStripes
    with collective(ar.comm):
        if "mesh" not in ar.h5:
            raise InputError(f"{ar.final_path}: archive has no /mesh group")
    return MeshStripes.from_h5(ar.h5["mesh"], ar.comm, decode_name, ar.final_path)


def distributed_mesh(path, comm=None, partitioner="ptscotch"):
    """A :class:`~dromo.mesh.distributed.DistributedMesh` of a mesh file or of a dromo archive's mesh
    (``.h5``/``.hdf5``: every rank reads its stripes, nothing whole anywhere); a mesh file through
    :meth:`DistributedMesh.from_file` (``.inp`` and gmsh 4.1 ``.msh`` parsed on rank 0 in pieces, never whole;
    other formats read on rank 0 and sent in stripes). Collective."""
    from ..mesh.distributed import DistributedMesh
    comm = comm or MPI.COMM_WORLD
    if str(path).lower().endswith((".h5", ".hdf5")):
        from .archive import Archive
        with Archive.open(path, comm) as ar:
            stripes = ar.read_mesh_stripes()
        return DistributedMesh(stripes, comm, partitioner)
    return DistributedMesh.from_file(path, comm, partitioner)


def _mesh_blocks(mesh):
    """(types, rules, sizes) of the blocks of a MeshData, MeshStripes or DistributedMesh."""
    st = getattr(mesh, "stripes", mesh)
    if hasattr(st, "block_types"):
        return st.block_types, st.block_rules, np.diff(st.block_offsets).tolist()
    return [b.type for b in mesh.blocks], [getattr(b, "rule", "full") for b in mesh.blocks], \
        [len(b.cells) for b in mesh.blocks]


def _mesh_pieces(mesh, comm):
    """The datasets of ``/mesh`` as ``(path, this rank's rows, total rows, first row)``, the same paths in
    the same order on every rank: the stripes of a distributed mesh, or the whole of a replicated
    MeshData on rank 0 (no rows elsewhere)."""
    st = getattr(mesh, "stripes", mesh)
    out = []

    def add(path, local, dtype):
        local = np.ascontiguousarray(local, dtype=dtype)
        if hasattr(st, "block_types"):
            before = comm.exscan(len(local))
            first = 0 if comm.rank == 0 or before is None else int(before)
            total = int(comm.allreduce(len(local)))
        else:
            first, total = 0, len(local)
            if comm.rank != 0:
                local = local[:0]
        out.append((path, local, total, first))

    add("points", st.points, np.float64)
    add("node_ids", st.node_ids, np.int64)
    types = _mesh_blocks(mesh)[0]
    for k, t in enumerate(types):
        cells = st.cells[k] if hasattr(st, "block_types") else mesh.blocks[k].cells
        ids = st.cell_ids[k] if hasattr(st, "block_types") else mesh.blocks[k].ids
        add(f"cells/{k}_{t}/connectivity", cells, np.int64)
        add(f"cells/{k}_{t}/ids", ids, np.int64)
    for gname in ("node_sets", "element_sets"):
        sets = getattr(st, gname)
        for name in sorted(sets):
            add(f"{gname}/{encode_name(name)}", sets[name], np.int64)
    for name in sorted(st.facet_sets):
        for ftype, arr in sorted(st.facet_sets[name].items()):
            add(f"facet_sets/{encode_name(name)}/{ftype}", arr, np.int64)
    return out


def encode_name(name):
    """A set name as an HDF5 link name: ``%`` and ``/`` percent-encoded, and ``.``/``..`` (which HDF5
    cannot hold as names) written ``%2E``/``%2E%2E``; :func:`decode_name` is the inverse. Names without
    those characters are stored as they are."""
    name = str(name).replace("%", "%25").replace("/", "%2F")
    return name.replace(".", "%2E") if name in (".", "..") else name


def decode_name(key):
    """Inverse of :func:`encode_name`."""
    from urllib.parse import unquote
    return unquote(key) if "%" in key else key
