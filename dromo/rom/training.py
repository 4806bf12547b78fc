"""Training files for ``dromo offline``: which HF runs to learn from and the tolerances of each stage.

Format (TOML; paths relative to the training file; unknown keys are errors)::

    [[run]]                          # one per training run (at least one)
    case = "plate_a.toml"            # its case file (the format of `dromo solve`), required
    result = "plate_a.h5"            # its HF result: reused when the file exists, else solved with the
                                     #   reference solver on all ranks and kept there
    # archive = "ccx_a.h5"           # or: an existing archive (`dromo solve` / `dromo import`), never solved
    # steps = "0:40"                 # optional: snapshot steps A:B or a list [0, 2, 4]

    [pod]                            # displacement basis (snapshots minus their lifting)
    tol = 1e-6                       # relative energy tolerance (discarded energy ≤ tol² × total)
    max_modes = 60                   # optional cap

    [ecm]                            # reduced integration of the internal forces
    tol = 1e-4                       # relative integration error over the training snapshots
    variant = "global"               # "global" (same points at any rank count), "partitioned", or
                                     #   "full" (every integration point: no hyper-reduction, for checks)
    max_points = 2000                # optional cap
    stress_tol = 1e-7                # optional: compress the stress snapshots first (weighted POD)

    [dual]                           # fields rebuilt by Gappy-POD (and the error indicator)
    fields = ["S", "p"]              # default: S and p when the archives hold them
    tol = 1e-5                       # relative energy tolerance of their POD
    max_modes = 60                   # optional cap

Every training case must use the same mesh, element sets, law types and imposed node sets/components
(values, amplitudes, loads, temperature and time span may differ).
"""
import os

import numpy as np
from mpi4py import MPI

from ..errors import InputError
from ..parallel import get_logger
from ..parallel.errors import collective

log = get_logger("dromo.rom.training")

TOP = {"run", "pod", "ecm", "dual"}
KEYS = {"run": {"case", "result", "archive", "steps"}, "pod": {"tol", "max_modes"},
        "ecm": {"tol", "variant", "max_points", "stress_tol"}, "dual": {"fields", "tol", "max_modes"}}


def _steps(v, where):
    if v is None:
        return None
    if isinstance(v, str) and ":" in v:
        a, b = v.split(":", 1)
        try:
            return np.arange(int(a or 0), int(b))
        except ValueError:
            raise InputError(f"{where}: steps must be A:B or a list of integers, got {v!r}") from None
    if isinstance(v, list) and all(isinstance(i, int) for i in v):
        return np.asarray(v, dtype=np.int64)
    raise InputError(f"{where}: steps must be A:B or a list of integers, got {v!r}")


