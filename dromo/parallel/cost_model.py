"""The cost model of ``docs/scaling.md``: memory per rank, bytes sent, messages and flops of every stage as
functions of the problem size, and its check against the counts dromo measures
(:class:`~dromo.parallel.counting.CountingComm`).

Notation (all sizes are counts, bytes are bytes, a double is 8 bytes):

======  ===============================================================================
N       displacement dofs (``3 n_n``)
n_n     nodes; ``n_c`` cells; ``n_q`` integration points; ``nn`` nodes per cell
S       bytes of the mesh (``MeshData``): ``32 n_n + 8 (nn + 1) n_c`` + its sets
m       snapshots; ``k`` POD modes kept
p       ECM integrand basis functions; ``n`` ECM points (= greedy iterations)
P       ranks; ``h`` halo (ghost) nodes of one rank, ``≈ 6 (n_n / P)^(2/3)``
F       fields per increment of an import; ``T`` increments
======  ===============================================================================

Two families of functions:

* :func:`counts` — the *exact* model of what :class:`~dromo.parallel.counting.CountingComm` counts for
  the stages it can see (``setup``: the distributed set-up from an archive, ``import``, ``pod_snapshots``,
  ``tsqr``, ``ecm``): the bytes and messages summed over the ranks, from the algorithm's payloads plus the
  control messages of dromo's collective error checks (4 bytes each); :func:`setup_held` the bytes of the
  arrays the largest rank's ``DistributedMesh`` holds. :func:`compare` puts them against a benchmark's measurement.
* :func:`table` — the leading terms of every stage (set-up today and distributed, assembly, HF increment,
  import, POD by snapshots / TSQR / SLEPc, ECM, online) per rank, for sizes nobody can run here
  (``N = 1e8``, ``P = 1024``).
"""
import math
import pickle

import numpy as np

__all__ = ["counts", "import_mesh_counts", "import_params", "setup_exchange_bytes", "setup_held", "compare", "table", "mesh_bytes", "halo_nodes"]

#: pickled sizes (protocol 5) of what dromo's control collectives send
_NONE = len(pickle.dumps(None, 5))            # a collective error check: no error (4 bytes)
#: error flag, "own block" flag and error order of a parallel-parsed value (parallel_values.raise_first)
_FLAGS = len(pickle.dumps((False, True, None), 5))
_PARSED = len(pickle.dumps((False, None, None), 5))  # the parse check of a step (parallel_values.parse_step)
_FLOAT = len(pickle.dumps(0.5, 5))            # a Python float (21)
_SMALL_INT = len(pickle.dumps(12345, 5))      # a Python int below 2**31 (15)
_BIG_INT = len(pickle.dumps(2 ** 63 - 1, 5))  # int64 max: "no candidate" key of the ECM argmax (22)
_PAIR = 142                                   # a pickled (2,) int64 array (partition quality)
_ROUND_INT = len(pickle.dumps(1, 5))          # the number of dual-graph rounds (a small int)
_PICKLE_OVERHEAD = 900                        # pickle framing of a MeshData (classes, names)
#: control messages of one ``import_results`` besides the per-step ones, on every rank (archive and
#: mesh creation checks, XDMF sidecar, close): read from the code and one run (docs/scaling.md)
_IMPORT_FIXED = 28
_IMPORT_FIELD_DESCRIPTOR = 560                # pickled bytes of one .frd block descriptor in a step header
_IMPORT_HEAD_EXTRA = 1500                     # pickled field specs, item counts and attributes (the head)
_MESH_COUNT = 5                               # a pickled small int: a /mesh dataset's rows (striped write)


def mesh_bytes(n_nodes, n_cells, nodes_per_cell, set_bytes=0):
    """Bytes of a ``MeshData``: coordinates and ids of the nodes, connectivity and ids of the cells, sets."""
    return 32 * n_nodes + 8 * (nodes_per_cell + 1) * n_cells + set_bytes


def halo_nodes(n_nodes, P):
    """Ghost nodes of one rank (surface of a compact subdomain of ``n_nodes / P`` nodes); 0 at P = 1."""
    return 0.0 if P == 1 else 6.0 * (n_nodes / P) ** (2.0 / 3.0)


