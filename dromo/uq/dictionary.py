"""ROM dictionaries (``dromo dictionary``): local ROMs on a partition of the solution manifold.

Training file (TOML; paths relative to it; unknown keys are errors)::

    case = "blade.toml"            # the nominal case (its temperature is the nominal field), required
    results = "hf"                 # folder of the HF training results draw_NNNN.h5 (reused when present;
                                   #   draw_NNNN.json records the draw: a mismatch is an error)
    [field]                        # the random temperature field (dromo.uq.random_field)
    sigma = 40.0                   # standard deviation [K]
    length = 40.0                  # correlation length [mesh unit]
    modes = 6                      # KL modes kept (the classifier's inputs)
    seed = 0                       # start block of the randomized eigensolver
    [draws]
    n = 48                         # training draws
    seed = 1000                    # their seed (draw j: dromo.uq.sampling.draw_coefficients)
    [dictionary]
    clusters = 3                   # k: local ROMs
    max_clusters = 6               # the a-priori criterion is reported for k = 1 … max_clusters
    dissimilarity = "sine"         # "sine" or "euclid" (dromo.uq.clustering)
    classifier = "knn"             # "knn" or "logistic" (dromo.uq.classifier)
    folds = 5                      # cross-validation folds of the classifier's accuracy
    overlap = "all"                # each local ROM's dual bases (p, S: reconstruction and error indicator)
                                   #   over every training draw, not only its cluster's; its displacement
                                   #   basis and reduced integration stay the cluster's own. "none": all
                                   #   the cluster's; a list (["p"]): those fields' bases over every draw
    [pod] [ecm] [dual]             # as in the training file of `dromo offline` (dromo.rom.training);
                                   # [pod] max_modes is the number of modes per ROM (local and global)

Steps (collective, every rank): (1) the KL modes; (2) the HF run of every training draw in turn on all
ranks (a result already in ``results`` is reused); (3) the snapshot Gram, the sine and Euclidean
dissimilarities between the draws' trajectories, k-medoids, the criterion for k = 1 … K
(:mod:`dromo.uq.clustering`); (4) the classifier's cross-validated accuracy; (5) one local ROM per cluster
and the global ROM on all draws with the offline pipeline (:func:`dromo.rom.offline.build`: liftings, POD,
ECM, Gappy-POD; with ``overlap = "all"`` the dual bases over every draw, computed once before them
(:func:`all_draws_dual_bases`) and given to every local ROM and to the global ROM); (6) the classifier;
(7) the dictionary archive, written to a temporary name and renamed.

Why the overlap (measured, ``benchmarks/rom_uq.py``, 96 draws, 8 clusters): the clusters follow the
displacement trajectories, but the p field of a draw that barely yields (p_max ≈ 4e-5) can resemble another
cluster's: its projection error onto its own cluster's p basis was 3.4 %, onto the global p basis 0.02 %, and
its reconstructed p was 4.4 % off over the part. With the dual bases over every draw the worst p field error
of the 20 checked draws is 0.7 %, the error indicators flag 1 draw of 1008 instead of 451, for about 120 more
reduced points per local ROM (online 5.3 instead of 3.5 ms per draw). Adding only the draws the
cross-validated classifier sends to a cluster, or the nearest to its medoid, did not help (4.4 %, 5.7 %).
Offline, the overlap costs one POD per dual field over every draw's S and p snapshots (no displacement
read), shared by all the local ROMs and the global ROM (which has those bases anyway); each ROM then only
adds the bases' QDEIM points to its ECM points and fits its Gappy-POD. Measured (2 ranks, 96 draws, 8
clusters, HF results reused): the ROM step (``offline_s``) takes 81 s, 14 s of them the shared bases, against
156 s when every local ROM computed the same bases again (and read every draw's displacements for them).
The stress needs no overlap there: with ``overlap = ["p"]`` (p over every draw, S over the cluster's draws:
41–80 S modes per local ROM instead of the 195 of all draws) the same 20 checked draws have the same errors
(p field 0.72 %, svm_max 0.036 %, p_max 0.59 %), 1 draw flagged, with 273–324 reduced points instead of
353–396 and an online stage 20 % faster (``benchmarks/rom_uq.py --overlap p``, 2026-12-03).

Archive layout:

``/mesh``, ``/fields/kl_modes`` and ``/field/eigenvalues``     the random field (KLBasis)
``/fields/c<i>_rom_U``, ``c<i>_rom_lifting``, ``c<i>_dual_<F>``  local ROM i's modes (``global_`` for the
                                                             global ROM)
``/dictionary/rom_<i>``, ``/dictionary/global``              their ``/rom`` parts (ReducedModel layout)
``/dictionary/{xi, labels, medoids, sine, euclid, trajectory_gram}``   training draws (m, r), clusters (m,),
                                                             medoid draws (k,), dissimilarities (m, m)
``/dictionary/classifier/<array>``                           the classifier (dromo.uq.classifier)
``/dictionary/meta``                                         JSON: options, criterion table, accuracy, sizes
"""
import json
import os
import time

