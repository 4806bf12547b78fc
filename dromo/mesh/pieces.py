"""A mesh file parsed on rank 0 in bounded pieces, each piece sent to one rank as soon as it is parsed.

Rank 0 runs a format's piece parser (:mod:`dromo.mesh.inp_stream`, :mod:`dromo.mesh.msh_stream`) with a
:class:`PieceSender`: every piece (a few tens of thousands of nodes, cells or set members, as a tuple
``(kind, ...)`` of small numpy arrays) goes to the next rank in turn (rank 0 keeps its own turns), so rank 0
never holds more than one piece besides its share, and every rank ends up with about ``1/P`` of the file.
The parser returns the *table* of the mesh (block types and sizes, set names and how their members are
given: replicated, a few entries per card); :func:`read_pieces` broadcasts it, and
:func:`dromo.mesh.assemble.assemble` turns the pieces into the :class:`~dromo.mesh.stripes.MeshStripes`
the serial reader's mesh would give.

Errors: an exception of the parser (an InputError naming the file and line) stops the sending; every rank
then raises it (:func:`~dromo.parallel.errors.raise_collectively`), none is left waiting. A parser that
meets what it does not stream raises :class:`NotStreamable`: every rank drops its pieces and the caller
reads the file with the serial reader instead.
"""
from ..parallel.errors import raise_collectively

__all__ = ["PieceSender", "NotStreamable", "read_pieces"]

_TAG = 79


class NotStreamable(Exception):
    """The file uses something the piece parser does not handle (the serial reader is used instead)."""


class PieceSender:
    """Rank 0's side: :meth:`put` sends a piece to the next rank in turn (or keeps it) and returns that rank.

    Attributes: ``own`` (the pieces kept by rank 0), ``sent_bytes`` (payload of the arrays handed out, all
    ranks, for the tests and the benchmark)."""

    def __init__(self, comm):
        self.comm = comm
        self.turn = 0
        self.own = []
        self.sent_bytes = 0

    def put(self, piece):
        dest = self.turn % self.comm.size
        self.turn += 1
        if dest == 0:
            self.own.append(piece)
        else:
            self.sent_bytes += sum(getattr(x, "nbytes", 0) for x in piece)
            self.comm.send(piece, dest=dest, tag=_TAG)
        return dest

    def close(self, status):
        for r in range(1, self.comm.size):
            self.comm.send(("end", status), dest=r, tag=_TAG)


def _receive(comm):
    pieces = []
    while True:
        piece = comm.recv(source=0, tag=_TAG)
        if piece[0] == "end":
            return pieces, piece[1]
        pieces.append(piece)


def read_pieces(parse, comm):
    """Run ``parse(sender) -> table`` on rank 0, the other ranks receiving their pieces. Collective.

    Returns ``(pieces, table)`` on every rank (``table`` broadcast), or ``None`` on every rank when the parser
    raised :class:`NotStreamable`; an error of the parser is raised on every rank."""
    exc, table, status = None, None, "ok"
    if comm.rank == 0:
        sender = PieceSender(comm)
        try:
            table = parse(sender)
        except NotStreamable as e:
            status = f"fallback: {e}"
        except BaseException as e:                     # noqa: BLE001 (re-raised on every rank below)
            exc, status = e, "error"
        sender.close(status)
        pieces = sender.own
    else:
        pieces, status = _receive(comm)
    raise_collectively(exc, comm)
    if status != "ok":
        return None
    return pieces, comm.bcast(table, root=0)