def counts(stage, P, **q):
    """``(bytes, messages)`` summed over the ``P`` ranks that :class:`CountingComm` counts for ``stage``.

    Parameters by stage: ``setup``: those of :func:`setup_exchange_bytes`; ``pod_snapshots``: m, k; ``tsqr``: m;
    ``ecm``: p, n (iterations); ``import``: mesh_bytes, T (increments), F (fields) and those of
    :func:`import_mesh_counts` (:func:`import_params` of the mesh).
    """
    one = P == 1
    if stage == "setup":            # the distributed set-up from an archive: see setup_exchange_bytes
        return setup_exchange_bytes(P, **q)
    if stage == "pod_snapshots":    # Gram m×m and the k×k orthonormality check: Allreduce + Bcast each
        if one:
            return 0, 0
        m, k = q["m"], q["k"]
        return (P + 1) * 8 * (m * m + k * k) + P * (_NONE + 2 * 5 + 22), 6 * P + 2
    if stage == "tsqr":             # P − 1 triangles up the tree, the result broadcast
        return (0, 0) if one else (P * 8 * q["m"] ** 2, P)
    if stage == "ecm":              # b = Jᵀw (Allreduce + Bcast), per iteration 2 scalar allreduces + 1 row
        if one:
            return 0, 0
        p, n = q["p"], q["n"]
        b = (P + 1) * 8 * p + n * (8 * p + P * _FLOAT + _SMALL_INT + (P - 1) * _BIG_INT)
        return b, P + 1 + n * (2 * P + 1)
    if stage == "import":           # specs once, the mesh in stripes, a header per step (+ the end), checks
        T, F = q["T"], q["F"]
        root_b = _IMPORT_HEAD_EXTRA + T * F * _IMPORT_FIELD_DESCRIPTOR
        root_b += 75 + 4                     # archive creation attributes, close flag
        mesh_b, mesh_m = import_mesh_counts(P, q["mesh_bytes"], T, **{k: v for k, v in q.items()
                                                                      if k not in ("mesh_bytes", "T", "F")})
        if one:
            return root_b + mesh_b, T + 5 + mesh_m     # the bcasts (specs, T + 1 headers), create, close, sidecar
        # every rank: per field and step the error + own-block flags and a write check, per step a read
        # check and a parse check, fixed checks (mesh, fields, close), the close flag and the sidecar barrier
        ctrl = 2 * T * F + 2 * T + 1 + _IMPORT_FIXED - 2
        return (root_b + mesh_b + P * (4 + T * F * _FLAGS + T * _PARSED + (ctrl - T * F - T) * _NONE),
                P * (ctrl + 2) + T + 3 + mesh_m)
    raise ValueError(f"unknown stage {stage!r}")


def import_mesh_counts(P, mesh_bytes, T, n_nodes=0, n_cells=0, datasets=0, fetched=None, lookups=None,
                       dat_rows=0):
    """``(bytes, messages)`` summed over the ranks of the mesh part of an import (:mod:`dromo.io.adapters.import_mesh`):

    * the stripes sent by rank 0, one pickled piece per other rank: ``(P-1)/P · mesh_bytes`` plus the pickle
      framing of each piece (:data:`_PICKLE_OVERHEAD`);
    * the striped ``/mesh`` write: one ``allreduce`` of a row count per dataset (``datasets``: points, node
      ids, connectivity and ids per block, one per set and facet type) on every rank;
    * ``Exchange`` plans (one ``Alltoall`` of counts, two ``Alltoallv``) for the node directory, the cells'
      coordinates (``fetched``: nodes of every rank's cell stripe held by another rank's node stripe, 8 bytes
      there and 24 back; default ``P · halo_nodes``), and one look-up per step and directory with parsed
      values (``lookups``, default ``T``, ``2 T`` with a ``.dat``): the ``.frd``'s first block's node ids (8 bytes there and back per record;
      later blocks with the same ids are not looked up again); with a ``.dat`` (``dat_rows`` rows of its
      first quantity), the element directory and those rows' element ids, one more plan each.

    A share ``(P-1)/P`` of every id goes to another rank (ids taken ``mod P``). Messages are exact; bytes
    within the pickle sizes of the pieces and the locality of the ids.
    """
    f = (P - 1) / P
    lookups = T * (2 if dat_rows else 1) if lookups is None else lookups
    fetched = P * halo_nodes(n_nodes, P) if fetched is None else fetched
    plans = 2 + lookups + (1 if dat_rows else 0)
    b = f * mesh_bytes + (P - 1) * _PICKLE_OVERHEAD + P * datasets * _MESH_COUNT
    b += P * plans * 8 * (P - 1) + f * 16 * (2 * n_nodes + (n_cells + dat_rows if dat_rows else 0)) + 32 * fetched
    return b, (P - 1) + P * datasets + 3 * P * plans