import numpy as np
from mpi4py import MPI

from ..errors import InputError
from ..parallel import get_logger
from ..parallel.errors import collective
from ..rom.training import check_tables

log = get_logger("dromo.uq.dictionary")

TOP = {"case", "results", "field", "draws", "dictionary", "pod", "ecm", "dual"}
KEYS = {"field": {"sigma", "length", "modes", "seed"}, "draws": {"n", "seed"},
        "dictionary": {"clusters", "max_clusters", "dissimilarity", "classifier", "folds", "overlap"},
        "pod": {"tol", "max_modes"}, "ecm": {"tol", "variant", "max_points", "stress_tol"},
        "dual": {"fields", "tol", "max_modes"}}
DEFAULTS = {"field": {"sigma": 40.0, "length": 40.0, "modes": 6, "seed": 0}, "draws": {"n": 32, "seed": 1000},
            "dictionary": {"clusters": 3, "max_clusters": 6, "dissimilarity": "sine", "classifier": "knn",
                           "folds": 5, "overlap": "all"}}
FORMAT_VERSION = 1


def read_config(path):
    """Parse and check a dictionary training file (serial): a dict with absolute ``case``/``results`` paths,
    the tables with their defaults, and ``build`` (the options of :func:`dromo.rom.offline.build`)."""
    from ..hf.case_file import load_toml
    path = os.fspath(path)
    d = load_toml(path, "dictionary training file")
    bad = set(d) - TOP
    if bad:
        raise InputError(f"{path}: unknown key(s) {sorted(bad)} (known: {sorted(TOP)})")
    if "case" not in d:
        raise InputError(f"{path}: missing 'case' (the nominal case file)")
    base = os.path.dirname(os.path.abspath(path))
    out = {"case": os.path.join(base, d["case"]), "results": os.path.join(base, d.get("results", "hf"))}
    if not os.path.isfile(out["case"]):
        raise InputError(f"{path}: case file {out['case']} does not exist")
    for k, t in check_tables(path, d, KEYS).items():
        out[k] = dict(DEFAULTS.get(k, {}), **t)
    dic = out["dictionary"]
    if dic["dissimilarity"] not in ("sine", "euclid"):
        raise InputError(f"{path} [dictionary] dissimilarity: 'sine' or 'euclid', got {dic['dissimilarity']!r}")
    if dic["classifier"] not in ("knn", "logistic"):
        raise InputError(f"{path} [dictionary] classifier: 'knn' or 'logistic', got {dic['classifier']!r}")
    if not 1 <= int(dic["clusters"]) <= int(out["draws"]["n"]):
        raise InputError(f"{path} [dictionary] clusters: between 1 and the number of draws ({out['draws']['n']})")
    ov = dic["overlap"]
    fields = list(out.get("dual", {}).get("fields") or [])
    if not (ov in ("all", "none") or (isinstance(ov, list) and ov and all(f in fields for f in ov))):
        raise InputError(f"{path} [dictionary] overlap: 'all', 'none' or a list of dual fields (of "
                         f"{fields}), got {ov!r}")
    p, e, du = out["pod"], out["ecm"], out["dual"]
    out["build"] = dict(u_tol=float(p.get("tol", 1e-6)), u_max_modes=p.get("max_modes"),
                        ecm_tol=float(e.get("tol", 1e-4)), variant=e.get("variant", "global"),
                        max_points=e.get("max_points"), stress_tol=e.get("stress_tol"),
                        dual_fields=du.get("fields"), dual_tol=float(du.get("tol", 1e-5)),
                        dual_max_modes=du.get("max_modes"))
    return out


