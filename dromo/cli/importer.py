"""``dromo import``: results of external FE codes into a dromo archive (run under ``mpirun``).

* ``dromo import calculix DECK.inp RESULTS.frd [--dat RESULTS.dat] -o SNAPSHOTS.h5``
  mesh and sets from the deck, every increment of the ``.frd`` (DISP -> U, STRESS -> S_nodal,
  TOSTRAIN -> E_nodal, SDV -> SDV_nodal, ...), integration-point values of ``*EL PRINT`` from the
  ``.dat`` (S, E, SDV, ...); tensors converted to Mandel. ``RESULTS.frd`` may be ``-`` to import the
  ``.dat`` only. ``--case CASE.toml`` also writes the dromo case file equivalent to the deck
  (``dromo case from-calculix``), translated before the import starts.
* ``dromo import meshio MESH [SERIES ...] -o SNAPSHOTS.h5``  a mesh (Gmsh, VTU, XDMF, .inp, MED) and
  nodal/cell time series (XDMF time series, PVD collections of ``.vtu``/``.pvtu``, single VTU/XDMF
  files); ``MESH`` may be ``-`` to take the mesh from the first series, or the XDMF time series itself
  (FEniCSx/dolfinx: its meshtags become sets). A series that numbers the mesh's nodes and cells
  differently (another rank count) is mapped by coordinates.

Both: ``--field WRITTEN=NAME`` stores a field under dromo's name (``--field Displacement=U``; the log
lists the fields found), ``--set NAME=EXPR`` adds a node set and a boundary facet set chosen by a
coordinate expression (``--set fixed="x < 1e-9"``; :mod:`dromo.mesh.select`).

Rank 0 reads the deck and the file headers; increments are streamed one at a time and written
collectively (:func:`dromo.io.adapters.import_results`): every rank parses its own records of each
fixed-width ``.frd`` block and its own rows of each ``.dat`` ``*EL PRINT`` block (a byte range cut at line
starts); other values (meshio series) are read on rank 0 and scattered. The archive is written
atomically and is the same at any rank count.

CalculiX state variables: when the law is known (``--laws-from CASE.toml``, a dromo case file of the
model, else the deck's ``*MATERIAL`` cards) the SDV columns become dromo's named internal variables
(``p``, ``eps_p``, ``alpha_1``, ``alpha_2`` for ANISO_PLAS: :mod:`dromo.io.adapters.calculix_sdv`).
"""
import json

from mpi4py import MPI

from .case import add_translation_options, translate_deck


def _selected(args):
    """``--fields`` in the reader's names (a name given as its ``--field`` new name is mapped back)."""
    from ..io.adapters.adjust import parse_renames
    if args.fields is None:
        return None
    back = {new: old for old, new in parse_renames(args.rename).items()}
    return [back.get(f, f) for f in args.fields]


def _run(args, make_reader):
    from ..errors import InputError
    from ..io.adapters import import_results
    from ..io.adapters.adjust import Adjusted, parse_renames
    from ..mesh.select import parse_definitions
    from ..parallel import collective
    comm = MPI.COMM_WORLD
    reader = None
    with collective(comm):
        if comm.rank == 0:
            rename, sets = parse_renames(args.rename), parse_definitions(args.sets)
            try:
                reader = Adjusted(make_reader(), rename, sets)
            except (InputError, KeyboardInterrupt):
                raise
            except (Exception, SystemExit) as exc:  # noqa: BLE001 - one line naming the input, no traceback
                files = ", ".join(str(getattr(args, a)) for a in ("deck", "frd", "dat", "mesh")
                                  if getattr(args, a, None) not in (None, "-"))
                raise InputError(f"{files}: cannot read the input ({type(exc).__name__}: "
                                 f"{str(exc)[:200]})") from None
    written = import_results(reader, args.output, comm)
    if comm.rank == 0:
        if args.json:
            print(json.dumps({"output": args.output, "fields": written}))
        else:
            print(f"wrote {args.output}: " + ", ".join(f"{n} ({c} steps)" for n, c in written.items()))
    return 0


