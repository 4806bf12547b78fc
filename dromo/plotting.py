"""Shared bits of dromo's PNG plots: matplotlib on the Agg backend, with a clear error when it is missing."""
from .errors import InputError


def pyplot():
    """``matplotlib.pyplot`` on the Agg backend; :class:`InputError` naming the package otherwise."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:
        raise InputError(f"--plot needs matplotlib, which cannot be imported ({e}): install it "
                         "(Debian: apt-get install python3-matplotlib)") from None
    return plt


def finish_figure(fig, ax, path, xlabel, ylabel, title):
    """Label, grid and legend ``ax``, write ``fig`` to ``path`` (PNG) and close it. Returns ``path``."""
    import matplotlib.pyplot as plt
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, which="both", lw=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, format="png")
    plt.close(fig)
    return path
