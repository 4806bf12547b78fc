"""The mesh stripes from the pieces of a mesh file (:mod:`dromo.mesh.pieces`), distributed: what the serial
readers' ``finish`` does on the whole mesh, done by every rank on its share.

Input, on every rank: the pieces it was sent and the replicated *table* (see :func:`assemble`). Output:
the :class:`~dromo.mesh.stripes.MeshStripes` of the mesh the serial reader returns (same node and cell
numbering, ids, sets and facet sets, facet rows in the same order), every array O(N/P) on every rank.

How (every step an :class:`~dromo.parallel.exchange.Exchange` or a :class:`~dromo.parallel.exchange.Directory`
look-up, no rank holding more than its share):

1. node coordinates go to *position stripes* (file order); node keys (``.inp`` ids, gmsh tags) into a
   directory ``key -> file position`` (duplicates refused, or the last kept as meshio does);
2. the connectivity's keys are looked up (an undefined node is an error naming the element's line); the
   position stripes mark the nodes used (pruning) and number them: the natural node ids;
3. nodes and cells move to their natural stripes; the cells' ids fill a directory ``element id -> natural
   cell`` for the sets (``.inp``);
4. sets: each part (explicit ids, ``GENERATE`` ranges expanded against the directories, ranges of cells or
   nodes of a card, the nodes of cells) gives members anywhere, sent to the stripe holding them by value;
5. facet sets: each facet's cell and face (given by a ``*SURFACE``; found by matching corner keys for a
   gmsh surface group, at the rank ``max corner mod P``), its outward node row from the cell's stripe, and
   its output row by a global sample sort on (facet type group, block, face, order in the file).

Errors are agreed on (:func:`_agree`): the one the serial reader reports first (lowest position in its
order) is raised on every rank, with the serial reader's message.
"""
import numpy as np
from mpi4py import MPI

from ..errors import InputError
from ..parallel.comm import partition_range
from ..parallel.exchange import Directory, Exchange, global_rank, stripe_of
from .inp_sets import GenerateRange
from .meshdata import CORNERS, FACES, FACET_TYPES, NODES_PER_CELL, NODES_PER_FACET, face_keys, match_face_keys
from .stripes import MeshStripes

__all__ = ["assemble"]

_FT = {t: i for i, t in enumerate(FACET_TYPES)}
_I64 = np.int64


def _agree(comm, candidate):
    """Raise, on every rank, the InputError of the candidate ``(order key, message)`` that comes first over
    the ranks (``None``: no error here). Collective."""
    found = [c for c in comm.allgather(candidate) if c is not None]
    if found:
        raise InputError(min(found)[1])


def _first_bad(comm, bad, key, message):
    """:func:`_agree` on the first ``True`` of ``bad`` (order ``key(i)``, text ``message(i)``)."""
    cand = None
    for i in np.flatnonzero(bad):
        k = key(int(i))
        if cand is None or k < cand[0]:
            cand = (k, int(i))
    _agree(comm, None if cand is None else (cand[0], message(cand[1])))


def _cat(arrays, shape=(0,), dtype=_I64):
    return np.concatenate(arrays) if arrays else np.zeros(shape, dtype=dtype)


