"""Dissimilarities between HF solutions, k-medoids clustering, the a-priori efficiency criterion.

The solutions are the displacement trajectories of the training draws, ``U_i = [u_i(t_1); …; u_i(t_s)]``
(every draw on the same time grid). Everything comes from one Gram matrix of the snapshots,
``G = Xᵀ X`` (X the owned rows of all snapshot columns, summed over the ranks: no rank holds more than
its rows), and the trajectory Gram ``T_ij = ⟨U_i, U_j⟩ = Σ_t G[(i, t), (j, t)]``:

* **sine dissimilarity** ``d_ij = sin ∠(U_i, U_j) = √(1 − T_ij² / (T_ii T_jj))`` (Daniel et al., ROM-net:
  clusters of small sine are well approximated by one low-dimensional subspace; a small Kolmogorov width);
* **Euclidean** ``d_ij = ‖U_i − U_j‖ = √(T_ii + T_jj − 2 T_ij)`` (the comparison).

Clustering: k-medoids by FasterPAM (``kmedoids.fasterpam``, BUILD initialisation, deterministic), computed
on rank 0 and broadcast, so every rank has the same clusters.

**A-priori efficiency criterion** (no ROM built): with n modes per ROM, the relative projection error of
the training snapshots onto their own cluster's POD, from the eigenvalues of the cluster blocks of G
(method of snapshots):  ``ε(k) = √(Σ_c Σ_{j>n} λ_j^{(c)} / Σ_c Σ_j λ_j^{(c)})``; the dictionary of k clusters
is worth its classification risk when ``ε(k) / ε(1)`` is well below 1 (reported for k = 1 … K).
"""
import numpy as np

from ..errors import InputError
from ..parallel.collectives import allreduce_sum


def snapshot_gram(blocks, comm):
    """``G = Xᵀ X`` summed over the ranks for the owned-row blocks ``blocks`` (list of ``(n_owned_rows, s_i)``,
    concatenated column-wise): ``(Σ s_i, Σ s_i)``, identical bits on every rank. Collective."""
    X = np.concatenate(blocks, axis=1)
    return allreduce_sum(np.ascontiguousarray(X.T @ X), comm)


def trajectory_gram(G, n_draws, n_steps):
    """``T_ij = Σ_t G[(i, t), (j, t)]`` for snapshots ordered draw-major: ``(n_draws, n_draws)``."""
    G4 = np.asarray(G).reshape(n_draws, n_steps, n_draws, n_steps)
    return np.einsum("itjt->ij", G4)


def dissimilarity(T, kind="sine"):
    """The ``(m, m)`` dissimilarity matrix of trajectory Gram ``T`` (module docstring): ``sine`` or ``euclid``."""
    T = np.asarray(T, dtype=float)
    d = np.diag(T).copy()
    if kind == "sine":
        c2 = np.divide(T ** 2, np.outer(d, d), out=np.ones_like(T), where=np.outer(d, d) > 0)
        D = np.sqrt(np.clip(1.0 - c2, 0.0, None))
    elif kind == "euclid":
        D = np.sqrt(np.clip(d[:, None] + d[None, :] - 2.0 * T, 0.0, None))
    else:
        raise InputError(f"dissimilarity {kind!r}: use 'sine' or 'euclid'")
    D = 0.5 * (D + D.T)
    np.fill_diagonal(D, 0.0)
    return D


def kmedoids(D, k, comm):
    """FasterPAM k-medoids of ``D`` with ``k`` clusters, on rank 0, broadcast: ``(labels (m,), medoids (k,),
    loss)``; clusters numbered by their medoid's draw index. Collective."""
    out = None
    if comm.rank == 0:
        import kmedoids as km
        k = min(int(k), D.shape[0])
        if k == 1:
            med = np.array([int(np.argmin(D.sum(axis=0)))])
        else:
            r = km.fasterpam(np.ascontiguousarray(D), k, init="build", random_state=0, n_cpu=1)
            med = np.sort(np.asarray(r.medoids, dtype=np.int64))
        labels = np.argmin(D[:, med], axis=1)
        labels[med] = np.arange(med.size)
        loss = float(D[np.arange(D.shape[0]), med[labels]].sum())
        out = (labels.astype(np.int64), med.astype(np.int64), loss)
    return comm.bcast(out, root=0)


def cluster_projection_error(G, labels, n_steps, n_modes):
    """ε of the module docstring for one clustering: relative projection error of the training snapshots on
    their cluster's ``n_modes``-mode POD, from the cluster blocks of the snapshot Gram ``G``."""
    labels = np.asarray(labels)
    cols = np.repeat(labels, n_steps)
    disc = tot = 0.0
    for c in np.unique(labels):
        idx = np.flatnonzero(cols == c)
        lam = np.clip(np.linalg.eigvalsh(G[np.ix_(idx, idx)])[::-1], 0.0, None)
        disc += lam[n_modes:].sum()
        tot += lam.sum()
    return float(np.sqrt(disc / tot)) if tot > 0 else 0.0


def criterion(G, D, n_draws, n_steps, n_modes, max_clusters, comm):
    """The a-priori criterion for k = 1 … ``max_clusters``: list of dicts {k, loss (k-medoids), error (ε(k)),
    ratio (ε(k)/ε(1)), sizes}. Collective (the clusterings)."""
    rows = []
    for k in range(1, min(int(max_clusters), n_draws) + 1):
        labels, _med, loss = kmedoids(D, k, comm)
        e = cluster_projection_error(G, labels, n_steps, n_modes)
        rows.append({"k": k, "loss": loss, "error": e, "sizes": np.bincount(labels, minlength=k).tolist()})
    e1 = rows[0]["error"]
    for r in rows:
        r["ratio"] = r["error"] / e1 if e1 > 0 else 1.0
    return rows
