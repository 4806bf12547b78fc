"""``dromo`` entry point: argparse subcommands that run the same under ``mpirun -n P``.

Every subcommand module in :data:`SUBCOMMANDS` exposes ``register(subparsers)``, which adds its parser
and sets ``func(args) -> int``. Everything after a lone ``--petsc`` goes to PETSc's options database
(e.g. ``dromo solve case.toml --petsc -ksp_type preonly -pc_type lu``).

Errors: a :class:`~dromo.errors.DromoError` raised on every rank (e.g. a ``CollectiveError``) is printed
once by rank 0 and every rank exits with status 1; any other uncaught exception aborts the MPI job.
"""
import argparse
import importlib
import sys

SUBCOMMANDS = [
    "dromo.cli.info",
    "dromo.cli.demo",
    "dromo.cli.mesh",
    "dromo.cli.pod",
    "dromo.cli.hyperreduce",
    "dromo.cli.offline",
    "dromo.cli.online",
    "dromo.cli.solve",
    "dromo.cli.case",
    "dromo.cli.importer",
    "dromo.cli.compare",
]


def _split_petsc_options(argv):
    """Split ``argv`` into dromo arguments and PETSc options (everything after a lone ``--petsc``)."""
    if "--petsc" in argv:
        i = argv.index("--petsc")
        return argv[:i], argv[i + 1:]
    return argv, []


def build_parser():
    parser = argparse.ArgumentParser(
        prog="dromo",
        description="Distributed nonintrusive reduced-order modelling for nonlinear structural mechanics. "
                    "Run any subcommand under `mpirun -n P`. PETSc options go after `--petsc`.")
    parser.add_argument("--log-level", default=None, help="DEBUG, INFO (default), WARNING, ERROR")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in SUBCOMMANDS:
        importlib.import_module(name).register(sub)
    return parser


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    argv, petsc_argv = _split_petsc_options(argv)
    import petsc4py
    petsc4py.init([sys.argv[0]] + petsc_argv)
    from mpi4py import MPI
    from ..errors import DromoError
    from ..parallel import configure_logging, install_excepthook
    comm = MPI.COMM_WORLD
    install_excepthook(comm)
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.log_level, comm)
    try:
        status = args.func(args)
    except DromoError as exc:
        # Raised collectively (every rank has it) or a local error: print once per failing rank.
        from ..errors import CollectiveError
        if not isinstance(exc, CollectiveError) or comm.rank == 0:
            sys.stderr.write(f"dromo {args.command}: error: {exc}\n")
            sys.stderr.flush()
        if not isinstance(exc, CollectiveError) and comm.size > 1:
            comm.Abort(1)
        return 1
    return int(status or 0)


if __name__ == "__main__":
    sys.exit(main())
