"""Case files (TOML, read with :mod:`tomllib`) → :class:`~dromo.hf.problem.Problem`.

Format (paths relative to the case file; every table is checked for unknown keys)::

    name = "holed plate"                       # optional
    [mesh]
    file = "plate.msh"                         # any format of dromo.mesh.readers.read_mesh

    [materials.steel]                          # a law table for dromo.materials.make_law (+ density)
    type = "von_mises"
    E = 200e3
    nu = 0.3
    R0 = 250.0
    density = 7.85e-9

    [sections]                                 # element set -> material name
    all = "steel"

    [amplitudes]                               # piecewise linear, times strictly increasing
    cycle = [[0.0, 0.0], [1.0, 1.0], [2.0, -1.0]]

    [[displacement]]                           # imposed displacement per component on a node set
    set = "xmin"
    x = 0.0
    y = 0.0
    z = 0.0
    [[displacement]]
    set = "xmax"
    x = 0.05
    amplitude = "cycle"

    [[pressure]]                               # on a facet set
    set = "inner"
    value = 10.0
    amplitude = "cycle"

    [gravity]                                  # or [[gravity]]
    acceleration = [0.0, 0.0, -9810.0]

    [centrifugal]
    omega = 1000.0                             # rad/s
    axis_point = [0.0, 0.0, 0.0]
    axis_direction = [0.0, 0.0, 1.0]
    amplitude = "spin"                         # multiplies the force (ω²)

    [temperature]                              # one of value / expression / file (+ field)
    expression = "293 + a * 400 * exp(-((x - 5) / 3)**2)"
    amplitude = "heat"

    [time]                                     # dromo.hf.problem.TimeStepping
    end = 2.0
    dt = 0.1

    [output]
    checkpoint_every = 10

    [petsc]                                    # options for the Newton KSP (prefix hf_ added)
    ksp_type = "cg"

Every key is listed with its meaning in :data:`SCHEMA` (tables), :data:`TIME` (``[time]``) and the laws'
``PARAMETERS`` tables (``[materials.NAME]``); ``docs/case-file.md`` is generated from them
(``python -m dromo.hf.case_file > docs/case-file.md``, a test keeps it current). A key not listed is an
error naming it.
"""
import os

try:                                   # Python >= 3.11
    import tomllib
except ModuleNotFoundError:            # pragma: no cover - Python 3.9/3.10 (pyproject declares tomli)
    import tomli as tomllib

from mpi4py import MPI

from ..errors import InputError
from ..parallel.errors import collective
from .loads import Centrifugal, Displacement, Gravity, Pressure, Temperature
from .problem import Problem, TimeStepping