def import_params(mesh, P):
    """``{n_nodes, n_cells, datasets, fetched}`` of :func:`import_mesh_counts` for a
    :class:`~dromo.mesh.meshdata.MeshData` imported on ``P`` ranks (computed from the whole mesh: for
    benchmarks and tests)."""
    from .comm import partition_offsets
    noff, coff = partition_offsets(mesh.n_nodes, P), partition_offsets(mesh.n_cells, P)
    fetched = 0
    for r in range(P):
        lo, hi = int(coff[r]), int(coff[r + 1])
        nodes = np.unique(np.concatenate([b.cells[max(0, lo - o):max(0, hi - o)].reshape(-1) for b, o in
                                          zip(mesh.blocks, mesh.cell_offsets[:-1])]))
        fetched += int(((nodes < noff[r]) | (nodes >= noff[r + 1])).sum())
    datasets = 2 + 2 * len(mesh.blocks) + len(mesh.node_sets) + len(mesh.element_sets) + \
        sum(len(d) for d in mesh.facet_sets.values())
    return dict(n_nodes=mesh.n_nodes, n_cells=mesh.n_cells, datasets=datasets, fetched=fetched)


#: collective error checks of the set-up from an archive (archive open, stripes read, validation, geometry,
#: close), on every rank when P > 1
_SETUP_CHECKS = 5


def setup_exchange_bytes(P, n_nodes, n_cells, corners, nodes_per_cell, incidence, edges, local_nodes,
                         set_members, n_sets, n_blocks, rounds=1, **_):
    """``(bytes, messages)`` summed over the ranks of the distributed set-up (:mod:`dromo.mesh.distributed`)
    from an archive's stripes. Every exchange item goes to another rank with probability ``f = (P-1)/P``
    (numbering and partition uncorrelated: an upper bound, the file's locality lowers it).

    ``corners`` per cell, ``incidence`` = Σ over corner nodes of (cells touching it)² (the dual-graph
    replies), ``edges`` of the dual graph, ``local_nodes`` = Σ over ranks of owned + ghost nodes,
    ``set_members`` = members of the node and element sets (``n_sets`` of them, redistributed by value),
    ``n_blocks`` cell blocks, ``rounds`` of the dual-graph exchange.
    """
    f = (P - 1) / P
    items = (8 * set_members + 16 * corners * n_cells * 2 + 16 * incidence + 2 * 8 * 2 * edges
             + 8 * (nodes_per_cell + 2) * n_cells + 48 * local_nodes)
    n_exchanges = n_sets + 1 + 2 * rounds + 1 + n_blocks + 2          # Exchange plans (one Alltoall each)
    n_moves = n_sets + 1 + 2 * rounds + 2 + n_blocks + 3 + 2          # Alltoallv calls
    small = P * (_ROUND_INT + _PAIR + (_PAIR - 16 + 8 * P) + 8 * P)   # rounds, quality (2), PETSc counts
    b = f * items + n_exchanges * 8 * P * (P - 1) + small
    m = P * (n_exchanges + n_moves + 4)
    if P > 1:
        b += P * _SETUP_CHECKS * _NONE
        m += P * _SETUP_CHECKS
    return b, m


