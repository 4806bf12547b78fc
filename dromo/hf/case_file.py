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

TOP = {"name", "mesh", "materials", "sections", "amplitudes", "displacement", "pressure", "gravity",
       "centrifugal", "temperature", "time", "output", "petsc"}


def _check_keys(d, known, where):
    if not isinstance(d, dict):
        raise InputError(f"{where}: expected a table, got {type(d).__name__}")
    extra = set(d) - set(known)
    if extra:
        raise InputError(f"{where}: unknown key(s) {sorted(extra)} (known: {sorted(known)})")


def _list(v):
    return v if isinstance(v, list) else [v]


def read_case(path):
    """Parse and check a case file (serial): returns a dict of Problem arguments + ``output``."""
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            d = tomllib.load(f)
    except FileNotFoundError:
        raise InputError(f"{path}: no such case file") from None
    except tomllib.TOMLDecodeError as e:
        raise InputError(f"{path}: not valid TOML ({e})") from None
    _check_keys(d, TOP, path)
    base = os.path.dirname(os.path.abspath(path))
    if "mesh" not in d or "file" not in d["mesh"]:
        raise InputError(f"{path}: missing [mesh] file = \"...\"")
    _check_keys(d["mesh"], {"file"}, f"{path} [mesh]")
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
        _check_keys(t, {"set", "x", "y", "z", "amplitude"}, where)
        if "set" not in t:
            raise InputError(f"{where}: missing 'set'")
        loads.append(Displacement(t["set"], {k: t[k] for k in "xyz" if k in t}, t.get("amplitude")))
    for i, t in enumerate(_list(d.get("pressure", []))):
        where = f"{path} [[pressure]] #{i + 1}"
        _check_keys(t, {"set", "value", "amplitude"}, where)
        if "set" not in t or "value" not in t:
            raise InputError(f"{where}: needs 'set' and 'value'")
        loads.append(Pressure(t["set"], float(t["value"]), t.get("amplitude")))
    for i, t in enumerate(_list(d.get("gravity", []))):
        _check_keys(t, {"acceleration", "amplitude"}, f"{path} [gravity]")
        loads.append(Gravity(t["acceleration"], t.get("amplitude")))
    for i, t in enumerate(_list(d.get("centrifugal", []))):
        _check_keys(t, {"omega", "axis_point", "axis_direction", "amplitude"}, f"{path} [centrifugal]")
        if "omega" not in t:
            raise InputError(f"{path} [centrifugal]: missing 'omega'")
        loads.append(Centrifugal(float(t["omega"]), t.get("axis_point", (0, 0, 0)),
                                 t.get("axis_direction", (0, 0, 1)), t.get("amplitude")))
    temperature = None
    if "temperature" in d:
        t = dict(d["temperature"])
        _check_keys(t, {"value", "expression", "file", "field", "amplitude"}, f"{path} [temperature]")
        if "file" in t:
            t["file"] = os.path.join(base, t["file"])
        temperature = Temperature(**t, source=path)
    try:
        time = TimeStepping.from_dict(d.get("time", {}), f"{path} [time]")
    except TypeError as e:
        raise InputError(f"{path} [time]: {e}") from None
    out = d.get("output", {})
    _check_keys(out, {"checkpoint_every"}, f"{path} [output]")
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
    if spec["petsc"]:
        from petsc4py import PETSc
        opts = PETSc.Options()
        for k, v in spec["petsc"].items():
            opts[f"hf_{k}"] = "" if v is True else str(v)
    from ..mesh.distributed import DistributedMesh
    dm = DistributedMesh.from_file(spec["mesh_file"], comm)
    pb = Problem(dm, spec["materials"], spec["loads"], spec["amplitudes"], spec["temperature"], spec["time"],
                 comm=comm, name=spec["name"])
    return pb, dict(checkpoint_every=spec["checkpoint_every"])
