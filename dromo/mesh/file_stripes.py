"""The stripes of a mesh file, never whole on any rank: the entry point of the distributed set-up from a
mesh file (:meth:`dromo.mesh.distributed.DistributedMesh.from_file`, ``dromo mesh``).

``.inp`` decks (:mod:`dromo.mesh.inp_stream`) and gmsh 4.1 ``.msh`` files (:mod:`dromo.mesh.msh_stream`) are
parsed on rank 0 in bounded pieces, each sent to a rank as soon as it is parsed (:mod:`dromo.mesh.pieces`),
and assembled into stripes by all ranks (:mod:`dromo.mesh.assemble`): rank 0 holds its share plus one piece,
not the mesh. Other formats (and the gmsh files :mod:`~dromo.mesh.msh_stream` leaves to the serial reader)
are read whole on rank 0 by :func:`dromo.mesh.readers.read_mesh` and sent in stripes
(:meth:`MeshStripes.scatter`). Either way the stripes are those of the serial reader's mesh.
"""
import os

from ..parallel.errors import collective
from ..parallel.log import get_logger
from .assemble import assemble
from .pieces import read_pieces
from .stripes import MeshStripes

__all__ = ["read_file_stripes", "streamed_format"]

log = get_logger(__name__)


def streamed_format(path, format=None):
    """``"inp"`` or ``"msh"`` when the file is read in pieces, else ``None``."""
    fmt = (format or os.path.splitext(os.fspath(path))[1].lstrip(".")).lower()
    return {"inp": "inp", "abaqus": "inp", "calculix": "inp", "ccx": "inp", "msh": "msh", "gmsh": "msh"}.get(fmt)


def read_file_stripes(path, comm, prune=True, format=None, stream=None):
    """The :class:`MeshStripes` of the mesh file ``path`` (collective). ``stream``: read in pieces (``None``:
    when there is more than one rank; on one rank the serial reader gives the same stripes with less
    memory, having no pieces to send); ``False``: the serial reader on rank 0 whatever the format."""
    path = os.fspath(path)
    stream = comm.size > 1 if stream is None else stream
    kind = streamed_format(path, format) if stream else None
    if kind is not None:
        from . import inp_stream, msh_stream
        parse = (inp_stream if kind == "inp" else msh_stream).parse
        got = read_pieces(lambda sender: parse(path, sender, prune), comm)
        if got is not None:
            return assemble(*got, comm)
        log.info("%s: read whole on rank 0 (not read in pieces)", path)
    mesh = None
    with collective(comm):
        if comm.rank == 0:
            from .readers import read_mesh
            mesh = read_mesh(path, format=format, prune=prune)
    return MeshStripes.scatter(mesh, comm)