def _bcast_read(fn, path, comm):
    out = None
    with collective(comm):
        if comm.rank == 0:
            out = fn(path)
    return comm.bcast(out, root=0)


def _read_U(path, dm, comm):
    from ..io.archive import Archive
    from ..reduction.sources import read_block
    with Archive.open(path, comm) as ar:
        src = ar.field_source("U", redistributor=dm.redistributor("node"))
        times = np.asarray(ar.field_info("U")["time"], dtype=float)
        return read_block(src, 0, src.n_snapshots), times


def lifted(problem, U, times):
    """Snapshots minus their lifting part on the imposed dofs: the part the modes represent. Here the
    imposed values are read from the case (``Σ a_i(t)`` on each term's dofs) and the imposed rows zeroed,
    as :func:`dromo.rom.offline.build` does before its POD (for zero imposed values: ``U`` with those rows
    zeroed)."""
    U = np.array(U, dtype=float)
    dm = problem.dm
    imposed = np.asarray(problem.dirichlet_dofs, dtype=np.int64) - dm.dof_range[0]
    U[imposed] = 0.0
    return U


def _check_draw_record(path, xi, field, comm, write, seconds=None):
    """The sidecar ``draw_NNNN.json`` of an HF training result: its KL coefficients, field options and HF wall
    time, written after a solve; a result reused with other coefficients or options is an InputError naming
    it. Returns the recorded HF seconds (None when unknown)."""
    rec = {"xi": [float(v) for v in xi], "field": {k: field[k] for k in ("sigma", "length", "modes", "seed")},
           "seconds": seconds}
    side = os.path.splitext(path)[0] + ".json"
    with collective(comm):
        if comm.rank == 0:
            if write:
                with open(side + ".tmp", "w") as fh:
                    json.dump(rec, fh)
                os.replace(side + ".tmp", side)
            elif os.path.isfile(side):
                with open(side) as fh:
                    old = json.load(fh)
                if old.get("field") != rec["field"] or not np.allclose(old.get("xi", []), rec["xi"], rtol=1e-12):
                    raise InputError(f"{path}: an HF result of another draw or random field ({side}: "
                                     f"{old.get('field')}); remove the results folder's draw_*.h5 or choose "
                                     f"another 'results' folder")
                seconds = old.get("seconds")
            else:
                log.warning("%s: no %s record: reused as the draw of these coefficients", path, side)
    return comm.bcast(seconds, root=0)


def all_draws_dual_bases(paths, dm, opts, comm):
    """The dual bases over every training draw (the archives ``paths``), computed once for all the ROMs of a
    dictionary with ``overlap = "all"``: the weighted POD of each dual field with the options ``opts`` of
    :func:`dromo.rom.offline.build` (``dual_fields``, ``dual_tol``, ``dual_max_modes``), one field at a
    time, the displacements left unread. Returns build's ``dual_bases``. Collective."""
    from ..reduction.hyperreduce import dual_pod, read_training
    tr = read_training(list(paths), comm, dm=dm, dual_fields=opts["dual_fields"], read_u=False)
    return dual_pod(dm, tr.duals(), comm, tol=opts["dual_tol"], max_modes=opts["dual_max_modes"])


