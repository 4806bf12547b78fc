"""``dromo demo``: the whole story of dromo on the small built-in blade, in-process and collective.

:func:`run_demo` (every rank of ``comm``) runs, in this order (each stage is logged with its number, its
name and the time elapsed; every time loop logs its increments with an ETA):

1. **case**: the blade mesh (gmsh, rank 0) and the case files, all with fixed increments of 0.25 s, so
   the HF and reduced runs of a loading have the same times:
   *training* — nominal loading, one start-up/hold/shut-down/rest cycle (5 s);
   *unseen* — ω and temperature rise × :data:`UNSEEN` over one and a half cycles (7.5 s);
   *hot* — ω × :data:`HOT` [0] and temperature rise × :data:`HOT` [1] over ``cycles`` cycles;
2. the **HF training run** (reference solver, all ranks) and 3. **offline** (:func:`dromo.rom.offline.build`:
   liftings, POD of the displacements, ECM, Gappy-POD of S and p, reduced loads) → ``results/rom.h5``;
4. **online** on the unseen loading and 5. on the hot loading (the plain reduced model);
6. **adapt** on the hot loading (:func:`dromo.rom.adapt.adapt`, indicator fields and tolerances
   :data:`TOLS`: S catches the elastic start-up, p the plastic flow);
7. the **HF references** of the unseen and hot runs;
8. **comparison** (:func:`dromo.io.compare.compare_results`), ParaView archives (HF, reduced and their
   difference), figures and ``report.md`` (:mod:`dromo.rom.demo_report`).

Wall times: the "time loop" of a run is the time-stepping loop of its solver (``summary["seconds"]`` of
:func:`~dromo.hf.march.march`: for ``adapt`` its HF increments, state rebuilds and enrichments
included); the stage times include everything (set-up, reading, writing). Output folder layout::

    OUT/report.md, report.json, *.png      the report and its figures
    OUT/case/                              blade.msh and the case and training files
    OUT/results/                           every archive: HF runs, rom.h5, reduced results
    OUT/paraview/{unseen,hot}.h5 (+ .xdmf) U_hf, U_rom, U_diff (nodes), p_hf, p_rom, p_diff (cell means)
"""
import contextlib
import os
import shutil
import time

import numpy as np
from mpi4py import MPI

from ..parallel import get_logger
from ..parallel.errors import collective

log = get_logger("dromo.demo")

#: (ω factor, temperature-rise factor) of the unseen and of the hot loading
UNSEEN, HOT = (1.05, 1.05), (1.1, 1.2)
#: end time of the unseen run (one and a half cycles)
UNSEEN_END = 7.5
#: indicator fields of ``adapt`` and their tolerances (raw indicators)
TOLS = {"S": 0.003, "p": 0.03}
#: tolerances of the offline stages (as ``benchmarks/rom_adapt.py``)
TRAINING = ('[[run]]\ncase = "training.toml"\nresult = "../results/hf_training.h5"\n[pod]\ntol = 1e-5\n'
            '[ecm]\ntol = 1e-5\nstress_tol = 1e-6\n[dual]\nfields = ["S", "p"]\ntol = 1e-5\n')
#: the demo's own sub-folders and files of OUT (removed at the start of a run, nothing else is)
OWN_DIRS = ("case", "results", "paraview")


class Stages:
    """Stage bookkeeping: ``with stages("name"):`` logs ``stage i/n: name`` with the time elapsed since the
    start and records the stage's wall time (between barriers) in ``seconds``."""

    def __init__(self, n, comm):
        self.n, self.comm, self.i = n, comm, 0
        self.t0 = time.perf_counter()
        self.seconds = {}

    @contextlib.contextmanager
    def __call__(self, name):
        self.i += 1
        self.comm.Barrier()
        tic = time.perf_counter()
        log.info("== demo stage %d/%d: %s (%.0f s elapsed)", self.i, self.n, name, tic - self.t0)
        yield
        self.comm.Barrier()
        self.seconds[name] = time.perf_counter() - tic
        log.info("== demo stage %d/%d done in %.1f s", self.i, self.n, self.seconds[name])

    @property
    def total(self):
        return time.perf_counter() - self.t0


def demo_paths(out):
    """The files of a demo run in ``out`` (module docstring): {key: path}."""
    j = os.path.join
    p = {"out": out, "case": j(out, "case"), "results": j(out, "results"), "paraview": j(out, "paraview")}
    p.update(training=j(p["case"], "train.toml"), mesh=j(p["case"], "blade.msh"), rom=j(p["results"], "rom.h5"))
    for run in ("unseen", "hot"):
        p[f"case_{run}"] = j(p["case"], f"{run}.toml")
        p[f"hf_{run}"] = j(p["results"], f"hf_{run}.h5")
        p[f"rom_{run}"] = j(p["results"], f"rom_{run}.h5")
        p[f"paraview_{run}"] = j(p["paraview"], f"{run}.h5")
    p["hf_training"] = j(p["results"], "hf_training.h5")
    p["adapt_hot"] = j(p["results"], "adapt_hot.h5")
    return p