def read_training(path):
    """Parse and check a training file (serial). Returns a dict: runs (list of dicts case, archive,
    solve (bool), steps) and the build options of :func:`dromo.rom.offline.build`."""
    from ..hf.case_file import load_toml
    path = os.fspath(path)
    d = load_toml(path, "training file")
    extra = set(d) - TOP
    if extra:
        raise InputError(f"{path}: unknown key(s) {sorted(extra)} (known: {sorted(TOP)})")
    check_tables(path, d, {k: KEYS[k] for k in ("pod", "ecm", "dual")})
    base = os.path.dirname(os.path.abspath(path))
    runs = []
    for i, r in enumerate(d.get("run", [])):
        where = f"{path} [[run]] #{i + 1}"
        if not isinstance(r, dict):
            raise InputError(f"{where}: expected a table")
        bad = set(r) - KEYS["run"]
        if bad:
            raise InputError(f"{where}: unknown key(s) {sorted(bad)} (known: {sorted(KEYS['run'])})")
        if "case" not in r:
            raise InputError(f"{where}: missing 'case' (the case file of this run)")
        if ("result" in r) == ("archive" in r):
            raise InputError(f"{where}: give exactly one of 'result' (solved when missing) or 'archive' "
                             f"(an existing result)")
        case = os.path.join(base, r["case"])
        if not os.path.isfile(case):
            raise InputError(f"{where}: case file {case} does not exist")
        arch = os.path.join(base, r.get("result", r.get("archive")))
        if "archive" in r and not os.path.isfile(arch):
            raise InputError(f"{where}: archive {arch} does not exist")
        runs.append({"case": case, "archive": arch, "solve": "result" in r and not os.path.isfile(arch),
                     "steps": _steps(r.get("steps"), where)})
    if not runs:
        raise InputError(f"{path}: no [[run]] (give at least one training run)")
    pod, ecm, dual = d.get("pod", {}), d.get("ecm", {}), d.get("dual", {})
    variant = ecm.get("variant", "global")
    if variant not in ("global", "partitioned", "full"):
        raise InputError(f"{path} [ecm] variant: expected 'global', 'partitioned' or 'full', got {variant!r}")
    try:
        opts = dict(u_tol=float(pod.get("tol", 1e-6)), u_max_modes=pod.get("max_modes"),
                    ecm_tol=float(ecm.get("tol", 1e-4)), variant="global" if variant == "full" else variant,
                    full_quadrature=variant == "full", max_points=ecm.get("max_points"),
                    stress_tol=ecm.get("stress_tol"), dual_fields=dual.get("fields"),
                    dual_tol=float(dual.get("tol", 1e-5)), dual_max_modes=dual.get("max_modes"))
    except (TypeError, ValueError) as e:
        raise InputError(f"{path}: a tolerance is not a number ({e})") from None
    return {"runs": runs, "options": opts, "path": path}


def check_tables(path, d, keys):
    """The tables ``{name: {key: value}}`` of the TOML document ``d`` named in ``keys`` (``{name: known
    keys}``; a missing table is empty); InputError naming ``path``, the table and the keys when one is not a
    table or has unknown keys."""
    out = {}
    for k, known in keys.items():
        t = d.get(k, {})
        if not isinstance(t, dict):
            raise InputError(f"{path} [{k}]: expected a table")
        extra = set(t) - set(known)
        if extra:
            raise InputError(f"{path} [{k}]: unknown key(s) {sorted(extra)} (known: {sorted(known)})")
        out[k] = t
    return out


def load_training(path, comm=None):
    """Read the training file on rank 0, build every run's Problem on one DistributedMesh and solve the runs
    whose result is missing. Returns ``(runs [(problem, archive, steps)], options)``. Collective."""
    from ..hf.case_file import build_problem, read_case
    from ..hf.solver import run as hf_run
    from ..io.archive import distributed_mesh
    comm = comm or MPI.COMM_WORLD
    spec = None
    with collective(comm):
        if comm.rank == 0:
            spec = read_training(path)
            for r in spec["runs"]:
                r["spec"] = read_case(r["case"])
    spec = comm.bcast(spec, root=0)
    first = spec["runs"][0]["spec"]
    dm = distributed_mesh(first["mesh_file"], comm)
    fp = dm.fingerprint()
    out = []
    for r in spec["runs"]:
        s = r["spec"]
        if os.path.abspath(s["mesh_file"]) != os.path.abspath(first["mesh_file"]):
            from ..mesh.readers import read_mesh
            other = None
            with collective(comm):
                if comm.rank == 0:
                    other = read_mesh(s["mesh_file"]).fingerprint()
            if comm.bcast(other, root=0) != fp:
                raise InputError(f"{r['case']}: its mesh {s['mesh_file']} differs from {first['mesh_file']} (all "
                                 f"training cases must share one mesh)")
        pb = build_problem(s, comm, dm)
        if r["solve"]:
            log.info("training run %s: solving into %s", s["name"], r["archive"])
            hf_run(pb, r["archive"], checkpoint_every=s["checkpoint_every"])
        out.append((pb, r["archive"], r["steps"]))
    info = {"file": spec["path"], "runs": [{"case": r["case"], "archive": r["archive"]} for r in spec["runs"]]}
    return out, dict(spec["options"], training_info=info)