def train(config, comm=None, output=None):
    """Build a ROM dictionary from a training file (module docstring). Collective. Returns the facts (a dict:
    criterion table, sizes, accuracy, timings) on every rank; writes ``output`` when given."""
    from ..hf import run as hf_run
    from ..hf.case_file import build_problem, read_case
    from ..mesh.distributed import DistributedMesh
    from ..rom.offline import build
    from .classifier import Classifier, cross_validated_predictions
    from .clustering import criterion, dissimilarity, kmedoids, snapshot_gram, trajectory_gram
    from .random_field import FieldDraw, kl_modes
    from .sampling import draw_coefficients, draw_spec
    comm = comm or MPI.COMM_WORLD
    cfg = config if isinstance(config, dict) else _bcast_read(read_config, config, comm)
    tic0 = time.perf_counter()
    spec = _bcast_read(read_case, cfg["case"], comm)
    dm = DistributedMesh.from_file(spec["mesh_file"], comm)
    f, dr, dic = cfg["field"], cfg["draws"], cfg["dictionary"]
    kl = kl_modes(dm, float(f["sigma"]), float(f["length"]), int(f["modes"]), seed=int(f["seed"]))
    m = int(dr["n"])
    xi = draw_coefficients(int(dr["seed"]), range(m), kl.n_modes)
    # (2) HF training draws
    with collective(comm):
        if comm.rank == 0:
            os.makedirs(cfg["results"], exist_ok=True)
    comm.Barrier()
    problems, paths, blocks, n_steps = [], [], [], None
    hf_seconds, recorded, solved = [], [], 0
    t_hf = time.perf_counter()
    for j in range(m):
        sp = draw_spec(spec, FieldDraw(xi[j], basis=kl), name=f"{spec.get('name', 'case')} draw {j}")
        pb = build_problem(sp, comm, dm)
        path = os.path.join(cfg["results"], f"draw_{j:04d}.h5")
        fresh = comm.bcast(not os.path.isfile(path), root=0)
        if fresh:
            comm.Barrier()
            tic = time.perf_counter()
            hf_run(pb, path, checkpoint_every=0)
            comm.Barrier()
            hf_seconds.append(time.perf_counter() - tic)
            solved += 1
        rec_s = _check_draw_record(path, xi[j], f, comm, write=fresh, seconds=hf_seconds[-1] if fresh else None)
        if rec_s is not None:
            recorded.append(rec_s)
        U, times = _read_U(path, dm, comm)
        with collective(comm):
            if n_steps is not None and U.shape[1] != n_steps:
                raise InputError(f"{path}: {U.shape[1]} steps, the first draw has {n_steps}: the training draws "
                                 f"must share their time grid (use fixed = true in the case's [time])")
        n_steps = U.shape[1]
        problems.append(pb)
        paths.append(path)
        blocks.append(lifted(pb, U, times))
        el = time.perf_counter() - t_hf
        log.info("training draw %d/%d %s (%.0f s elapsed, ETA %.0f s)", j + 1, m, "solved" if fresh else "reused",
                 el, el / (j + 1) * (m - j - 1))
    facts = {"draws": m, "steps": n_steps, "hf_solved": solved, "hf_seconds": hf_seconds,
             "hf_recorded_s": float(sum(recorded)) if len(recorded) == m else None,
             "hf_s": time.perf_counter() - t_hf, "kl_eigenvalues": kl.eigenvalues.tolist(),
             "kl_captured": kl.captured}
    # (3) dissimilarities, clustering, criterion
    G = snapshot_gram(blocks, comm)
    del blocks
    T = trajectory_gram(G, m, n_steps)
    D = {"sine": dissimilarity(T, "sine"), "euclid": dissimilarity(T, "euclid")}
    n_modes = int(cfg["build"]["u_max_modes"] or 0) or int(min(G.shape[0], 20))
    crit = criterion(G, D[dic["dissimilarity"]], m, n_steps, n_modes, int(dic["max_clusters"]), comm)
    other = "euclid" if dic["dissimilarity"] == "sine" else "sine"
    crit_other = criterion(G, D[other], m, n_steps, n_modes, int(dic["max_clusters"]), comm)
    for r, o in zip(crit, crit_other):
        r[f"error_{other}"] = o["error"]
    for r in crit:
        log.info("criterion k = %d: k-medoids loss %.4g, training projection error with %d modes per ROM %.3e "
                 "(%.3f of k = 1; %.3e with the %s clustering), cluster sizes %s", r["k"], r["loss"], n_modes,
                 r["error"], r["ratio"], r[f"error_{other}"], other, r["sizes"])
    k = int(dic["clusters"])
    labels, medoids, loss = kmedoids(D[dic["dissimilarity"]], k, comm)
    k = medoids.size
    # (4) the classifier's cross-validated predictions (its accuracy; the overlap), on rank 0
    cv = None
    if comm.rank == 0 and k > 1:
        cv = cross_validated_predictions(dic["classifier"], xi, labels, k, int(dic["folds"]))
    cv = comm.bcast(cv, root=0)
    # (5) local ROMs and the global ROM; with the overlap, the dual bases over every draw once for all of them
    t_off = time.perf_counter()
    shared = None
    over = dic["overlap"] != "none"
    if over:
        # "all": every dual field; a list: those fields (the others' bases stay each ROM's own)
        opts = cfg["build"] if dic["overlap"] == "all" else dict(cfg["build"], dual_fields=list(dic["overlap"]))
        shared = all_draws_dual_bases(paths, dm, opts, comm)
        facts["dual_bases_s"] = time.perf_counter() - t_off
        log.info("dual bases over all %d draws (%s) for every ROM: %.1f s", m,
                 ", ".join(f"{f}: {b.n_kept} modes" for f, (b, _nc, _c) in shared.items()), facts["dual_bases_s"])
    roms, overlaps = [], []
    for c in range(k):
        members = np.flatnonzero(labels == c)
        extra = np.flatnonzero(labels != c) if over else np.zeros(0, dtype=np.int64)
        overlaps.append(extra.tolist())
        log.info("local ROM %d/%d: %d draws (medoid: draw %d)%s", c + 1, k, members.size, medoids[c],
                 f", dual bases over every draw (also the other clusters' draws {extra.tolist()})" if extra.size
                 else "")
        roms.append(build([(problems[j], paths[j]) for j in members], comm, dual_bases=shared, **cfg["build"]))
    log.info("global ROM: %d draws", m)
    glob = build([(problems[j], paths[j]) for j in range(m)], comm, dual_bases=shared, **cfg["build"])
    facts["offline_s"] = time.perf_counter() - t_off
    # (6) classifier
    clf = None
    if comm.rank == 0:
        clf = Classifier.fit(dic["classifier"], xi, labels, k)
    clf = comm.bcast(clf, root=0)
    accuracy = float(np.mean(cv == labels)) if cv is not None else 1.0
    log.info("classifier %s: cross-validated accuracy %.3f (%d folds)", dic["classifier"], accuracy, dic["folds"])
    facts.update(dissimilarity=dic["dissimilarity"], other_dissimilarity=other, clusters=k, labels=labels.tolist(),
                 medoids=medoids.tolist(), loss=loss, criterion=crit, overlap_draws=overlaps,
                 accuracy=accuracy, sizes=np.bincount(labels, minlength=k).tolist(),
                 modes=[r.n_modes for r in roms], points=[r.n_points for r in roms],
                 global_modes=glob.n_modes, global_points=glob.n_points, projection_modes=n_modes)
    if output is not None:
        meta = {"format_version": FORMAT_VERSION, "config": {kk: cfg[kk] for kk in ("field", "draws", "dictionary")},
                "build": cfg["build"], "case": cfg["case"], "facts": facts, "classifier": clf.kind,
                "n_clusters": k}
        write(output, comm, glob.mesh, dm, kl, roms, glob, meta,
              {"xi": xi, "labels": labels, "medoids": medoids, "sine": D["sine"], "euclid": D["euclid"],
               "trajectory_gram": T}, clf)
        log.info("wrote %s: %d local ROMs (%s modes, %s points), global ROM (%d modes, %d points)", output, k,
                 facts["modes"], facts["points"], glob.n_modes, glob.n_points)
    facts["total_s"] = time.perf_counter() - tic0
    return facts


