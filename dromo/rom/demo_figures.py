"""The figures of ``dromo demo`` (PNG, matplotlib on the Agg backend; called on rank 0 only).

* :func:`plot_points`: the reduced points on the part (3-D scatter over the mesh nodes): ECM points,
  points kept for the dual fields only, points added by the enrichments of ``adapt``;
* :func:`plot_monitored`: a monitored displacement and the largest p over time, HF against the reduced
  model (and against ``adapt`` on the hot loading), enrichments marked;
* :func:`plot_indicator`: the error indicators over their tolerances and the true errors over time, plain
  reduced model against ``adapt``, enrichments marked.
"""
import numpy as np

from ..plotting import pyplot

#: at most this many mesh nodes drawn (a random subset beyond)
MAX_NODES = 20000


def _mark_enrichments(ax, times, label=True):
    for i, t in enumerate(times):
        ax.axvline(t, color="tab:red", lw=0.6, ls=":", alpha=0.8, label="enrichment" if label and i == 0 else None)


def _log_range(ax, values, decades):
    """Show ``decades`` decades below the largest finite positive value (values far below, e.g. the
    round-off indicator right after an enrichment, stay at the bottom edge)."""
    v = np.concatenate([np.ravel(x) for x in values])
    v = v[np.isfinite(v) & (v > 0)]
    if v.size:
        ax.set_ylim(v.max() * 10.0 ** -decades, v.max() * 3.0)


def plot_points(nodes, points, points_after, path):
    """Mesh nodes (grey) and the reduced points of the model before (``points``, PointData) and after the
    enrichments (``points_after``) to ``path``."""
    plt = pyplot()
    if len(nodes) > MAX_NODES:
        nodes = nodes[np.random.default_rng(0).choice(len(nodes), MAX_NODES, replace=False)]
    fig = plt.figure(figsize=(8.0, 7.0), dpi=100)
    ax = fig.add_subplot(projection="3d")
    ax.scatter(nodes[:, 0], nodes[:, 1], nodes[:, 2], s=0.8, c="0.55", alpha=0.45, label="mesh nodes")
    ecm = np.asarray(points.ecm, dtype=bool)
    xyz = points.coordinates
    ax.scatter(*xyz[ecm].T, s=18, c="tab:blue", depthshade=False, label=f"ECM points ({int(ecm.sum())})")
    if (~ecm).any():
        ax.scatter(*xyz[~ecm].T, s=18, c="tab:orange", marker="^", depthshade=False,
                   label=f"dual-field (QDEIM) points ({int((~ecm).sum())})")
    new = ~np.isin(points_after.ids, points.ids)
    if new.any():
        ax.scatter(*points_after.coordinates[new].T, s=28, c="tab:red", marker="*", depthshade=False,
                   label=f"added by adapt ({int(new.sum())})")
    span = nodes.max(axis=0) - nodes.min(axis=0)
    ax.set_box_aspect(span / span.max(), zoom=0.9)
    ax.set_xlabel("x [mm]")
    ax.set_ylabel("y [mm]")
    ax.set_zlabel("z [mm]")
    ax.view_init(elev=18, azim=-50)
    ax.set_title(f"reduced points on the blade: {points.n} before adapt, {points_after.n} after")
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, format="png")
    plt.close(fig)
    return path


def plot_monitored(ser, enrichment_times, node, path):
    """|u| at ``node`` and max p over time: ``ser`` {key: (times, |u|, max p)} with keys hf_unseen,
    rom_unseen, hf_hot, rom_hot, adapt_hot."""
    plt = pyplot()
    fig, axes = plt.subplots(2, 2, figsize=(11.0, 7.0), dpi=100, sharex="row")
    styles = {"hf": dict(color="k", lw=1.6, label="HF reference"),
              "rom": dict(color="tab:blue", ls="--", lw=1.2, label="reduced model (online)"),
              "adapt": dict(color="tab:red", ls=":", lw=1.6, marker=".", ms=3, label="adapt")}
    for row, run in enumerate(("unseen", "hot")):
        for col, (what, unit) in enumerate(((f"|u| at node {node} (tip)", "mm"), ("max p over the part", "-"))):
            ax = axes[row, col]
            for kind in ("hf", "rom", "adapt"):
                key = f"{kind}_{run}"
                if key in ser:
                    t, u, p = ser[key]
                    ax.plot(t, u if col == 0 else p, **styles[kind])
            if run == "hot":
                _mark_enrichments(ax, enrichment_times)
            ax.set_title(f"{run} loading: {what}", fontsize=10)
            ax.set_xlabel("time [s]")
            ax.set_ylabel(f"[{unit}]")
            ax.grid(True, lw=0.3)
            ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, format="png")
    plt.close(fig)
    return path


def plot_indicator(history, plain, tols, cmp_adapt, cmp_plain, path):
    """Top: indicator / tolerance of each field over time for ``adapt`` (``history``, AdaptHistory) and the
    plain reduced model (``plain``, ReducedResult); bottom: the true errors ‖a − b‖(t) / max_t ‖b‖ of U and
    p (``cmp_*``: {field: FieldComparison}); enrichments marked."""
    plt = pyplot()
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9.0, 7.5), dpi=100, sharex=True)
    enr = [e["time"] for e in history.enrichments]
    shown = {"top": [], "bottom": []}
    colors = {"S": "tab:green", "p": "tab:purple", "U": "tab:blue"}
    for f, tol in tols.items():
        ya, yp = np.asarray(history.indicator[f]) / tol, np.asarray(plain.indicator[f]) / tol
        top.semilogy(history.times, ya, color=colors.get(f), marker=".", ms=3,
                     label=f"adapt: indicator {f} / tol ({tol:g})")
        top.semilogy(plain.times, yp, color=colors.get(f), ls="--", lw=0.9, label=f"online: indicator {f} / tol")
        shown["top"] += [ya, yp]
    top.axhline(1.0, color="k", lw=0.8, label="tolerance")
    _mark_enrichments(top, enr)
    top.set_ylabel("indicator / tolerance")
    top.set_title(f"hot loading: error indicators and true errors ({len(enr)} enrichments)")
    for f in ("U", "p"):
        for c, ls, who in ((cmp_adapt[f], "-", "adapt"), (cmp_plain[f], "--", "online")):
            e = c.norm_diff / max(c.norm_ref.max(), 1e-300)
            shown["bottom"].append(e)
            bottom.semilogy(c.times, np.where(e > 0, e, np.nan), color=colors[f], ls=ls, lw=1.1,
                            label=f"{who}: {'u' if f == 'U' else f} error (max {c.max_rel_error:.2g})")
    _mark_enrichments(bottom, enr, label=False)
    bottom.set_ylabel("‖ROM − HF‖(t) / max_t ‖HF‖")
    bottom.set_xlabel("time [s]")
    _log_range(top, shown["top"], 4)
    _log_range(bottom, shown["bottom"], 4)
    for ax in (top, bottom):
        ax.grid(True, which="both", lw=0.3)
        ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, format="png")
    plt.close(fig)
    return path
