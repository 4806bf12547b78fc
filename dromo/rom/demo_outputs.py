"""What ``dromo demo`` derives from its archives (:mod:`dromo.rom.demo`): ParaView archives of the HF and
reduced fields and their difference, the monitored series, and the figures. Collective, any rank count.

* :func:`difference_archive`: ``U_hf``, ``U_rom`` and ``U_diff = U_rom − U_hf`` at the nodes; ``p_hf``,
  ``p_rom``, ``p_diff`` as cell means (ParaView shows no integration-point data), at the times of the
  reduced result (the HF result interpolated linearly in time when the grids differ); the archive's XDMF
  sidecar opens it in ParaView;
* :func:`monitored_node`: the node of the ``tip`` node set whose HF displacement is the largest over time;
* :func:`series`: per step of an archive, the displacement magnitude at that node and the largest p of
  the part;
* :func:`write_outputs`: all of the above and the four figures (:mod:`dromo.rom.demo_figures`).
"""
import os

import numpy as np
from mpi4py import MPI

from ..parallel.comm import partition_range


def _cell_means(ar, name, step, c0, c1, nq):
    """Cell means of the integration-point field ``name`` (one component) over cells ``c0:c1`` at ``step``
    (every cell has ``nq`` points). Not collective: an independent read."""
    if c1 == c0:
        return np.zeros((0, 1))
    v = ar.h5["fields"][name]["values"][step, c0 * nq:c1 * nq, 0]
    return v.reshape(-1, nq).mean(axis=1, keepdims=True)


def difference_archive(rom_path, hf_path, output, comm):
    """Write the ParaView archive ``output`` (module docstring) from a reduced result with full ``U`` and
    ``p`` and its HF reference. Returns the number of steps written. Collective."""
    from ..io.archive import Archive
    from ..io.compare import interpolation_plan
    with Archive.open(rom_path, comm) as A, Archive.open(hf_path, comm) as B:
        ta, tb = A.field_info("U")["time"], B.field_info("U")["time"]
        plan, _skipped = interpolation_plan(ta, tb, outside="skip", where=f"{rom_path} against {hf_path}")
        with Archive.create(output, comm, attrs={"provenance": f"dromo demo: {rom_path} against {hf_path}"}) as C:
            C.write_mesh(A.read_mesh_stripes())
            for s, what in (("hf", "HF"), ("rom", "reduced"), ("diff", "reduced - HF")):
                C.create_field(f"U_{s}", "node", 3, components=["x", "y", "z"], description=f"displacement ({what})")
            n_cells, n_ip = C.n_items("cell"), C.n_items("ip")
            nq = n_ip // n_cells if n_ip % n_cells == 0 else 0          # cell means need one rule per cell
            if nq:
                for s, what in (("hf", "HF"), ("rom", "reduced"), ("diff", "reduced - HF")):
                    C.create_field(f"p_{s}", "cell", 1, description=f"cumulated plastic strain, cell mean ({what})")
            c0, c1 = partition_range(n_cells, comm)

            def pair(read, i, j, w):
                b = read(B, j) if w == 0.0 else (1.0 - w) * read(B, j) + w * read(B, j + 1)
                return read(A, i), b

            for i, j, w in plan:
                fields = [("U", pair(lambda ar, k: ar.read_steps("U", [k])[0], i, j, w))]
                if nq:
                    fields.append(("p", pair(lambda ar, k: _cell_means(ar, "p", k, c0, c1, nq), i, j, w)))
                for name, (a, b) in fields:
                    for s, v in (("hf", b), ("rom", a), ("diff", a - b)):
                        C.append_step(f"{name}_{s}", v, float(ta[i]))
    return len(plan)


def monitored_node(hf_path, comm, node_set="tip"):
    """The node of ``node_set`` with the largest HF displacement magnitude over time (every rank)."""
    from ..io.archive import Archive
    with Archive.open(hf_path, comm) as ar:
        nodes = np.asarray(ar.read_mesh().node_sets[node_set], dtype=np.int64)
        u = ar.read_items("U", nodes)                                   # (steps, n, 3)
    return int(nodes[np.argmax(np.linalg.norm(u, axis=2).max(axis=0))])


def series(path, node, comm):
    """``(times, |u(node)|, max p over the part)`` of every step of an archive with full U and p. Collective."""
    from ..io.archive import Archive
    with Archive.open(path, comm) as ar:
        times = np.asarray(ar.field_info("U")["time"], dtype=float)
        u = np.linalg.norm(ar.read_items("U", [node])[:, 0, :], axis=1)
        local = np.full(len(times), -np.inf)
        for k in range(len(times)):
            block = ar.read_steps("p", [k])[0]
            if block.size:
                local[k] = block.max()
    pmax = np.empty_like(local)
    comm.Allreduce(local, pmax, op=MPI.MAX)
    return times, u, pmax


def write_outputs(paths, facts, results, cmp, comm):
    """The ParaView archives, the monitored series and the four figures of the demo (PNG, rank 0 writes);
    adds what the report needs to ``facts`` (figure files, monitored node, ParaView steps). Collective."""
    from ..reduction.plots import plot_singular_values
    from . import demo_figures as figs
    out = paths["out"]
    facts["paraview"] = {}
    for run, key in (("unseen", "rom_unseen"), ("hot", "adapt_hot")):
        n = difference_archive(paths[key], paths[f"hf_{run}"], paths[f"paraview_{run}"], comm)
        facts["paraview"][run] = dict(archive=os.path.relpath(paths[f"paraview_{run}"], out), steps=n, reduced=key)
    node = monitored_node(paths["hf_hot"], comm)
    ser = {key: series(paths[key], node, comm)
           for key in ("hf_unseen", "rom_unseen", "hf_hot", "rom_hot", "adapt_hot")}
    rom, ad = results["rom"], results["adapt_hot"]
    facts["monitored_node"] = node
    facts["figures"] = {"singular_values": "singular_values.png", "reduced_points": "reduced_points.png",
                        "monitored": "monitored.png", "indicator": "indicator.png"}
    if comm.rank != 0:
        return
    f = {k: os.path.join(out, v) for k, v in facts["figures"].items()}
    plot_singular_values(facts["singular_values"], f["singular_values"], n_kept=facts["modes"], tol=facts["u_tol"],
                         title=f"POD of the training displacements (minus liftings): {facts['modes']} modes kept")
    from ..io.archive import Archive
    with Archive.open(paths["rom"], MPI.COMM_SELF) as ar:
        nodes_xyz = ar.read_mesh().points
    figs.plot_points(nodes_xyz, rom.points, ad.rom.points, f["reduced_points"])
    figs.plot_monitored(ser, facts["runs"]["adapt_hot"]["enrichment_times"], node, f["monitored"])
    figs.plot_indicator(ad.history, results["rom_hot"], facts["tols"], cmp["adapt_hot"], cmp["rom_hot"],
                        f["indicator"])