def _calculix(args):
    from ..io.adapters.calculix import CalculixReader
    from ..io.adapters.calculix_sdv import named_state
    # SDV columns named after the law (--laws-from, or the deck's material cards): p, eps_p, ...
    laws = None
    if args.laws_from:
        from ..hf.case_file import read_case
        laws = read_case(args.laws_from)["materials"]
    CalculixReader = named_state(CalculixReader, args.deck, args.laws_from, laws)  # noqa: N806
    frd = None if args.frd == "-" else args.frd
    translation = translate_deck(args.deck, umat_library=args.umat_library) if args.case else None
    status = _run(args, lambda: CalculixReader(args.deck, frd, dat=args.dat, fields=_selected(args),
                                               units=args.units, stress_units=args.stress_units,
                                               allow_incomplete=args.allow_incomplete,
                                               allow_nonfinite=args.allow_nonfinite,
                                               allow_inverted=args.allow_inverted))
    if translation is not None:                  # rank 0
        translation.write(args.case)
        print(f"wrote {args.case}" + (f" ({len(translation.warnings)} card(s) not translated, "
                                      f"listed in its header)" if translation.warnings else ""))
    return status


def _meshio(args):
    from ..io.adapters.meshio_series import MeshioSeriesReader
    mesh = None if args.mesh == "-" else args.mesh
    return _run(args, lambda: MeshioSeriesReader(mesh, args.series, fields=_selected(args),
                                                 times=args.times, allow_nonfinite=args.allow_nonfinite,
                                                 allow_inverted=args.allow_inverted))


def register(sub):
    p = sub.add_parser("import", help="import results of external FE codes (CalculiX, meshio formats)")
    s = p.add_subparsers(dest="import_command", metavar="FORMAT")
    s.required = True
    c = s.add_parser("calculix", help="CalculiX deck + .frd (+ .dat *EL PRINT)")
    c.add_argument("deck", help="the .inp deck (mesh and sets)")
    c.add_argument("frd", help="the .frd result file, or - for none")
    c.add_argument("--dat", default=None, help="the .dat file with *EL PRINT integration-point values")
    c.add_argument("--laws-from", default=None, metavar="CASE.toml",
                   help="dromo case file of the same model: its laws name the SDV columns (default: the "
                        "deck's material cards; ANISO_PLAS gives p, eps_p, alpha_1, alpha_2)")
    c.add_argument("--units", default="", help="length units (stored with U)")
    c.add_argument("--stress-units", default="", help="stress units (stored with S_nodal)")
    c.add_argument("--allow-incomplete", action="store_true",
                   help="accept a .frd without its end record (ccx stopped early): import its "
                        "complete blocks; accept a .dat and a .frd that end at different increments")
    c.add_argument("--case", default=None, metavar="CASE.toml",
                   help="also write the dromo case file equivalent to the deck")
    add_translation_options(c)
    c.set_defaults(func=_calculix)
    m = s.add_parser("meshio", help="mesh + XDMF time series / PVD / VTU files through meshio")
    m.add_argument("mesh", help="mesh file, or - to take it from the first series")
    m.add_argument("series", nargs="*", help="result files (XDMF time series, .pvd, .vtu, ...)")
    m.add_argument("--times", type=float, nargs="+", default=None,
                   help="times of the single-file results (default 0, 1, ...)")
    m.set_defaults(func=_meshio)
    for q in (c, m):
        q.add_argument("-o", "--output", required=True, help="the dromo archive to write (.h5)")
        q.add_argument("--fields", nargs="+", default=None, help="field names to import (default: all)")
        q.add_argument("--field", dest="rename", action="append", default=[], metavar="WRITTEN=NAME",
                       help="store the field WRITTEN under NAME, e.g. --field Displacement=U (repeatable; "
                            "the log lists the fields found)")
        q.add_argument("--set", dest="sets", action="append", default=[], metavar="NAME=EXPR",
                       help="add the node set NAME of the nodes where EXPR (in x, y, z; dromo's safe "
                            "expressions) is true, and the facet set NAME of the boundary facets whose "
                            "nodes all are, e.g. --set fixed='x < 1e-9' (repeatable)")
        q.add_argument("--json", action="store_true", help="print one JSON line")
        q.add_argument("--allow-nonfinite", action="store_true",
                       help="keep NaN/Inf result values (default: an error naming file, line and item)")
        q.add_argument("--allow-inverted", action="store_true",
                       help="keep inverted or degenerate cells (default: an error naming the element)")
