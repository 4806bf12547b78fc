"""``dromo`` entry point: argparse subcommands that run the same under ``mpirun -n P``.

Every subcommand module in :data:`SUBCOMMANDS` exposes ``register(subparsers)``, which adds its parser
and sets ``func(args) -> int``. Everything after a lone ``--petsc`` goes to PETSc's options database
(e.g. ``dromo solve case.toml --petsc -ksp_type preonly -pc_type lu``).

Exit status (the same on every rank):

* 0 — success;
* 1 — an error (bad input, no convergence: the message names the file, the field, the time...); a
  :class:`~dromo.errors.DromoError` raised on every rank is printed once by rank 0; an error on one rank
  only, or any other uncaught exception — ``SystemExit`` of a library's ``sys.exit`` and
  ``KeyboardInterrupt`` included — aborts the MPI job on every rank (status 1) with the rank's message;
* 2 — bad command-line usage (argparse);
* 74 (EX_IOERR) — an output cannot be written: full disk, quota, read-only or vanished folder
  (:class:`~dromo.io.archive.OutputError`; nothing half-written is left, earlier outputs are untouched);
* 75 (EX_TEMPFAIL) — stopped by SIGTERM or SIGUSR1 (a SLURM time limit) after saving a checkpoint: the
  message gives the ``--restart`` command that continues the run (``solve``, ``online`` and ``adapt``
  handle these signals; other commands keep the default behaviour: they are killed).

Logging options (:data:`LOG_OPTIONS`), the same for every command, before or after the subcommand name
(``dromo --quiet pod ...`` = ``dromo pod ... --quiet``; the last one given wins): ``-q/--quiet`` shows
warnings and errors only (no info or progress lines), ``-v/--verbose`` adds debug lines, ``--log-level
LEVEL`` any level; default INFO, or ``DROMO_LOG_LEVEL``. Logs go to stderr, from rank 0 (errors from
every rank); what a command prints as its result goes to stdout whatever the level.
"""
import argparse
import importlib
import shlex
import sys
import traceback

SUBCOMMANDS = [
    "dromo.cli.info",
    "dromo.cli.demo",
    "dromo.cli.mesh",
    "dromo.cli.pod",
    "dromo.cli.hyperreduce",
    "dromo.cli.offline",
    "dromo.cli.online",
    "dromo.cli.calibrate",
    "dromo.cli.adapt",
    "dromo.cli.solve",
    "dromo.cli.case",
    "dromo.cli.importer",
    "dromo.cli.compare",
    "dromo.cli.dictionary",
    "dromo.cli.uq",

]


EXIT_ERROR = 1
EXIT_OUTPUT = 74
EXIT_INTERRUPTED = 75
#: commands whose time loops stop cleanly on SIGTERM/SIGUSR1 (dromo.hf.march checks between increments)
STOPPABLE = ("solve", "online", "adapt")


def restart_command(argv, petsc_argv, output):
    """The command line that continues an interrupted run: ``argv`` with ``--restart OUTPUT``."""
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
            continue
        if a == "--restart":
            skip = True
            continue
        if a.startswith("--restart="):
            continue
        out.append(a)
    out += ["--restart", output]
    if petsc_argv:
        out += ["--petsc"] + list(petsc_argv)
    return shlex.join(["dromo"] + out)


def _exit_status(exc):
    """Exit status of a DromoError (module docstring)."""
    from ..io.archive import OutputError
    if isinstance(exc, OutputError) or any(t == "OutputError" for _r, t, _m in getattr(exc, "failures", ())):
        return EXIT_OUTPUT
    return EXIT_ERROR


def _split_petsc_options(argv):
    """Split ``argv`` into dromo arguments and PETSc options (everything after a lone ``--petsc``)."""
    if "--petsc" in argv:
        i = argv.index("--petsc")
        return argv[:i], argv[i + 1:]
    return argv, []


#: (flags, level, help) of the logging options every parser takes; ``--log-level`` takes the level itself
LOG_OPTIONS = (
    (("-q", "--quiet"), "WARNING", "warnings and errors only: no info or progress lines"),
    (("-v", "--verbose"), "DEBUG", "debug lines too"),
)