def setup_held(P, n_nodes, n_cells, n_ip, nodes_per_cell, set_bytes=0):
    """Bytes of the arrays of the largest rank's ``DistributedMesh``: its stripes (nodes: coordinates, ids,
    owner, PETSc id; cells: connectivity, ids, part; sets), its local nodes with their halo (natural,
    PETSc, owner, sorted look-up pair, coordinates) and its cells (connectivity, natural and external ids,
    cell and integration-point natural ids)."""
    local_nodes = n_nodes / P + halo_nodes(n_nodes, P)
    stripes = 48 * n_nodes / P + 8 * (nodes_per_cell + 2) * n_cells / P + set_bytes / P
    local = 64 * local_nodes + 8 * (nodes_per_cell + 3) * n_cells / P + 8 * n_ip / P
    return stripes + local


def _rel(model, measured):
    if measured == 0:
        return 0.0 if model == 0 else 1.0
    return abs(model - measured) / measured


def compare(runs, cfg):
    """Model against a ``benchmarks/scale.py`` measurement ``runs`` ``{P: worker output}``.

    Returns ``{"stages": {stage: {"P": [...], "bytes": [[model, measured] ...], "messages": ...,
    "error": worst}}, "worst": worst relative error, "where": "stage at P ranks (quantity)"}``; bytes and
    messages are summed over the ranks, the set-up's held bytes are the largest rank's.
    """
    out, worst, where = {}, 0.0, ""
    for P, r in sorted(runs.items()):
        me, po, ec, im = r["mesh"], r["pod"], r["ecm"], r["import"]
        params = {"setup": me,
                  "pod_snapshots": dict(m=po["m"], k=po["k"]), "tsqr": dict(m=po["m"]),
                  "ecm": dict(p=ec["p"], n=ec["iterations"]),
                  "import": dict(mesh_bytes=im["mesh_bytes"], T=im["increments"], F=im["fields"],
                                 **im.get("mesh", {}))}
        measured = {}
        for c in r["counts"]:
            for s, (b, m) in c.items():
                t = measured.setdefault(s, [0, 0])
                t[0] += b
                t[1] += m
        for stage, q in params.items():
            mb, mm = counts(stage, P, **q)
            gb, gm = measured.get(stage, (0, 0))
            e = out.setdefault(stage, {"P": [], "bytes": [], "messages": [], "error": 0.0})
            e["P"].append(P)
            e["bytes"].append([int(mb), int(gb)])
            e["messages"].append([int(mm), int(gm)])
            for what, a, b in (("bytes", mb, gb), ("messages", mm, gm)):
                err = _rel(a, b)
                e["error"] = round(max(e["error"], err), 4)
                if err > worst:
                    worst, where = err, f"{stage} at {P} ranks ({what})"
        held = setup_held(P, me["n_nodes"], me["n_cells"], me["n_ip"], me["nodes_per_cell"], me["set_bytes"])
        e = out.setdefault("setup_held", {"P": [], "bytes": [], "error": 0.0})
        e["P"].append(P)
        e["bytes"].append([int(held), int(max(r["setup_held"]))])
        err = _rel(held, max(r["setup_held"]))
        e["error"] = round(max(e["error"], err), 4)
        if err > worst:
            worst, where = err, f"setup_held at {P} ranks"
    return {"stages": out, "worst": worst, "where": where}