_AMP = "name of an [amplitudes] table (or an inline [[t, a], ...] table) multiplying the load; default 1"
#: Every table of a case file and its keys, with their meaning. ``None``: the table's keys are free names
#: (described by the table's entry in :data:`TABLES`).
SCHEMA = {
    "": {"name": "case name (optional; default the file name)", "mesh": "table [mesh]",
         "materials": "tables [materials.NAME]", "sections": "table [sections]", "amplitudes": "table [amplitudes]",
         "displacement": "tables [[displacement]]", "pressure": "tables [[pressure]]",
         "gravity": "table [gravity] or tables [[gravity]]", "centrifugal": "table [centrifugal] or tables "
         "[[centrifugal]]", "temperature": "table [temperature]", "time": "table [time]",
         "output": "table [output]", "petsc": "table [petsc]"},
    "mesh": {"file": "the mesh file, relative to the case file: any format dromo.mesh.readers.read_mesh reads "
                     "(.inp, .msh, .vtu, .xdmf, a dromo archive, ...)"},
    "materials.NAME": None,
    "sections": None,
    "amplitudes": None,
    "displacement": {"set": "node set (names match without regard to case)",
                     "x": "imposed x displacement [L] (absent: free)", "y": "imposed y displacement [L]",
                     "z": "imposed z displacement [L]", "amplitude": _AMP},
    "pressure": {"set": "facet set", "value": "pressure [F/L²], positive into the solid", "amplitude": _AMP},
    "gravity": {"acceleration": "acceleration vector [L/T²] (the body force is ρ g; needs a density)",
                "amplitude": _AMP},
    "centrifugal": {"omega": "rotation speed [rad/T] (body force ρ ω² r⊥; needs a density)",
                    "axis_point": "a point of the axis (default [0, 0, 0])",
                    "axis_direction": "the axis direction (default [0, 0, 1])",
                    "amplitude": "as for the other loads; multiplies the force (ω²)"},
    "temperature": {"value": "constant temperature (times the amplitude)",
                    "expression": "T(x, y, z, t, a) as an expression (dromo.expressions: never run as code)",
                    "file": "dromo archive with a nodal temperature series (relative to the case file)",
                    "field": "the field of that archive (default T)", "amplitude": _AMP},
    "time": "TIME",
    "output": {"checkpoint_every": "increments between checkpoints written to the result (default 10)"},
    "petsc": None,
}
#: The free-key tables.
TABLES = {
    "materials.NAME": "one table per material: the law's parameters (per type below), plus `density` (mass "
                      "density [M/L³], needed by gravity and centrifugal loads; default 0)",
    "sections": "element set = \"material NAME\" (set names match without regard to case)",
    "amplitudes": "NAME = [[t0, a0], [t1, a1], ...]: piecewise linear in total time, times strictly increasing",
    "petsc": "PETSc option = value for the Newton linear solver (prefix hf_ added: ksp_type = \"cg\" is "
             "-hf_ksp_type cg; true gives a flag)",
}
#: ``[time]``: the fields of :class:`~dromo.hf.problem.TimeStepping` (a test checks both lists agree).
TIME = {
    "end": "final time (default 1)", "dt": "first and nominal increment (default 0.1)",
    "start": "start time (default 0)", "dt_min": "smallest automatic increment (default dt·1e-4)",
    "dt_max": "largest automatic increment (default dt)",
    "fixed": "true: fixed increments, no cut-back and no regrowth (CalculiX DIRECT); default false",
    "cutback": "increment factor after a failed increment (default 0.5)",
    "growth": "increment factor after easy increments (default 1.5)",
    "easy_iterations": "an increment converged in at most this many Newton iterations is easy (default 4)",
    "easy_increments": "consecutive easy increments before the increment grows (default 2)",
    "max_iterations": "Newton iterations per increment before a cut-back (default 20)",
    "rtol": "Newton: residual on free dofs <= max(rtol·F, atol), F = max(|f_ext|, |f_int|) (default 1e-8)",
    "atol": "Newton: absolute residual tolerance (default 1e-10)",
    "ksp_rtol": "smallest relative tolerance of the iterative linear solves (default 1e-10)",
    "max_increments": "increments before the run stops with an error (default 100000)",
    "linear_solver": "auto (MUMPS LU up to direct_max_dofs, CG/GMRES + GAMG beyond; default) | direct | "
                     "iterative",
    "direct_max_dofs": "largest global dof count solved by LU with linear_solver = auto (default 20000)",
    "reuse_preconditioner": "keep LU factors / the GAMG hierarchy over Newton iterations (default true)",
    "reuse_max_its": "rebuild the preconditioner after a solve that took more iterations (default 25)",
    "reuse_across_increments": "also keep it over increments (default true)",
    "inexact_newton": "Eisenstat-Walker tolerances for the linear solves (default true)",
}
TOP = set(SCHEMA[""])


def _law_tables():
    """``{law type: PARAMETERS}`` of the laws a case may name (plus sub-tables)."""
    from ..materials import aniso_plas, elastic, umat, viscoplastic
    return {"elastic": (elastic.PARAMETERS, {}),
            "von_mises (viscoplastic, chaboche)": (viscoplastic.PARAMETERS,
                                                   {"voce entries": viscoplastic.VOCE,
                                                    "kinematic entries": viscoplastic.KINEMATIC,
                                                    "flow table": viscoplastic.FLOW}),
            "aniso_plas": (aniso_plas.PARAMETERS, {}),
            "umat": (umat.PARAMETERS, {"state entries": umat.STATE})}


def reference():
    """The case-file reference (markdown), generated from :data:`SCHEMA`, :data:`TABLES`, :data:`TIME` and
    the laws' ``PARAMETERS``: every key a case file accepts."""
    out = ["# Case-file reference", "",
           "Generated from `dromo/hf/case_file.py` (`python -m dromo.hf.case_file > docs/case-file.md`).",
           "A case file is TOML; paths are relative to the case file. Every key not listed here is an error "
           "naming it. Every material parameter may be a temperature table (`dromo/materials/tables.py`).", ""]

    def keys(table):
        return [f"- `{k}`: {v}" for k, v in table.items()]
    for name, table in SCHEMA.items():
        out.append("## top level" if name == "" else f"## [{name}]")
        out.append("")
        if table is None:
            out.append(TABLES[name] + ".")
        else:
            out += keys(TIME if table == "TIME" else table)
        out.append("")
        if name == "materials.NAME":
            for law, (params, subs) in _law_tables().items():
                out += [f"### type = {law}", ""] + keys(params) + [""]
                for sub, table in subs.items():
                    out += [f"{sub}:", ""] + keys(table) + [""]
    return "\n".join(out).rstrip() + "\n"


def _check_keys(d, known, where):
    if not isinstance(d, dict):
        raise InputError(f"{where}: expected a table, got {type(d).__name__}")
    extra = set(d) - set(known)
    if extra:
        raise InputError(f"{where}: unknown key(s) {sorted(extra)} (known: {sorted(known)})")


def _list(v):
    return v if isinstance(v, list) else [v]


def load_toml(path, what="file"):
    """The TOML document at ``path`` as a dict; a missing file or bad TOML is an InputError naming it."""
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise InputError(f"{path}: no such {what}") from None
    except tomllib.TOMLDecodeError as e:
        raise InputError(f"{path}: not valid TOML ({e})") from None


