"""``report.md`` and ``report.json`` of ``dromo demo`` (:mod:`dromo.rom.demo`), and the summary it prints.

Every number comes from the run's ``facts`` (:func:`dromo.rom.demo.run_demo`): wall times measured in the
run, errors from :func:`dromo.io.compare.compare_results` on the archives, sizes from the models.
The table's rows are keyed by their first cell: ``online (unseen)``, ``online (hot)``, ``adapt (hot)``.
"""
import json
import os
import platform

#: table rows: (key, reduced run, HF reference, loading label key)
ROWS = (("online (unseen)", "rom_unseen", "hf_unseen", "unseen"), ("online (hot)", "rom_hot", "hf_hot", "hot"),
        ("adapt (hot)", "adapt_hot", "hf_hot", "hot"))
HEADER = ("| run | loading | increments | HF time loop [s] | ROM time loop [s] | speed-up | u error | p error "
          "| modes | reduced points | enrichments |")


def machine():
    """``uname -a``-like line and the CPU count of this machine."""
    u = platform.uname()
    return f"{u.system} {u.node} {u.release} {u.version} {u.machine}", os.cpu_count()


def loading(facts, which):
    """A loading in words."""
    if which == "unseen":
        s, h = facts["unseen"]
        return f"ω ×{s:g}, heat ×{h:g}, {facts['unseen_end'] / 5:g} cycles"
    s, h = facts["hot"]
    return f"ω ×{s:g}, heat ×{h:g}, {facts['cycles']} cycle{'s' if facts['cycles'] != 1 else ''}"


def table(facts):
    """The markdown table of HF against reduced runs (list of lines)."""
    lines = [HEADER, "|" + "---|" * (HEADER.count("|") - 1)]
    for key, red, hf, which in ROWS:
        r, h = facts["runs"][red], facts["runs"][hf]
        modes, points, enr = str(facts["modes"]), str(facts["points"]), "–"
        if "enrichments" in r:
            modes, points = f"{facts['modes']} → {r['modes_after']}", f"{facts['points']} → {r['points_after']}"
            enr = f"{r['enrichments']} ({r['hf_increments']} HF increments)"
        lines.append(f"| {key} | {loading(facts, which)} | {r['increments']} | {h['seconds']:.3g} "
                     f"| {r['seconds']:.3g} "
                     f"| {h['seconds'] / max(r['seconds'], 1e-12):.3g} | {r['u_error']:.3g} | {r['p_error']:.3g} "
                     f"| {modes} | {points} | {enr} |")
    return lines


def report_text(facts):
    """The whole ``report.md``."""
    uname, cpus = machine()
    f = facts
    duals = ", ".join(f"{k} ({v} modes)" for k, v in f["dual_modes"].items())
    ad = f["runs"]["adapt_hot"]
    enr = ", ".join(f"{t:g}" for t in ad["enrichment_times"]) or "none"
    out = [
        "# dromo demo: offline → online → adapt on the small blade", "",
        f"Machine: `{uname}`, {cpus} CPUs; {f['ranks']} MPI ranks; the whole demo took {f['total_s']:.0f} s.",
        "",
        f"**Part**: the built-in blade ({f['size']}), {f['dofs']} dofs (tet10), temperature-dependent Norton–Chaboche "
        "viscoplasticity, centrifugal load, pressure and a hot leading edge; fixed increments of 0.25 s.",
        f"**Training**: one start-up/hold/shut-down/rest cycle at nominal loading, HF on {f['ranks']} ranks in "
        f"{f['training_s']:.1f} s. **Offline** ({f['offline_s']:.1f} s): {f['modes']} displacement modes (POD "
        f"tolerance {f['u_tol']:g}), {f['points']} reduced points ({f['ecm_points']} ECM, relative error of the "
        f"reduced internal-force integrals {f['ecm_error']:.2g}), dual fields {duals}.",
        f"**Adapt** on the hot loading: indicator tolerances "
        + ", ".join(f"{k} {v:g}" for k, v in f["tols"].items()) + f"; enrichments at t = {enr}.", "",
        "## HF against the reduced model", ""] + table(f) + [
        "",
        "Errors: max over time of ‖ROM − HF‖ / max over time of ‖HF‖ (`dromo.io.compare`), u at every node, p at "
        "every integration point (Gappy-POD reconstruction from the reduced points). Time loop: the time-stepping "
        f"loop of each run on {f['ranks']} ranks (for adapt: its HF increments, state rebuilds and enrichments "
        "included; set-up and output excluded, see the stage times below).", "",
        "## Figures", "",
        "![singular values](singular_values.png)", "", "![reduced points](reduced_points.png)", "",
        "![monitored displacement and p](monitored.png)", "", "![indicator and error](indicator.png)", "",
        "## Fields for ParaView", ""]
    for run, pv in f["paraview"].items():
        xdmf = os.path.splitext(pv["archive"])[0] + ".xdmf"
        out.append(f"- `{xdmf}` ({run} loading, {pv['steps']} steps; HF against `{pv['reduced']}`): U_hf, U_rom, "
                   "U_diff = U_rom − U_hf at the nodes; p_hf, p_rom, p_diff as cell means.")
    out += ["", "Every archive of the run (HF results, `rom.h5`, reduced results with full U and p) is in "
            "`results/`; the case files in `case/`.", "", "## Stages", "", "| stage | wall time [s] |", "|---|---|"]
    out += [f"| {k} | {v:.1f} |" for k, v in f["stage_seconds"].items()]
    out += [f"| **total** | {f['total_s']:.1f} |", ""]
    return "\n".join(out)


def write_report(paths, facts, comm):
    """Write ``report.md`` and ``report.json`` into the output folder and print the summary (rank 0)."""
    if comm.rank != 0:
        return
    out = paths["out"]
    with open(os.path.join(out, "report.md"), "w") as fh:
        fh.write(report_text(facts))
    with open(os.path.join(out, "report.json"), "w") as fh:
        json.dump(facts, fh, indent=1)
    print(f"dromo demo: small blade, {facts['dofs']} dofs, {facts['ranks']} ranks, {facts['total_s']:.0f} s in all")
    print("\n".join(table(facts)))
    print(f"  report: {os.path.join(out, 'report.md')} (figures beside it); ParaView: "
          + ", ".join(os.path.join(out, os.path.splitext(p["archive"])[0] + ".xdmf")
                      for p in facts["paraview"].values()), flush=True)
