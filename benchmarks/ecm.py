"""Benchmark of the empirical cubature (dromo.reduction.ecm). Prints one JSON line.

The script is the driver; it launches workers under ``launch/mpirun.sh -n 1`` and ``-n 2`` (one BLAS
thread per rank):

* **comparison run** (``N_A`` ips × ``M_A`` columns, 1 and 2 ranks): integrand compression (randomized),
  then the global ECM, the partitioned ECM with 1 subdomain per rank and with 8 and 64
  simulated subdomains (spatial slabs), and — in the 1-rank worker — the **baseline**: a straightforward
  single-process greedy (``argmax`` of the normalized scores, ``scipy.optimize.nnls`` from scratch at every
  iteration, zero weights dropped) on the same compressed basis and tolerance.
* **timing run** (``N_B`` × ``M_B``, 2 ranks): the whole global ECM from the integrand held in memory
  (each rank its rows, as an assembled integrand would be; its generation is timed separately and not
  part of the ECM time) — compression (blocked randomized range finder: per block one pass for the sketch
  and one for the projection, exact energy check) plus the greedy. If the node lacks the memory (or with
  ``--streamed``), the columns are generated block by block at every read instead, inside the ECM time.

Data: integration points of a structured, smoothly mapped 4 × 1 × 1 bar of hexahedra with 2 × 2 × 2
Gauss points (natural ids cell-major, each rank holding a contiguous natural block), positive weights
varying smoothly; integrand columns ``g_c(x) = e^{0.3 x̂} Σ_l a_{lc} P_a(x̂) P_b(ŷ) P_c(ẑ)`` (Legendre
products of total degree ≤ 8, ``a_{lc} ~ N(0, 1) e^{-0.9 (a+b+c)}``, a fixed seed): smooth, with a
decaying spectrum like real integrands. Tolerance 1e-4 (compression and integration).

Figures
-------
global_points_ratio_to_serial_greedy : max over 1 and 2 ranks of global-ECM points / baseline points.
partitioned_points_growth : partitioned points with 64 subdomains / with 1 subdomain (1 rank).
global_ecm_seconds_1e6x2000_2ranks : wall time of compression + greedy at N_B × M_B on 2 ranks (the
    figure keeps its name in ``--quick`` runs, where the size is smaller: see ``timing_size``); the data
    generation is ``timing_data_generation_seconds`` (``timing_integrand_in_memory`` says which mode).
Also: points and relative integration errors (measured on the *uncompressed* columns) per variant and
rank count, greedy and compression times, baseline time.
"""
import argparse
import json
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
DEG = 8
TOL = 1e-4


