"""Run by tests/faults/test_foreign_exit.py under ``mpirun -n 3``: a third-party reader (meshio, on a file
it cannot read: it prints its error and calls ``sys.exit(1)``) runs on ONE rank while the others go on to
the next collective call.

``python exit_one_rank.py collective BAD RANK``: inside ``dromo.parallel.collective`` (the library path);
every rank must raise CollectiveError naming that rank, print ``rank R: caught ...`` and exit 3.
``python exit_one_rank.py command BAD RANK``: inside a ``dromo`` subcommand, outside any collective block
(the command-line backstop); the job must end on every rank with status 1.
"""
import sys

from mpi4py import MPI


def read_on_one_rank(path, rank):
    comm = MPI.COMM_WORLD
    if comm.rank == rank:
        import meshio
        meshio.read(path)                 # prints "Couldn't read file ..." and calls sys.exit(1)
    comm.Barrier()                        # the others wait here


def register(sub):
    p = sub.add_parser("exit-test")
    p.add_argument("path")
    p.add_argument("rank", type=int)
    p.set_defaults(func=lambda args: read_on_one_rank(args.path, args.rank) or 0)


if __name__ == "__main__":
    mode, path, rank = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if mode == "collective":
        from dromo.errors import CollectiveError
        from dromo.parallel import collective
        try:
            with collective(MPI.COMM_WORLD):
                if MPI.COMM_WORLD.rank == rank:
                    import meshio
                    meshio.read(path)
        except CollectiveError as exc:
            print(f"rank {MPI.COMM_WORLD.rank}: caught {exc}", flush=True)
            sys.exit(3)
    else:
        from dromo.cli import main as cli
        cli.SUBCOMMANDS.append("__main__")
        sys.exit(cli.main(["exit-test", path, str(rank)]))