def _add_log_options(parser):
    """The logging options on ``parser``, stored in ``log_level``; ``SUPPRESS`` as default, so that a
    subcommand's parser never overwrites what was given before the subcommand's name."""
    group = parser.add_argument_group("logging (any command, before or after its name)")
    for flags, level, text in LOG_OPTIONS:
        group.add_argument(*flags, dest="log_level", action="store_const", const=level,
                           default=argparse.SUPPRESS, help=text)
    group.add_argument("--log-level", dest="log_level", default=argparse.SUPPRESS, type=str.upper,
                       choices=("DEBUG", "INFO", "WARNING", "ERROR"), help="INFO by default (or DROMO_LOG_LEVEL)")


def command_parsers(parser, path=()):
    """``[(path, parser)]`` of ``parser`` and of every (nested) subcommand parser, each parser once
    (aliases skipped); ``path`` is the tuple of subcommand names, ``()`` for ``dromo`` itself."""
    out, seen = [(path, parser)], {id(parser)}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, p in action.choices.items():
                if id(p) not in seen:
                    seen.add(id(p))
                    out += command_parsers(p, path + (name,))
    return out


def build_parser():
    parser = argparse.ArgumentParser(
        prog="dromo",
        description="Distributed nonintrusive reduced-order modelling for nonlinear structural mechanics. "
                    "Run any subcommand under `mpirun -n P`. PETSc options go after `--petsc`.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in SUBCOMMANDS:
        importlib.import_module(name).register(sub)
    for _path, p in command_parsers(parser):
        _add_log_options(p)
    return parser


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    argv, petsc_argv = _split_petsc_options(argv)
    import petsc4py
    petsc4py.init([sys.argv[0]] + petsc_argv)
    from mpi4py import MPI
    from ..errors import DromoError
    from ..parallel import configure_logging, install_excepthook
    from ..parallel.signals import Interrupted, install_stop_handlers, restore_handlers, signal_name
    comm = MPI.COMM_WORLD
    install_excepthook(comm)
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(getattr(args, "log_level", None), comm)
    from ..parallel import get_logger
    get_logger("dromo.cli").debug("dromo %s on %d rank(s), log level %s: %s", args.command, comm.size,
                                  getattr(args, "log_level", None) or "default", shlex.join(argv))
    if args.command in STOPPABLE:
        from petsc4py import PETSc  # noqa: F401 - PetscInitialize installs its own SIGTERM handler: ours after
        install_stop_handlers()
    try:
        status = args.func(args)
        restore_handlers()
    except Interrupted as exc:
        # From here a SIGTERM must end the process again: mpirun sends one to the ranks still exiting when
        # the first rank has returned a non-zero status (and waits odls_base_sigkill_timeout for them).
        restore_handlers()
        # raised on every rank together, after the checkpoint was written and the archive closed
        if comm.rank == 0:
            msg = f"dromo {args.command}: interrupted by {signal_name(exc.signum)}: {exc}\n"
            if exc.output:
                msg += f"dromo {args.command}: restart with: {restart_command(argv, petsc_argv, exc.output)}\n"
            sys.stderr.write(msg)
            sys.stderr.flush()
        return EXIT_INTERRUPTED
    except DromoError as exc:
        restore_handlers()
        # Raised collectively (every rank has it) or a local error: print once per failing rank.
        from ..errors import CollectiveError
        status = _exit_status(exc)
        if not isinstance(exc, CollectiveError) or comm.rank == 0:
            sys.stderr.write(f"dromo {args.command}: error: {exc}\n")
            sys.stderr.flush()
        if not isinstance(exc, CollectiveError) and comm.size > 1:
            comm.Abort(status)
        return status
    except BaseException as exc:
        # SystemExit (a library's sys.exit), KeyboardInterrupt or a bug on some ranks only: the others may be
        # blocked in a collective call, and a rank leaving through MPI_Finalize would wait for them for
        # ever. sys.excepthook never sees SystemExit, so this is the backstop that ends the whole job.
        restore_handlers()
        if comm.size == 1:
            raise
        what = f"sys.exit({exc.code!r}) called" if isinstance(exc, SystemExit) else f"{type(exc).__name__}: {exc}"
        sys.stderr.write(f"[rank {comm.rank}] dromo {args.command}: error: {what}; aborting the job on "
                         f"every rank\n")
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
        sys.stderr.flush()
        comm.Abort(EXIT_ERROR)
    return int(status or 0)


if __name__ == "__main__":
    sys.exit(main())