def write_cases(paths, size, cycles, comm):
    """Rank 0: clear the demo's own sub-folders, mesh the blade, write the case and training files."""
    from ..hf.cases import blade
    with collective(comm):
        if comm.rank == 0:
            for d in OWN_DIRS:
                shutil.rmtree(paths[d], ignore_errors=True)
                os.makedirs(paths[d])
            n_nodes = blade.mesh(paths["mesh"], size)
            log.info("blade (%s): %d nodes (%d dofs)", size, n_nodes, 3 * n_nodes)
            texts = {"training": blade.case_text(size, 1, fixed=True, name="training: nominal, 1 cycle"),
                     "unseen": blade.case_text(size, 2, *UNSEEN, end=UNSEEN_END, fixed=True,
                                               name=f"unseen: speed x{UNSEEN[0]}, heat x{UNSEEN[1]}, "
                                                    f"{UNSEEN_END / 5:g} cycles"),
                     "hot": blade.case_text(size, cycles, *HOT, fixed=True,
                                            name=f"hot: speed x{HOT[0]}, heat x{HOT[1]}, {cycles} cycles")}
            for name, text in texts.items():
                with open(os.path.join(paths["case"], f"{name}.toml"), "w") as f:
                    f.write(text)
            with open(paths["training"], "w") as f:
                f.write(TRAINING)
    comm.Barrier()


def _timed(comm, fn, *args, **kwargs):
    """``(fn(*args, **kwargs), wall seconds between barriers)``."""
    comm.Barrier()
    tic = time.perf_counter()
    out = fn(*args, **kwargs)
    comm.Barrier()
    return out, time.perf_counter() - tic


def run_demo(out="demo-output", comm=None, cycles=3, size="small"):
    """Run the demo into ``out`` (module docstring). Collective. Returns the report's facts (a dict, the
    content of ``report.json``) on every rank."""
    from ..hf import load_case
    from ..hf import run as hf_run
    from ..io.compare import compare_results
    from .adapt import adapt, write_adapt_result
    from .demo_outputs import write_outputs
    from .demo_report import write_report
    from .model import ReducedModel
    from .offline import build
    from .result import write_result
    from .training import load_training
    comm = comm or MPI.COMM_WORLD
    out = os.path.abspath(out)
    paths = demo_paths(out)
    stages = Stages(9, comm)
    facts = {"ranks": comm.size, "size": size, "cycles": cycles, "unseen": list(UNSEEN), "unseen_end": UNSEEN_END,
             "hot": list(HOT), "tols": TOLS, "runs": {}}
    with stages("blade mesh (gmsh) and case files"):
        write_cases(paths, size, cycles, comm)
    with stages("HF training run (nominal loading, one cycle)"):
        (runs, opts), facts["training_s"] = _timed(comm, load_training, paths["training"], comm)
    with stages("offline: liftings, POD, ECM, Gappy-POD of S and p, reduced loads"):
        rom0, facts["offline_s"] = _timed(comm, build, runs, comm, **opts)
        rom0.save(paths["rom"], comm)
    ub = rom0.operators.u_basis
    facts.update(dofs=runs[0][0].dm.n_dofs_global, modes=rom0.n_modes, points=rom0.n_points,
                 ecm_points=int(np.count_nonzero(rom0.points.ecm)), ecm_error=float(rom0.quadrature["error"]),
                 u_tol=float(opts["u_tol"]), singular_values=np.asarray(ub.singular_values).tolist(),
                 dual_modes={f: d.n_modes for f, d in rom0.duals.items()})
    del runs, rom0
    rom = ReducedModel.load(paths["rom"], comm)
    results = {"rom": rom}
    for run in ("unseen", "hot"):
        with stages(f"online reduced model, {run} loading"):
            res = rom.solve(paths[f"case_{run}"])
            write_result(rom, res, paths[f"rom_{run}"], fields=("U", "p"), comm=comm)
        results[f"rom_{run}"] = res
        facts["runs"][f"rom_{run}"] = dict(seconds=float(res.summary["seconds"]),
                                           increments=int(res.summary["increments"]))
    with stages("adapt on the hot loading (indicators S and p)"):
        r = adapt(rom, paths["case_hot"], dict(TOLS), comm)
        write_adapt_result(r, paths["adapt_hot"], ("U", "p"))
    results["adapt_hot"] = r
    facts["runs"]["adapt_hot"] = dict(seconds=float(r.summary["seconds"]), increments=int(r.summary["increments"]),
                                      enrichments=len(r.history.enrichments),
                                      hf_increments=int(r.summary["hf_increments"]),
                                      modes_after=r.rom.n_modes, points_after=r.rom.n_points,
                                      enrichment_times=[e["time"] for e in r.history.enrichments])
    for run in ("unseen", "hot"):
        with stages(f"HF reference, {run} loading"):
            pb, _opts = load_case(paths[f"case_{run}"], comm)
            _st, s = hf_run(pb, paths[f"hf_{run}"], checkpoint_every=0)
        facts["runs"][f"hf_{run}"] = dict(seconds=float(s["seconds"]), increments=int(s["increments"]))
    with stages("comparison, ParaView archives, figures, report"):
        cmp = {}
        for key, ref in (("rom_unseen", "hf_unseen"), ("rom_hot", "hf_hot"), ("adapt_hot", "hf_hot")):
            cmp[key] = compare_results(paths[key], paths[ref], ["U", "p"], comm, outside="skip")
            facts["runs"][key].update(u_error=cmp[key]["U"].max_rel_error, p_error=cmp[key]["p"].max_rel_error)
        write_outputs(paths, facts, results, cmp, comm)
    facts["stage_seconds"] = stages.seconds
    facts["total_s"] = stages.total
    write_report(paths, facts, comm)
    return facts