# ------------------------------------------------------------------------------------------ data
def grid(n_ip):
    nc = max(1, n_ip // 8)
    ny = max(1, int(round((nc / 4) ** (1 / 3))))
    nx = max(1, nc // (ny * ny))
    return nx, ny, ny


def points(a, b, dims):
    """Coordinates (b-a, 3) in [-1, 1]³ (reference) and weights of natural ips a..b-1."""
    nx, ny, nz = dims
    q = np.arange(a, b)
    c, g = q // 8, q % 8
    i, rem = np.divmod(c, ny * nz)
    j, k = np.divmod(rem, nz)
    gp = np.array([-1, 1]) / np.sqrt(3.0)
    gx, gy, gz = gp[g // 4], gp[(g // 2) % 2], gp[g % 2]
    xr = np.stack([(i + 0.5 + 0.5 * gx) / nx, (j + 0.5 + 0.5 * gy) / ny, (k + 0.5 + 0.5 * gz) / nz], 1) * 2 - 1
    xr[:, 0] += 0.03 * np.sin(np.pi * xr[:, 1]) * (1 - xr[:, 0] ** 2)          # smooth mapping
    w = (8.0 / (nx * ny * nz * 8)) * (1 + 0.2 * np.sin(1.7 * xr[:, 0] + 0.9 * xr[:, 2]))
    return xr, w


def features(xr):
    leg = [np.polynomial.legendre.legvander(xr[:, d], DEG) for d in range(3)]
    ex = np.exp(0.3 * xr[:, 0])
    cols, deg = [], []
    for a in range(DEG + 1):
        for b in range(DEG + 1 - a):
            for c in range(DEG + 1 - a - b):
                cols.append(ex * leg[0][:, a] * leg[1][:, b] * leg[2][:, c])
                deg.append(a + b + c)
    return np.array(cols).T, np.array(deg)


def coefficients(deg, m, seed=7):
    return np.exp(-0.9 * deg)[:, None] * np.random.default_rng(seed).standard_normal((deg.size, m))


class Source:
    """Streamed integrand columns (generated per block; nothing of size n × m is ever stored). Used only
    when the node has not the memory to hold the integrand (then generation is inside the ECM time)."""

    def __init__(self, Phi, A, comm):
        self.Phi, self.A, self.comm = Phi, A, comm
        self.n_snapshots = A.shape[1]
        self.n_local = Phi.shape[0]

    def read(self, a, b):
        return self.Phi @ self.A[:, a:b]


def mem_available():
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def materialize(Phi, A):
    """The local integrand rows ``Φ A`` as one float64 array (one GEMM per row chunk)."""
    G = np.empty((Phi.shape[0], A.shape[1]))
    ch = 4096
    for a in range(0, Phi.shape[0], ch):
        np.matmul(Phi[a:a + ch], A, out=G[a:a + ch])
    return G


def baseline_greedy(J, w, tol):
    """Single-process ECM: argmax of normalized scores, scipy NNLS from scratch, zero weights dropped."""
    from scipy.optimize import nnls
    b = J.T @ w
    inv = 1.0 / np.linalg.norm(J, axis=1)
    S, x = [], np.zeros(0)
    r = b.copy()
    for _ in range(4 * J.shape[1] + 100):
        if np.linalg.norm(r) <= tol * np.linalg.norm(b):
            break
        sc = (J @ r) * inv
        sc[S] = -np.inf
        S.append(int(np.argmax(sc)))
        x, _ = nnls(J[S].T, b, maxiter=50 * len(S) + 100)
        keep = x > 0
        S = [s for s, k in zip(S, keep) if k]
        x = x[keep]
        r = b - J[S].T @ x
    return np.array(S), x


# ------------------------------------------------------------------------------------------ worker
def worker(args):
    from mpi4py import MPI
    from dromo.parallel.comm import partition_range
    from dromo.reduction import compress_integrand, ecm_greedy
    comm = MPI.COMM_WORLD
    n, m = args.n, args.m
    dims = grid(n)
    n = dims[0] * dims[1] * dims[2] * 8
    a, b = partition_range(n, comm)
    xr, w = points(a, b, dims)
    Phi, deg = features(xr)
    A = coefficients(deg, m)
    ids = np.arange(a, b)
    out = {"n": n, "m": m, "ranks": comm.size}

    def integral_error(rq):
        """Relative integration error of all uncompressed columns (exact: Phi A, any column)."""
        rows, pos = rq.local(ids)
        full = comm.allreduce(Phi.T @ w)
        red = comm.allreduce(Phi[rows].T @ rq.weights[pos])
        return float(np.linalg.norm((red - full) @ A) / np.linalg.norm(full @ A))

    # the integrand in memory (as an assembled one would be) if the node can hold it, + 2 GB of headroom
    need = comm.allreduce(Phi.shape[0]) * m * 8 + (2 << 30)
    in_memory = comm.allreduce(int(mem_available() >= need), op=MPI.MIN) == 1 and not args.streamed
    comm.Barrier()
    t = time.perf_counter()
    G = materialize(Phi, A) if in_memory else Source(Phi, A, comm)
    comm.Barrier()
    out.update(data_s=time.perf_counter() - t, in_memory=in_memory)
    t0 = time.perf_counter()
    basis = compress_integrand(G, w, comm, tol=TOL, method="randomized", block=128)
    comm.Barrier()
    t1 = time.perf_counter()
    rq = ecm_greedy(basis.J, w, ids, comm, tol=TOL)
    comm.Barrier()
    t2 = time.perf_counter()
    out.update(n_basis=basis.n_basis, compress_s=t1 - t0, greedy_s=t2 - t1, global_s=t2 - t0,
               global_points=rq.n_points, global_err=integral_error(rq), global_basis_err=rq.error)
    if not args.timing_only:
        nx = dims[0]
        cell_i = (ids // 8) // (dims[1] * dims[2])
        for S in [comm.size] + [s for s in (8, 64) if s > comm.size]:
            lab = (cell_i * S) // nx
            t = time.perf_counter()
            rp = ecm_greedy(basis.J, w, ids, comm, tol=TOL, variant="partitioned", subdomains=lab, warn=False)
            out[f"partitioned_{S}"] = {"points": rp.n_points, "err": integral_error(rp),
                                       "subdomains": rp.n_subdomains, "seconds": time.perf_counter() - t}
        if args.baseline and comm.size == 1:
            t = time.perf_counter()
            S, x = baseline_greedy(basis.J, w, TOL)
            out["baseline_points"] = int(S.size)
            out["baseline_s"] = time.perf_counter() - t
    del G
    from _common import peak_rss_mb
    out["peak_rss_mb"] = peak_rss_mb()
    if comm.rank == 0:
        print(json.dumps(out), flush=True)


# ------------------------------------------------------------------------------------------ driver
def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="small sizes (seconds)")
    p.add_argument("--worker", action="store_true")
    p.add_argument("--baseline", action="store_true")
    p.add_argument("--timing-only", action="store_true")
    p.add_argument("--streamed", action="store_true", help="never hold the integrand in memory")
    p.add_argument("--n", type=int, default=100000)
    p.add_argument("--m", type=int, default=500)
    args = p.parse_args()
    if args.worker:
        return worker(args)
    from _common import emit, run_ranks
    me = os.path.abspath(__file__)
    nA, mA = (20000, 200) if args.quick else (100000, 500)
    nB, mB = (40000, 400) if args.quick else (1000000, 2000)
    r1 = run_ranks(1, me, ["--worker", "--baseline", "--n", str(nA), "--m", str(mA)])
    r2 = run_ranks(2, me, ["--worker", "--n", str(nA), "--m", str(mA)])
    rt = run_ranks(2, me, ["--worker", "--timing-only", "--n", str(nB), "--m", str(mB)])
    base = r1["baseline_points"]
    figs = {
        "global_points_ratio_to_serial_greedy": max(r1["global_points"], r2["global_points"]) / base,
        "partitioned_points_growth": r1["partitioned_64"]["points"] / r1["partitioned_1"]["points"],
        "global_ecm_seconds_1e6x2000_2ranks": rt["global_s"],
        "timing_size": f"{rt['n']}x{rt['m']}",
        "timing_compress_seconds": rt["compress_s"], "timing_greedy_seconds": rt["greedy_s"],
        "timing_points": rt["global_points"], "timing_n_basis": rt["n_basis"],
        "timing_integrand_in_memory": rt["in_memory"], "timing_data_generation_seconds": rt["data_s"],
        "timing_peak_rss_mb_rank0": rt["peak_rss_mb"],
        "timing_integration_error": rt["global_err"],
        "comparison_size": f"{r1['n']}x{r1['m']}", "n_basis": r1["n_basis"],
        "baseline_points": base, "baseline_seconds": r1["baseline_s"],
        "global_points_1rank": r1["global_points"], "global_points_2ranks": r2["global_points"],
        "global_error_1rank": r1["global_err"], "global_error_2ranks": r2["global_err"],
        "global_greedy_seconds_1rank": r1["greedy_s"], "global_greedy_seconds_2ranks": r2["greedy_s"],
        "compress_seconds_1rank": r1["compress_s"], "compress_seconds_2ranks": r2["compress_s"],
    }
    for tag, r in (("1rank", r1), ("2ranks", r2)):
        for k, v in r.items():
            if k.startswith("partitioned_"):
                S = k.split("_")[1]
                figs[f"partitioned_points_{S}sub_{tag}"] = v["points"]
                figs[f"partitioned_error_{S}sub_{tag}"] = v["err"]
                figs[f"partitioned_seconds_{S}sub_{tag}"] = v["seconds"]
    targets = {"global_points_ratio_to_serial_greedy": ["<=", 1.1], "partitioned_points_growth": [">", 1.0],
               "global_ecm_seconds_1e6x2000_2ranks": ["<", 60.0]}
    emit("ecm", figs, targets)


if __name__ == "__main__":
    main()