def write(output, comm, mesh, dm, kl, roms, glob, meta, arrays, clf):
    """The dictionary archive (module docstring). Collective; atomic (temporary name, renamed)."""
    from ..io.archive import Archive
    from ..rom.model import _jsonable
    with Archive.create(output, comm, attrs={"content": "rom-dictionary"}) as ar:
        ar.write_mesh(mesh)
        kl.write(ar, dm)
        written = {}                                  # the shared dual bases (overlap = "all"): stored once
        for c, rom in enumerate(roms):
            rom.operators.write(ar, prefix=f"c{c}_", written=written)
            rom.write_reduced(ar, root=f"dictionary/rom_{c}")
        glob.operators.write(ar, prefix="global_", written=written)
        glob.write_reduced(ar, root="dictionary/global")
        for name, v in arrays.items():
            ar.write_array(f"dictionary/{name}", np.asarray(v))
        for name, v in clf.arrays.items():
            ar.write_array(f"dictionary/classifier/{name}", np.asarray(v))
        ar.write_array("dictionary/meta", np.frombuffer(json.dumps(_jsonable(meta)).encode(), dtype=np.uint8))


class Dictionary:
    """A ROM dictionary read from its archive (any rank count): ``roms`` (list of local
    :class:`~dromo.rom.model.ReducedModel`), ``global_rom``, ``classifier``, ``meta``, ``arrays`` (training
    draws, clusters, dissimilarities), ``kl`` scales and the KL modes at every model's points
    (``point_modes``: :class:`~dromo.uq.random_field.PointModes`). Collective."""

    def __init__(self, path, comm=None):
        from ..io.archive import Archive
        from ..rom.model import ReducedModel
        from .classifier import Classifier
        from .random_field import point_modes
        comm = comm or MPI.COMM_WORLD
        self.path, self.comm = os.fspath(path), comm
        with Archive.open(self.path, comm) as ar:
            with collective(comm):
                if not ar.has("dictionary/meta"):
                    raise InputError(f"{self.path}: not a ROM dictionary (build one with `dromo dictionary`)")
            self.meta = json.loads(bytes(ar.read_array("dictionary/meta")).decode())
            with collective(comm):
                if int(self.meta.get("format_version", 0)) != FORMAT_VERSION:
                    raise InputError(f"{self.path}: dictionary format version {self.meta.get('format_version')}, "
                                     f"this dromo reads {FORMAT_VERSION}")
            self.arrays = {n: ar.read_array(f"dictionary/{n}") for n in
                           ("xi", "labels", "medoids", "sine", "euclid", "trajectory_gram")}
            cl = self.meta["classifier"]
            names = {"constant": ["label"], "knn": ["X", "y"], "logistic": ["coef", "intercept", "classes"]}[cl]
            self.classifier = Classifier(cl, {n: ar.read_array(f"dictionary/classifier/{n}") for n in names},
                                         self.meta["n_clusters"])
            lam = np.asarray(ar.read_array("field/eigenvalues"), dtype=float)
            self.kl_scales = np.sqrt(np.maximum(lam, 0.0))
        k = int(self.meta["n_clusters"])
        self.roms = [ReducedModel.load(self.path, comm, root=f"dictionary/rom_{c}") for c in range(k)]
        self.global_rom = ReducedModel.load(self.path, comm, root="dictionary/global")
        self.prefixes = [f"c{c}_" for c in range(k)] + ["global_"]
        p = [r.points for r in self.roms + [self.global_rom]]
        ids = np.concatenate([q.ids for q in p])
        ids, first = np.unique(ids, return_index=True)
        nodes = np.concatenate([np.pad(q.cell_nodes, ((0, 0), (0, 64 - q.cell_nodes.shape[1])), constant_values=-1)
                                for q in p])[first]
        shape = np.concatenate([np.pad(q.shape, ((0, 0), (0, 64 - q.shape.shape[1]))) for q in p])[first]
        width = int(max(q.cell_nodes.shape[1] for q in p))
        with Archive.open(self.path, comm) as ar:
            self.point_modes = point_modes(ar, ids, nodes[:, :width], shape[:, :width])

    @property
    def models(self):
        """Local ROMs then the global ROM."""
        return self.roms + [self.global_rom]

    @property
    def n_clusters(self):
        return len(self.roms)

    def draw(self, xi):
        """The :class:`~dromo.uq.random_field.FieldDraw` of coefficients ``xi`` at the models' points."""
        from .random_field import FieldDraw
        return FieldDraw(xi, points=self.point_modes, scales=self.kl_scales)

    def operators(self, dm, which):
        """The distributed operators (:class:`~dromo.rom.full.FullOperators`) of model ``which`` (a cluster
        index, or ``-1``/``len(roms)`` for the global ROM) on ``dm``. Collective."""
        from ..rom.full import FullOperators
        i = len(self.roms) if which < 0 else int(which)
        if getattr(self, "_bases_dm", None) is not dm:              # dual bases shared by models: read once
            self._bases, self._bases_dm = _SharedBases(self._shared_targets()), dm
        return FullOperators.read(self.models[i], dm, prefix=self.prefixes[i], bases=self._bases)

    def _shared_targets(self):
        """The stored dual-basis fields that several models name (links: ``overlap = "all"``)."""
        from ..io.archive import Archive
        with Archive.open(self.path, self.comm) as ar:
            names = [ar.field_target(f"{pre}dual_{f}") for pre, m in zip(self.prefixes, self.models) for f in m.duals]
        return {n for n in names if names.count(n) > 1}


class _SharedBases(dict):
    """A cache of bases that keeps only those of ``shared`` names (a basis no other model uses is read, used
    and released, as without a cache)."""

    def __init__(self, shared):
        super().__init__()
        self.shared = set(shared)

    def __setitem__(self, key, value):
        if key in self.shared:
            super().__setitem__(key, value)