class _Assembly:
    def __init__(self, pieces, table, comm):
        self.comm, self.t = comm, table
        self.src = table.get("src", table["source"])          # the file named in messages
        self.files = table["files"]
        self.types = [b[0] for b in table["blocks"]]
        self.rules = [b[1] for b in table["blocks"]]
        sizes = np.array([b[2] for b in table["blocks"]], dtype=_I64)
        self.boff = np.concatenate(([0], np.cumsum(sizes))).astype(_I64)
        self.n_cells = int(self.boff[-1])
        self.n_file = int(table["n_file_nodes"])
        self.pa, self.pb = partition_range(self.n_file, comm)       # this rank's position stripe
        self.cs, self.ce = partition_range(self.n_cells, comm)       # this rank's cell stripe
        self.by_kind = {}
        for p in pieces:
            self.by_kind.setdefault(p[0], []).append(p)
        self.chunks = {p[1]: p for p in self.by_kind.get("set", [])}

    # ------------------------------------------------------------------ helpers
    def where(self, fidx, lines, i):
        return f"{self.files[int(fidx[i])]}:{int(lines[i])}"

    def to_position_stripes(self, pos, values):
        """Rows ``values`` of file positions ``pos`` -> this rank's position stripe, in position order."""
        ex = Exchange(stripe_of(pos, self.n_file, self.comm.size), self.comm)
        got = ex.forward(pos)
        out = np.empty((self.pb - self.pa,) + values.shape[1:], dtype=values.dtype)
        out[got - self.pa] = ex.forward(values)
        return out

    def new_of_positions(self, pos):
        """Natural node ids of file positions (-1: a pruned node). Collective."""
        pos = np.asarray(pos, dtype=_I64)
        ex = Exchange(stripe_of(pos.reshape(-1), self.n_file, self.comm.size), self.comm)
        return ex.backward(self.new_local[ex.forward(pos.reshape(-1)) - self.pa]).reshape(pos.shape)

    def to_value_stripes(self, members, n):
        """Sorted unique members (natural ids in ``range(n)``) of this rank's stripe, from members anywhere."""
        members = np.asarray(members, dtype=_I64)
        ex = Exchange(stripe_of(members, n, self.comm.size), self.comm)
        return np.unique(ex.forward(members))

    def stripe_cells(self, nat):
        """(block, row in this rank's stripe of the block) of natural cells of this rank's stripe."""
        b = np.searchsorted(self.boff, nat, side="right") - 1
        lo = np.maximum(self.boff[:-1], self.cs)
        return b, nat - lo[b]

    def nodes_of_cells(self, nat):
        """Natural node ids of the natural cells ``nat`` of this rank's stripe (flat)."""
        b, row = self.stripe_cells(np.asarray(nat, dtype=_I64))
        return _cat([self.cells[k][row[b == k]].ravel() for k in np.unique(b)])

    # ------------------------------------------------------------------ 1-3: nodes and cells
    def nodes_and_cells(self):
        comm, t = self.comm, self.t
        xyz_p = self.by_kind.get("xyz", [])
        pos = _cat([p[1] + np.arange(len(p[2]), dtype=_I64) for p in xyz_p])
        xyz = self.to_position_stripes(pos, _cat([p[2] for p in xyz_p], (0, 3), np.float64))
        key_p = self.by_kind.get("nodekeys", [])
        kpos = _cat([p[1] + np.arange(len(p[2]), dtype=_I64) for p in key_p])
        keys = _cat([p[2] for p in key_p])
        if t["node_ids"] == "keys":
            ext = self.to_position_stripes(kpos, keys)
        else:                                                   # 1-based positions (meshio's convention)
            ext = np.arange(self.pa + 1, self.pb + 1, dtype=_I64)
        self.node_dir = Directory(keys, kpos, comm, duplicates="last" if t["duplicate_nodes"] == "last" else "error")
        del keys, kpos
        if t["duplicate_nodes"] == "error":
            d = self.node_dir.first_duplicate()
            if d is not None:
                raise InputError(f"{self.src}: node id {d} defined more than once")
        # -- the connectivity: keys -> file positions
        cell_p = sorted(self.by_kind.get("cells", []), key=lambda p: (p[1], p[2]))
        flat = _cat([p[4].ravel() for p in cell_p])
        posflat = self.node_dir.lookup(flat)
        widths = [p[4].shape[1] for p in cell_p]
        offs = np.concatenate(([0], np.cumsum([p[4].size for p in cell_p]))).astype(_I64)
        bad = posflat < 0
        piece_of = np.searchsorted(offs, np.arange(flat.size), side="right") - 1 if bad.any() else None

        def order(i):
            p = cell_p[piece_of[i]]
            return (p[1], p[2] + (i - offs[piece_of[i]]) // widths[piece_of[i]])

        def message(i):
            k = piece_of[i]
            p, row = cell_p[k], (i - offs[k]) // widths[k]
            eid = p[3][row] if p[3] is not None else p[2] + row + 1
            if p[5] is not None:
                return f"{self.where(p[5], p[6], row)}: element {eid} references undefined node {flat[i]}"
            return (f"{self.src}: element {eid} ({self.types[p[1]]}) of block {p[1]} references undefined "
                    f"node tag {flat[i]}")

        _first_bad(comm, bad, order, message)
        del flat
        # -- the nodes used, numbered in file order: the natural ids
        ex = Exchange(stripe_of(posflat, self.n_file, comm.size), comm)
        got = ex.forward(posflat)
        used = np.zeros(self.pb - self.pa, dtype=bool)
        if t.get("prune", True):
            used[got - self.pa] = True
        else:
            used[:] = True
        n_used = int(used.sum())
        first = comm.exscan(n_used) or 0
        self.n_nodes = comm.allreduce(n_used)
        self.new_local = np.full(self.pb - self.pa, -1, dtype=_I64)
        self.new_local[used] = first + np.arange(n_used, dtype=_I64)
        connnew = ex.backward(self.new_local[got - self.pa])
        del got, posflat, ex
        # -- nodes to their natural stripes
        new = self.new_local[used]
        ex = Exchange(stripe_of(new, self.n_nodes, comm.size), comm)
        got = ex.forward(new)
        self.ns, self.ne = partition_range(self.n_nodes, comm)
        self.points = np.empty((self.ne - self.ns, 3))
        self.points[got - self.ns] = ex.forward(xyz[used])
        self.node_ids = np.empty(self.ne - self.ns, dtype=_I64)
        self.node_ids[got - self.ns] = ex.forward(ext[used])
        del xyz, ext, used
        # -- cells to their natural stripes, block by block
        self.cells, self.cell_ids = [], []
        for b, typ in enumerate(self.types):
            mine = [k for k, p in enumerate(cell_p) if p[1] == b]
            nat = _cat([self.boff[b] + cell_p[k][2] + np.arange(len(cell_p[k][4]), dtype=_I64) for k in mine])
            ids = _cat([cell_p[k][3] if cell_p[k][3] is not None else
                        cell_p[k][2] + 1 + np.arange(len(cell_p[k][4]), dtype=_I64) for k in mine])
            nn = NODES_PER_CELL[typ]
            conn = _cat([connnew[offs[k]:offs[k + 1]] for k in mine]).reshape(-1, nn)
            ex = Exchange(stripe_of(nat, self.n_cells, comm.size), comm)
            got = ex.forward(nat)
            lo = max(self.cs, int(self.boff[b]))
            hi = max(lo, min(self.ce, int(self.boff[b + 1])))
            c = np.empty((hi - lo, nn), dtype=_I64)
            i = np.empty(hi - lo, dtype=_I64)
            c[got - lo] = ex.forward(conn)
            i[got - lo] = ex.forward(ids)
            self.cells.append(c)
            self.cell_ids.append(i)
        del connnew
        if t.get("element_keys"):
            nat = _cat([np.arange(max(self.cs, self.boff[b]), max(self.cs, self.boff[b]) + len(c), dtype=_I64)
                        for b, c in enumerate(self.cells)])
            self.elem_dir = Directory(_cat(self.cell_ids), nat, comm)
            d = self.elem_dir.first_duplicate()
            if d is not None:
                raise InputError(f"{self.src}: element id {d} defined more than once")

    # ------------------------------------------------------------------ 4: sets
    def look_up_chunks(self, parts, directory):
        """The explicit ids of the ``("ids", rank, chunk, n)`` parts held here, looked up in ``directory``
        (collective; ``None``: no directory, no ids). Returns ``(ids, values (-1: undefined), part index of
        each id, its index in its part, [(part index, part)])``."""
        mine = [(i, p) for i, p in enumerate(parts)
                if isinstance(p, tuple) and p[0] == "ids" and p[1] == self.comm.rank]
        ids = _cat([self.chunks[p[2]][2].ravel() for _i, p in mine])
        vals = directory.lookup(ids) if directory is not None else np.zeros(0, _I64)
        lens = [self.chunks[p[2]][2].size for _i, p in mine]
        owner = np.repeat(np.array([i for i, _p in mine], dtype=_I64), lens)
        return ids, vals, owner, _cat([np.arange(n, dtype=_I64) for n in lens]), mine

    def expand_range(self, part, directory):
        """The values (file positions / natural cells) of a GENERATE range's defined ids held here, and their
        indices in the range; the range's checks (collective)."""
        comm = self.comm
        hit = part.members(directory.keys)
        j = np.asarray((directory.keys[hit].astype(object) - part.start) // part.step, dtype=_I64) \
            if hit.any() else np.zeros(0, _I64)
        n_def = comm.allreduce(int(hit.sum()))
        if n_def != part.size:
            js = np.sort(j)
            lo, hi = 0, part.size - 1            # the first missing index: the first x with #{j <= x} <= x
            while lo < hi:
                mid = (lo + hi) // 2
                if comm.allreduce(int(np.searchsorted(js, mid, side="right"))) < mid + 1:
                    hi = mid
                else:
                    lo = mid + 1
            part.report(n_def, lo)
        return directory.values[hit], j, n_def

    def resolve(self, kind, name, parts, need_seq=False):
        """Members of set ``name`` from its ``parts``: for ``kind`` "element" ``(natural cells, seq, total)``
        (``seq``: the raw position of each member in the set as written, with repeats, when ``need_seq``);
        for "node" ``(file positions, natural node ids)`` (either may hold a member). Collective."""
        comm, rank = self.comm, self.comm.rank
        directory = self.node_dir if kind == "node" else getattr(self, "elem_dir", None)
        label = self.t["labels"][kind].format(name)
        noun = self.t["nouns"][kind]
        # explicit ids: one look-up for the whole set
        ids, vals, owner, within, _mine = self.look_up_chunks(parts, directory)
        _first_bad(comm, vals < 0, lambda i: (int(owner[i]), int(within[i])),
                   lambda i: f"{self.src}: {label} references undefined {noun} {ids[i]}")
        out, seq, new, offset = [], [], [], 0
        for i, p in enumerate(parts):
            if isinstance(p, GenerateRange):
                v, j, n = self.expand_range(p, directory)
                out.append(v)
                if need_seq:
                    seq.append(offset + global_rank(j, comm))
                offset += n
            elif p[0] == "ids":
                if p[1] == rank:
                    sel = owner == i
                    out.append(vals[sel])
                    seq.append(offset + within[sel])
                offset += p[3]
            elif p[0] in ("cells", "cellnodes"):
                o = int(self.boff[p[1]]) + p[2]
                nat = np.arange(max(o, self.cs), max(max(o, self.cs), min(o + p[3], self.ce)), dtype=_I64)
                if p[0] == "cells":
                    out.append(nat)
                    seq.append(offset + nat - o)
                else:
                    new.append(self.nodes_of_cells(nat))
                offset += p[3]
            elif p[0] == "nodes":
                lo, hi = max(p[1], self.pa), min(p[1] + p[2], self.pb)
                if hi > lo:
                    new.append(self.new_local[lo - self.pa:hi - self.pa])
                offset += p[2]
        if kind == "node":
            return _cat(out), _cat(new)
        return _cat(out), (_cat(seq) if need_seq else None), offset

    def sets(self):
        t, n_nodes = self.t, self.n_nodes
        self.element_sets = {}
        for name, parts in t["element_sets"].items():
            nat, _s, _n = self.resolve("element", name, parts)
            self.element_sets[name] = self.to_value_stripes(nat, self.n_cells)
        members = {}
        for name, parts in t["node_sets"].items():
            pos, new = self.resolve("node", name, parts)
            members[name] = [self.new_of_positions(pos), new]
        for nset, eset, where in t.get("nset_from_elset", []):
            if eset not in self.element_sets:
                raise InputError(f"{where}: unknown element set {eset!r} in *NSET {nset}")
            members.setdefault(nset, []).append(self.nodes_of_cells(self.element_sets[eset]))
        self.node_sets = {}
        for name, m in members.items():
            m = _cat(m)
            self.node_sets[name] = self.to_value_stripes(m[m >= 0], n_nodes)

    # ------------------------------------------------------------------ 5: facet sets
    def face_rows(self, cell, face, seq, group, what):
        """Outward node rows of faces ``face`` of natural cells ``cell`` (any rank), in the serial readers'
        order: by ``group`` (an index of the facets' kind in the set), block, face, then ``seq``. Returns
        {facet type: this rank's stripe of rows}. ``what(b, k, cell id)`` is the message for a face the cell
        does not have. Collective."""
        comm, nb = self.comm, len(self.types)
        ex = Exchange(stripe_of(cell, self.n_cells, comm.size), comm)
        c, k, s = ex.forward(cell), ex.forward(face), ex.forward(seq)
        b, row = self.stripe_cells(c)
        ans = np.full((len(c), 10), -1, dtype=_I64)
        ans[:, 0] = b
        nf = np.array([len(FACES[self.types[x]]) for x in range(nb)], dtype=_I64)
        bad = k >= nf[b]
        _first_bad(comm, bad, lambda i: (int(b[i]), int(k[i]), int(s[i])),
                   lambda i: what(int(b[i]), int(k[i]), int(self.cell_ids[b[i]][row[i]])))
        for x in np.unique(b):
            for f in np.unique(k[b == x]):
                ft, idx = FACES[self.types[x]][f]
                sel = (b == x) & (k == f)
                ans[sel, 1] = _FT[ft]
                ans[sel, 2:2 + len(idx)] = self.cells[x][row[sel]][:, idx]
        ans = ex.backward(ans)
        n_seq = comm.allreduce(int(seq.max()) + 1 if seq.size else 0, op=MPI.MAX)
        n_grp = (comm.allreduce(int(group.max()) + 1 if group.size else 0, op=MPI.MAX)) * nb * 6
        g = (group * nb + ans[:, 0]) * 6 + face
        r = global_rank(g * n_seq + seq, comm)
        count = np.zeros(n_grp, dtype=_I64)
        comm.Allreduce(np.bincount(g, minlength=n_grp).astype(_I64), count)
        gtype = np.full(n_grp, -1, dtype=_I64)
        for x in range(n_grp):
            if count[x]:
                gtype[x] = _FT[FACES[self.types[(x // 6) % nb]][x % 6][0]]
        start = np.concatenate(([0], np.cumsum(count)[:-1]))
        out = {}
        for code in dict.fromkeys(gtype[count > 0].tolist()):
            ft = FACET_TYPES[code]
            in_t = np.where(gtype == code, count, 0)
            before = np.concatenate(([0], np.cumsum(in_t)[:-1]))
            sel = ans[:, 1] == code
            rows = r[sel] - start[g[sel]] + before[g[sel]]
            n_t = int(in_t.sum())
            ex = Exchange(stripe_of(rows, n_t, comm.size), comm)
            got = ex.forward(rows)
            lo, _hi = partition_range(n_t, comm)
            nfn = NODES_PER_FACET[ft]
            a = np.empty((len(got), nfn), dtype=_I64)
            a[got - lo] = ex.forward(np.ascontiguousarray(ans[sel, 2:2 + nfn]))
            out[ft] = a
        return out

    def surfaces(self):
        """``*SURFACE, TYPE=ELEMENT`` items -> facet sets (``.inp``)."""
        comm, rank, fs = self.comm, self.comm.rank, {}
        for name, items in self.t.get("surfaces", {}).items():
            cells, faces, seq, offset = [], [], [], 0
            ids, nat, owner, within, mine = self.look_up_chunks(items, self.elem_dir)
            fid = _cat([self.chunks[it[2]][4] for _i, it in mine])
            lno = _cat([self.chunks[it[2]][5] for _i, it in mine])
            _first_bad(comm, nat < 0, lambda i: (int(owner[i]), int(within[i])),
                       lambda i: f"{self.src}: {self.where(fid, lno, i)}: *SURFACE {name} references "
                                 f"undefined element {ids[i]}")
            for i, it in enumerate(items):
                if it[0] == "ids":
                    if it[1] == rank:
                        sel = owner == i
                        cells.append(nat[sel])
                        faces.append(self.chunks[it[2]][3])
                        seq.append(offset + within[sel])
                    offset += it[3]
                    continue
                _kind, ref, face, where = it
                if ref.upper() not in self.t["element_sets"]:
                    raise InputError(f"{where}: unknown element set {ref!r} in *SURFACE {name}")
                c, s, n = self.resolve("element", ref.upper(), self.t["element_sets"][ref.upper()], True)
                cells.append(c)
                faces.append(np.full(len(c), face, dtype=_I64))
                seq.append(offset + s)
                offset += n
            cells = _cat(cells)

            def what(b, k, eid, name=name):
                nf = len(FACES[self.types[b]])
                return (f"{self.src}: *SURFACE {name}: face S{k + 1} of element {eid} ({self.types[b]}) does "
                        f"not exist (S1..S{nf})")

            fs[name] = self.face_rows(cells, _cat(faces), _cat(seq), np.zeros(len(cells), _I64), what)
        return fs

    def facet_groups(self):
        """Gmsh surface groups -> facet sets: each facet matched to the lowest cell having it as a face."""
        comm, p = self.comm, self.comm.size
        table = self.t["facet_sets"]
        names = list(table)
        fac = self.by_kind.get("facets", [])
        lens = [len(f[4]) for f in fac]
        base = np.concatenate(([0], np.cumsum(lens))).astype(_I64)
        piece = np.repeat(np.arange(len(fac), dtype=_I64), lens)
        seq = _cat([f[3] + np.arange(len(f[4]), dtype=_I64) for f in fac])
        grp = _cat([np.full(len(f[4]), f[2], dtype=_I64) for f in fac])
        nam = _cat([np.full(len(f[4]), names.index(f[1]), dtype=_I64) for f in fac])
        flat = _cat([f[4].ravel() for f in fac])
        fpos = self.node_dir.lookup(flat)
        fnew = self.new_of_positions(fpos)
        cut = np.concatenate(([0], np.cumsum([f[4].size for f in fac]))).astype(_I64)
        pos = [fpos[cut[i]:cut[i + 1]].reshape(f[4].shape) for i, f in enumerate(fac)]
        rowbad = _cat([(q < 0).any(axis=1) for q in pos], dtype=bool)

        def facet(i):
            f = fac[piece[i]]
            return f[1], table[f[1]][f[2]], pos[piece[i]][i - base[piece[i]]]

        key = lambda i: (int(nam[i]), int(grp[i]), int(seq[i]))          # noqa: E731
        _first_bad(comm, rowbad, key, lambda i: "{}: facet set {!r} ({}) references an undefined node tag: {}"
                   .format(self.src, *facet(i)[:2], fac[piece[i]][4][i - base[piece[i]]].tolist()))
        fkeys = _cat([face_keys(fnew[cut[i]:cut[i + 1]].reshape(f[4].shape)[:, :CORNERS[table[f[1]][f[2]]]])
                      for i, f in enumerate(fac)], (0, 4))
        # the faces of the stripe's cells with as many corners as some facet, matched at rank max corner mod P
        want = {CORNERS[ft] for fts in table.values() for ft in fts}
        ck, cc, cf = [], [], []
        for b, typ in enumerate(self.types):
            lo = max(self.cs, int(self.boff[b]))
            for k, (ft, idx) in enumerate(FACES[typ]):
                if CORNERS[ft] in want and len(self.cells[b]):
                    ck.append(face_keys(self.cells[b][:, idx[:CORNERS[ft]]]))
                    cc.append(lo + np.arange(len(self.cells[b]), dtype=_I64))
                    cf.append(np.full(len(self.cells[b]), k, dtype=_I64))
        ck, cc, cf = _cat(ck, (0, 4)), _cat(cc), _cat(cf)
        exc = Exchange(ck[:, -1] % p, comm)
        exf = Exchange(fkeys[:, -1] % p, comm)
        cell, face = match_face_keys(exc.forward(ck), exc.forward(cc), exc.forward(cf), exf.forward(fkeys))
        del ck, cc, cf, exc
        cell, face = exf.backward(cell), exf.backward(face)
        _first_bad(comm, cell < 0, key, lambda i: "{}: facet set {!r} ({}): facet with nodes {} (0-based) is no "
                   "face of any volume cell".format(self.src, *facet(i)[:2], facet(i)[2].tolist()))
        fs = {}
        for j, name in enumerate(names):
            sel = nam == j
            fs[name] = self.face_rows(cell[sel], face[sel], seq[sel], grp[sel],
                                      lambda b, k, eid: f"{self.src}: element {eid} has no face S{k + 1}")
        return fs

    # ------------------------------------------------------------------ all
    def run(self):
        self.nodes_and_cells()
        self.sets()
        facet_sets = self.surfaces() if self.t.get("surfaces") is not None else {}
        if self.t.get("facet_sets"):
            facet_sets.update(self.facet_groups())
        return MeshStripes(self.comm, self.n_nodes, self.types, self.rules, np.diff(self.boff), self.points,
                           self.node_ids, self.cells, self.cell_ids, self.node_sets, self.element_sets,
                           facet_sets, self.t["source"])


def assemble(pieces, table, comm):
    """The :class:`MeshStripes` of a mesh file from its pieces (this rank's) and its table (replicated).
    Collective.

    ``table`` keys: ``source``, ``files`` (paths, for line locations), ``n_file_nodes``, ``blocks`` [(type,
    rule, size)], ``node_ids`` ("keys": the node keys are the ids, ``.inp``; "position": 1-based file
    positions, meshio), ``duplicate_nodes`` ("error" / "last"), ``element_keys`` (element ids are keys for
    sets), ``prune``, ``labels`` / ``nouns`` ({"node"|"element": text} for messages), ``node_sets`` /
    ``element_sets`` ({name: parts}), ``nset_from_elset`` [(nset, elset, where)], ``surfaces`` ({name:
    items}, ``.inp``), ``facet_sets`` ({name: [facet types as met]}, gmsh).

    Pieces: ``("xyz", pos0, (k, 3))``, ``("nodekeys", pos0, (k,))``, ``("cells", block, start, ids | None,
    (k, nn) node keys, file index | None, line | None)``, ``("set", chunk id, ids, faces | None, file index,
    line)``, ``("facets", name, facet type index, seq0, (k, nfn) node keys)``. Set parts: ``("ids", rank,
    chunk id, n)``, a :class:`GenerateRange`, ``("cells" | "cellnodes", block, start, n)``, ``("nodes", pos0,
    n)``; surface items ``("ids", rank, chunk id, n)`` or ``("elset", name, face, where)``.
    """
    return _Assembly(pieces, table, comm).run()
