"""PNG plot of the singular value decay of a POD (matplotlib, Agg backend; written by rank 0 only)."""
import numpy as np


def plot_singular_values(singular_values, path, n_kept=None, tol=None, title=None, comm=None):
    """Write a semilog plot of ``σ_i / σ_1`` (and the relative energy tail) to ``path`` (PNG).

    Parameters
    ----------
    singular_values : array (r,) — descending (replicated on every rank)
    path : str — output PNG file
    n_kept : int, optional — number of kept modes (vertical line)
    tol : float, optional — the energy tolerance (horizontal line on the tail curve)
    comm : MPI.Comm, optional — only rank 0 writes; other ranks return immediately (not collective)
    """
    if comm is not None and comm.rank != 0:
        return None
    from ..plotting import finish_figure, pyplot
    plt = pyplot()
    s = np.asarray(singular_values, dtype=np.float64)
    s = s[s > 0]
    if s.size == 0:
        s = np.ones(1)
    i = np.arange(1, s.size + 1)
    e = s ** 2
    tail = np.sqrt(np.maximum(np.concatenate([np.cumsum(e[::-1])[::-1][1:], [0.0]]) / e.sum(), 0))
    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=100)
    ax.semilogy(i, s / s[0], "o-", ms=3, label="σ_i / σ_1")
    m = tail > 0
    ax.semilogy(i[m], tail[m], "s--", ms=2, label="√(discarded energy / total) keeping i modes")
    if n_kept:
        ax.axvline(n_kept, color="k", lw=0.8, ls=":", label=f"{n_kept} modes kept")
    if tol:
        ax.axhline(tol, color="r", lw=0.8, ls=":", label=f"tolerance {tol:g}")
    return finish_figure(fig, ax, path, "mode i", "relative value", title or "POD singular value decay")
