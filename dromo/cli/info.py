"""``dromo info``: versions of the stack, the BLAS in use and the MPI world size."""
import platform
import sys


def blas_info():
    """Name and version of the BLAS numpy calls, via threadpoolctl when available, else ld maps."""
    try:
        from threadpoolctl import threadpool_info
        import numpy  # noqa: F401  (loads the BLAS)
        libs = [i for i in threadpool_info() if i.get("user_api") == "blas"]
        if libs:
            i = libs[0]
            return f"{i.get('internal_api')} {i.get('version') or ''} ({i.get('filepath')})".strip()
    except ImportError:
        pass
    try:
        import numpy  # noqa: F401
        with open("/proc/self/maps") as f:
            for line in f:
                if "blas" in line.lower():
                    return line.split()[-1]
    except OSError:
        pass
    return "unknown"


def collect():
    """Return a dict of component -> version string (collective-free; call on any rank)."""
    import numpy
    import scipy
    import h5py
    import mpi4py
    from mpi4py import MPI
    from petsc4py import PETSc
    import dromo
    try:
        from slepc4py import SLEPc
        slepc = ".".join(map(str, SLEPc.Sys.getVersion()))
    except ImportError:
        slepc = "not installed"
    return {
        "dromo": dromo.__version__,
        "python": f"{platform.python_version()} ({sys.executable})",
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "petsc": ".".join(map(str, PETSc.Sys.getVersion())),
        "slepc": slepc,
        "mpi4py": mpi4py.__version__,
        "mpi": MPI.Get_library_version().splitlines()[0].strip(),
        "h5py": f"{h5py.__version__} (MPI build: {'yes' if h5py.get_config().mpi else 'no'})",
        "blas": blas_info(),
        "mpi world size": str(MPI.COMM_WORLD.size),
    }


def run(args):
    from mpi4py import MPI
    info = collect()
    if MPI.COMM_WORLD.rank == 0:
        width = max(map(len, info))
        for k, v in info.items():
            print(f"{k:<{width}}  {v}")
    return 0


def register(sub):
    p = sub.add_parser("info", help="print versions of dromo and its stack, the BLAS and the MPI size")
    p.set_defaults(func=run)
