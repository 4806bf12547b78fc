"""``dromo case list`` and ``dromo case write NAME DIR --size small``: the built-in cases (gmsh)."""
from mpi4py import MPI


def run_list(args):
    from ..hf.cases import CASES
    if MPI.COMM_WORLD.rank == 0:
        for name, c in sorted(CASES.items()):
            print(f"{name:14s} {c.description}")
    return 0


def run_write(args):
    from ..hf.cases import write_case
    from ..parallel.errors import collective
    comm = MPI.COMM_WORLD
    path = None
    with collective(comm):
        if comm.rank == 0:
            path = write_case(args.name, args.folder, args.size)
    if comm.rank == 0:
        print(f"wrote {path}; run it with: dromo solve {path} -o result.h5")
    return 0


def register(sub):
    p = sub.add_parser("case", help="built-in cases: list them, or write one (mesh + case file)")
    s = p.add_subparsers(dest="case_command", metavar="ACTION")
    s.required = True
    pl = s.add_parser("list", help="name the built-in cases")
    pl.set_defaults(func=run_list)
    pw = s.add_parser("write", help="generate a built-in case into a folder")
    pw.add_argument("name")
    pw.add_argument("folder")
    pw.add_argument("--size", default="small", choices=["small", "medium", "large"])
    pw.set_defaults(func=run_write)
