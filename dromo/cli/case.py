"""``dromo case``: the built-in cases (``list``, ``write NAME DIR --size small``, meshed by gmsh) and
``from-calculix DECK.inp -o CASE.toml [--strict] [--umat-library LIB]``, the case file equivalent to
a CalculiX deck (:mod:`dromo.io.adapters.calculix_case`): each card it cannot translate is printed as a
warning and listed in the file's header; with ``--strict`` they are errors (exit status 1, no file).
"""
import sys

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


def translate_deck(deck, output=None, strict=False, umat_library=None):
    """Translate ``deck`` on rank 0 and write ``output`` if given (collective; the translation is
    serial). Warnings go to stderr; with ``strict`` any warning raises InputError (on every rank)
    before anything is written. Returns the
    :class:`~dromo.io.adapters.calculix_case.CaseTranslation` on rank 0, None elsewhere."""
    from ..errors import InputError
    from ..io.adapters.calculix_case import translate_calculix_deck
    from ..parallel.errors import collective
    comm = MPI.COMM_WORLD
    tr = None
    with collective(comm):
        if comm.rank == 0:
            tr = translate_calculix_deck(deck, umat_library=umat_library)
            for w in tr.warnings:
                sys.stderr.write(f"warning: not translated: {w}\n")
            if strict and tr.warnings:
                raise InputError(f"{deck}: {len(tr.warnings)} card(s) not translated (--strict), no "
                                 f"case written:\n  " + "\n  ".join(tr.warnings))
            if output is not None:
                tr.write(output)
    return tr


def run_from_calculix(args):
    tr = translate_deck(args.deck, args.output, args.strict, args.umat_library)
    if tr is not None:
        wrapper = tr.mesh_path(args.output)
        extra = f" and {wrapper} (the deck + sets for its loads)" if wrapper else ""
        left = f"; {len(tr.warnings)} card(s) not translated (listed in its header)" if tr.warnings else ""
        print(f"wrote {args.output}{extra}{left}; run it with: dromo solve {args.output} -o result.h5")
    return 0


def add_translation_options(p):
    """``--umat-library`` (shared by ``case from-calculix`` and ``import calculix --case``)."""
    p.add_argument("--umat-library", default=None,
                   help="shared library of the deck's *USER MATERIAL laws (other than ANISO_PLAS)")


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
    pc = s.add_parser("from-calculix", help="translate a CalculiX deck into a dromo case file")
    pc.add_argument("deck", help="the CalculiX .inp deck")
    pc.add_argument("-o", "--output", required=True, help="the case file to write (.toml)")
    pc.add_argument("--strict", action="store_true",
                    help="fail (no output) if any card cannot be translated")
    add_translation_options(pc)
    pc.set_defaults(func=run_from_calculix)