def read_case(path):
    """Parse and check a case file (serial): returns a dict of Problem arguments + ``output``."""
    path = os.fspath(path)
    d = load_toml(path, "case file")
    _check_keys(d, TOP, path)
    base = os.path.dirname(os.path.abspath(path))
    if "mesh" not in d or "file" not in d["mesh"]:
        raise InputError(f"{path}: missing [mesh] file = \"...\"")
    _check_keys(d["mesh"], SCHEMA["mesh"], f"{path} [mesh]")
    mesh_file = os.path.join(base, d["mesh"]["file"])
    mats = d.get("materials", {})
    secs = d.get("sections", {})
    if not mats or not secs:
        raise InputError(f"{path}: need [materials.NAME] tables and a [sections] table (element set = material)")
    materials = {}
    for elset, mname in secs.items():
        if mname not in mats:
            raise InputError(f"{path} [sections]: element set {elset!r} refers to unknown material {mname!r} "
                             f"(materials: {', '.join(sorted(mats))})")
        m = dict(mats[mname])
        m.setdefault("name", mname)
        materials[elset] = m
    loads = []
    for i, t in enumerate(_list(d.get("displacement", []))):
        where = f"{path} [[displacement]] #{i + 1}"
        _check_keys(t, SCHEMA["displacement"], where)
        if "set" not in t:
            raise InputError(f"{where}: missing 'set'")
        loads.append(Displacement(t["set"], {k: t[k] for k in "xyz" if k in t}, t.get("amplitude")))
    for i, t in enumerate(_list(d.get("pressure", []))):
        where = f"{path} [[pressure]] #{i + 1}"
        _check_keys(t, SCHEMA["pressure"], where)
        if "set" not in t or "value" not in t:
            raise InputError(f"{where}: needs 'set' and 'value'")
        loads.append(Pressure(t["set"], float(t["value"]), t.get("amplitude")))
    for i, t in enumerate(_list(d.get("gravity", []))):
        _check_keys(t, SCHEMA["gravity"], f"{path} [gravity]")
        loads.append(Gravity(t["acceleration"], t.get("amplitude")))
    for i, t in enumerate(_list(d.get("centrifugal", []))):
        _check_keys(t, SCHEMA["centrifugal"], f"{path} [centrifugal]")
        if "omega" not in t:
            raise InputError(f"{path} [centrifugal]: missing 'omega'")
        loads.append(Centrifugal(float(t["omega"]), t.get("axis_point", (0, 0, 0)),
                                 t.get("axis_direction", (0, 0, 1)), t.get("amplitude")))
    temperature = None
    if "temperature" in d:
        t = dict(d["temperature"])
        _check_keys(t, SCHEMA["temperature"], f"{path} [temperature]")
        if "file" in t:
            t["file"] = os.path.join(base, t["file"])
        temperature = Temperature(**t, source=path)
    try:
        time = TimeStepping.from_dict(d.get("time", {}), f"{path} [time]")
    except TypeError as e:
        raise InputError(f"{path} [time]: {e}") from None
    out = d.get("output", {})
    _check_keys(out, SCHEMA["output"], f"{path} [output]")
    return dict(mesh_file=mesh_file, materials=materials, loads=loads, amplitudes=d.get("amplitudes", {}),
                temperature=temperature, time=time, name=d.get("name", os.path.basename(path)),
                checkpoint_every=int(out.get("checkpoint_every", 10)), petsc=d.get("petsc", {}))


def load_case(path, comm=None):
    """Read a case file on rank 0, distribute, build the :class:`Problem` (collective).

    Returns ``(problem, options)`` with ``options`` the run options (``checkpoint_every``).
    """
    comm = comm or MPI.COMM_WORLD
    spec = None
    with collective(comm):
        if comm.rank == 0:
            spec = read_case(path)
    spec = comm.bcast(spec, root=0)
    return build_problem(spec, comm), dict(checkpoint_every=spec["checkpoint_every"])


def build_problem(spec, comm=None, dm=None):
    """The :class:`Problem` of a parsed case (:func:`read_case`, identical on every rank), on ``dm`` or a new
    DistributedMesh of its mesh file; the case's PETSc options are set with the prefix ``hf_``. Collective."""
    comm = comm or MPI.COMM_WORLD
    if spec.get("petsc"):
        from petsc4py import PETSc
        opts = PETSc.Options()
        for k, v in spec["petsc"].items():
            opts[f"hf_{k}"] = "" if v is True else str(v)
    if dm is None:
        from ..io.archive import distributed_mesh
        dm = distributed_mesh(spec["mesh_file"], comm)
    return Problem(dm, spec["materials"], spec["loads"], spec["amplitudes"], spec["temperature"], spec["time"],
                   comm=comm, name=spec["name"])


if __name__ == "__main__":                 # python -m dromo.hf.case_file > docs/case-file.md
    print(reference(), end="")