# ------------------------------------------------------------------------------------------ paper model
def table(N, m, P, k=200, p=400, n=400, T=100, F=3, nodes_per_cell=10, cells_per_node=0.7, ip_per_cell=4,
          nnz_per_row=81, cg_iterations=100, slepc_sweeps=3):
    """Leading terms per stage and per rank (the busiest), as ``{stage: {"memory": bytes, "sent": bytes,
    "messages": count, "flops": count, "replicated": bytes of replicated data}}``.

    Defaults: a tet10 mesh (``n_c ≈ 0.7 n_n`` cells, 4 points each), ``nnz_per_row`` matrix entries per
    dof row, ``cg_iterations`` Krylov iterations per Newton iteration, ``k`` modes, ``p`` ECM functions
    and ``n`` points, ``T`` increments of ``F`` fields imported. See docs/scaling.md for the derivation.
    """
    nn_ = N / 3.0
    nc = cells_per_node * nn_
    nq = ip_per_cell * nc
    S = mesh_bytes(nn_, nc, nodes_per_cell) * 1.1                 # + about 10 % of sets
    h = halo_nodes(nn_, P)
    lg = max(1, math.ceil(math.log2(P)))
    local_nodes = nn_ / P + h
    rows = 3 * local_nodes
    t = {}
    t["setup (today)"] = dict(memory=S + 48 * nn_ + 16 * nc + S / P, sent=S + 8 * nc / P, messages=7,
                              flops=30 * nn_ + nn_ * math.log2(nn_), replicated=S + 48 * nn_ + 16 * nc)
    # distributed: stripes + own share + halo, bounded dual-graph rounds (GRAPH_ROUND_CELLS = 1024 cells, ≈ 10 MB);
    # sent: the exchanges of setup_exchange_bytes per rank (4 corners, weighted corner degree 25, 2 n_c edges)
    f = (P - 1) / P
    rounds = math.ceil(nc / P / 1024)
    t["setup (distributed)"] = dict(
        memory=2 * S / P + 64 * h + 10e6,
        sent=f * (32 * 4 * nc + 16 * 4 * 25 * nc + 8 * (nodes_per_cell + 2) * nc + 48 * (nn_ + P * h)
                  + 32 * 2 * nc) / P,
        messages=2 * (10 + 2 * rounds + 8), flops=4 * 25 * nc / P * math.log2(max(2, 4 * 25 * 1024)),
        replicated=0)
    mat = 12 * nnz_per_row * rows
    t["assembly"] = dict(memory=mat + 8 * nq / P * 6 * 2, sent=12 * nnz_per_row * 3 * h, messages=26,
                         flops=2 * nq / P * (3 * nodes_per_cell) ** 2 * 6, replicated=0)
    t["HF increment (1 Newton it.)"] = dict(
        memory=3 * mat, sent=cg_iterations * (24 * h + 16), messages=cg_iterations * (26 + 2),
        flops=cg_iterations * 2 * nnz_per_row * rows * 2 + 2 * nq / P * 500, replicated=0)
    # per increment: F values parsed, a header, one node look-up (3 messages; ids as the first block's: none sent)
    t["import (per increment)"] = dict(memory=8 * F * 6 * nn_ / P, sent=F * 560, messages=2 * F + 6,
                                       flops=60 * F * 6 * nn_ / P, replicated=0)
    # the mesh: read whole on rank 0 (the busiest: S), sent in stripes (P - 1 messages), a node directory and
    # the cells' coordinates (3 messages each), one row count per /mesh dataset (about 10); nothing replicated
    t["import (mesh)"] = dict(memory=S, sent=(1 - 1 / P) * S, messages=P - 1 + 6 + 10,
                              flops=0, replicated=0)
    t["POD snapshots"] = dict(memory=8 * N * m / P + 4 * 8 * m * m + 8 * N * k / P, sent=2 * 8 * m * m,
                              messages=4, flops=2 * N * m * m / P + 9 * m ** 3 + 2 * N * m * k / P,
                              replicated=4 * 8 * m * m)
    t["POD TSQR"] = dict(memory=8 * N * m / P + (2 + 32 / m) * 8 * m * m + 3 * 8 * m * m,
                         sent=8 * m * m, messages=1, flops=2 * N * m * m / P + lg * 2 * m ** 3 + 22 * m ** 3,
                         replicated=2 * 8 * m * m)
    t["POD SLEPc (k modes)"] = dict(memory=8 * N * m / P + 8 * N * 2 * k / P, sent=slepc_sweeps * 2 * k * 8 * k,
                                    messages=slepc_sweeps * 4 * k, flops=slepc_sweeps * 2 * 2 * N * m * k / P,
                                    replicated=8 * 4 * k * k)
    t["ECM"] = dict(memory=12 * nq * p / P + 8 * p * n, sent=n * (8 * p + 42) / P + n * 42, messages=2 * n + 2,
                    flops=n * 2 * nq * p / P + n * 4 * p * n, replicated=8 * p * n)
    t["online (1 rank, per Newton it.)"] = dict(memory=8 * n * 6 * (k + 1) + 8 * k * k, sent=0, messages=0,
                                                flops=n * (6 * 2 * k + 300 + 2 * 6 * k * k) + k ** 3 / 3,
                                                replicated=0)
    return t
