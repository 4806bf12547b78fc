"""The reduced model: :class:`ReducedModel`, owner of the ``/rom`` layout of a ROM archive.

A ReducedModel holds, **replicated on every rank**, everything the online stage needs: the reduced
points (natural ids, weights, element, coordinates), the strains of the displacement modes and of the
liftings at those points, the Gappy-POD fits of the dual fields, and — when it was built from training
cases by ``dromo offline`` (:func:`dromo.rom.offline.build`) — the case terms: the law of each element set,
the reduced external loads, what the temperature needs. Its size is O(points × modes), never O(mesh).

The O(mesh) data — the displacement modes, the liftings, the dual-field modes — stay in the archive's
``/fields`` (natural numbering, any rank count) and are read only by :meth:`ReducedModel.reconstruct`.

Archive layout (``format_version`` :data:`FORMAT_VERSION`; a different version or mesh is refused):

``/mesh``                              the mesh (written once; only read to reconstruct)
``/fields/rom_U``                      displacement modes Ψ (node, 3; one "step" per mode)
``/fields/rom_lifting``                lifting fields L_i (node, 3; one "step" per imposed term), if any
``/fields/dual_<F>``                   modes of the dual field F (ip, nc)
``/rom`` attrs                         format_version, mesh_hash, n_nodes, n_ip, n_modes, n_points, ...
``/rom/meta``                          JSON (uint8) of the small structured data (groups, load keys, ...)
``/rom/points/{ids, weights, ecm, cells, elements, qp, coordinates, group}``   (n,) / (n, 3)
``/rom/points/strain_modes``           (n, 6, k) Mandel strains ε(ψ_j) at the points
``/rom/points/strain_liftings``        (n, 6, n_L) Mandel strains ε(L_i) at the points
``/rom/points/cell_nodes``, ``shape``  (n, n_nodes_max) natural nodes of each point's cell and the shape
                                       function values at the point (-1 / 0 padded): nodal temperatures
``/rom/dual/<F>``                      :class:`~dromo.reduction.eim.GappyFit` of field F on the points
``/rom/loads/pressure/<set>``          (k,) Ψᵀ f of a unit pressure on the facet set
``/rom/loads/body/<group>/{constant, linear}``  (3, k) Ψᵀ ∫ Nᵀ e_i ρ_g and (3, 3, k) Ψᵀ ∫ Nᵀ x_j e_i ρ_g
                                       (unit density on the element set of material group g)
"""
import json
import os
from dataclasses import dataclass, field

import numpy as np
from mpi4py import MPI

from ..errors import InputError

FORMAT_VERSION = 1
#: name of the displacement-mode field and of the lifting field in a ROM archive
U_MODES, LIFTING = "rom_U", "rom_lifting"


@dataclass
class PointData:
    """The reduced points, replicated, in increasing natural id.

    ids (n,) natural integration-point ids; weights (n,) reduced quadrature weights [L³] (0 for points
    kept only for the dual fields); ecm (n,) bool; cells (n,) natural cell index; elements (n,) external
    element ids; qp (n,) point index within its cell's rule; coordinates (n, 3); group (n,) material
    group index (-1 when the model has no case terms); strain_modes (n, 6, k); strain_liftings
    (n, 6, n_L); cell_nodes, shape (n, m) for nodal temperature series.
    """
    ids: np.ndarray
    weights: np.ndarray
    ecm: np.ndarray
    cells: np.ndarray
    elements: np.ndarray
    qp: np.ndarray
    coordinates: np.ndarray
    strain_modes: np.ndarray
    group: np.ndarray = None
    strain_liftings: np.ndarray = None
    cell_nodes: np.ndarray = None
    shape: np.ndarray = None

    ARRAYS = ("ids", "weights", "ecm", "cells", "elements", "qp", "coordinates", "strain_modes", "group",
              "strain_liftings", "cell_nodes", "shape")

    def __post_init__(self):
        n = self.ids.size
        k = self.strain_modes.shape[2] if self.strain_modes.ndim == 3 else 0
        if self.group is None:
            self.group = np.full(n, -1, np.int64)
        if self.strain_liftings is None:
            self.strain_liftings = np.zeros((n, 6, 0))
        if self.cell_nodes is None:
            self.cell_nodes = np.full((n, 1), -1, np.int64)
            self.shape = np.zeros((n, 1))
        if self.strain_modes.shape != (n, 6, k):
            raise InputError(f"reduced points: strain_modes has shape {self.strain_modes.shape}, expected "
                             f"({n}, 6, k)")

    @property
    def n(self):
        return int(self.ids.size)


@dataclass
class DualField:
    """A dual field rebuilt by Gappy-POD: its fit on the points and what describes it."""
    name: str
    fit: object                      # GappyFit
    n_modes: int
    components: list
    qdeim_ids: np.ndarray


@dataclass
class CaseTerms:
    """What a ROM built from training cases knows of them (replicated, small).

    groups : list of dicts {elset, type, spec (law table), density, state_names} — one per material group
    dirichlet : list of keys ``("displacement", set, component)`` of the imposed terms, in case order
        (the liftings follow that order)
    pressure : {facet set: (k,) Ψᵀ f(unit pressure)}
    body : {group index: (constant (3, k), linear (3, 3, k))} or {} when no body force was trained
    load_types : sorted list of the load types of the training ("pressure", "gravity", "centrifugal")
    temperature : "none" | "field" (value, expression: evaluated at the coordinates) | "nodal" (a nodal
        series from an archive: interpolated with ``cell_nodes``/``shape``)
    training : JSON-able description of the training sources and options
    """
    groups: list
    dirichlet: list
    pressure: dict
    body: dict
    load_types: list
    temperature: str
    training: dict = field(default_factory=dict)


class ReducedModel:
    """A reduced-order model (module docstring). Build with :func:`dromo.rom.offline.build` or
    :func:`dromo.reduction.hyperreduce.hyperreduce`; :meth:`save` / :meth:`load` at any rank count."""

    def __init__(self, mesh_hash, n_nodes, n_ip, points, duals, quadrature, case=None, comm=None,
                 operators=None, mesh=None):
        self.mesh_hash = str(mesh_hash)
        self.n_nodes = int(n_nodes)
        self.n_ip = int(n_ip)
        self.points = points
        self.duals = dict(duals)
        self.quadrature = dict(quadrature)        # tol, error, variant, n_ecm_points, n_basis, converged
        self.case = case
        self.comm = comm or MPI.COMM_WORLD
        self.operators = operators                # offline only: distributed modes (see offline.FullOperators)
        self.mesh = mesh                          # offline only: the DistributedMesh or MeshData (written by save)
        self.calibration = {}                     # {dual field: rom.indicator.Calibration of its indicator}
        self.path = None
        self.root = "rom"                         # group of the /rom part in the archive at ``path``

    # ------------------------------------------------------------------ sizes
    @property
    def n_modes(self):
        return int(self.points.strain_modes.shape[2])

    @property
    def n_points(self):
        return self.points.n

    @property
    def n_liftings(self):
        return int(self.points.strain_liftings.shape[2])

    def summary(self):
        """One line for logs."""
        d = ", ".join(f"{f} ({v.n_modes} modes)" for f, v in self.duals.items()) or "none"
        return (f"{self.n_modes} displacement modes, {self.n_liftings} liftings, {self.n_points} reduced points "
                f"({int(np.count_nonzero(self.points.ecm))} ECM; relative error of the reduced internal-force "
                f"integrals over the training snapshots {self.quadrature.get('error', float('nan')):.3g}), "
                f"dual fields: {d}")

    # ------------------------------------------------------------------ archive
    def save(self, path, comm=None):
        """Write the ROM archive at ``path`` (atomic: temporary name, renamed when complete). Collective.

        Needs the distributed operators of an offline build (the modes); a loaded model is saved by
        copying its archive instead.
        """
        from ..io.archive import Archive
        comm = comm or self.comm
        if self.operators is None or self.mesh is None:
            raise InputError("ReducedModel.save: this model was loaded from an archive; copy the archive "
                             f"({self.path}) instead")
        with Archive.create(path, comm, attrs={"content": "rom"}) as ar:
            ar.write_mesh(self.mesh)
            self.operators.write(ar)
            self.write_reduced(ar)
        self.path = os.fspath(path)

    def write_reduced(self, ar, root="rom"):
        """Write the replicated ``/rom`` part into an open, writable archive (under ``root``: another group
        name lets one archive hold several models, e.g. a ROM dictionary). Collective."""
        p = self.points
        ar.require_group(f"{root}/points")
        for name in PointData.ARRAYS:
            ar.write_array(f"{root}/points/{name}", np.asarray(getattr(p, name)))
        for f, d in self.duals.items():
            d.fit.to_archive(ar, f"{root}/dual/{f}")
            ar.write_array(f"{root}/dual/{f}/qdeim_ids", np.asarray(d.qdeim_ids, np.int64))
        meta = {"quadrature": self.quadrature,
                "duals": {f: {"n_modes": d.n_modes, "components": list(d.components)}
                          for f, d in self.duals.items()}}
        c = self.case
        if c is not None:
            meta["case"] = {"groups": c.groups, "dirichlet": [list(k) for k in c.dirichlet],
                            "pressure": sorted(c.pressure), "body": sorted(int(g) for g in c.body),
                            "load_types": list(c.load_types), "temperature": c.temperature,
                            "training": c.training}
            for s, v in c.pressure.items():
                ar.write_array(f"{root}/loads/pressure/{s}", np.asarray(v))
            for g, (const, lin) in c.body.items():
                ar.write_array(f"{root}/loads/body/{int(g)}/constant", np.asarray(const))
                ar.write_array(f"{root}/loads/body/{int(g)}/linear", np.asarray(lin))
        if self.calibration:
            meta["calibration"] = {f: json.loads(c.to_json()) for f, c in self.calibration.items()}
        ar.write_array(f"{root}/meta", np.frombuffer(json.dumps(_jsonable(meta)).encode(), dtype=np.uint8))
        ar.set_attrs(root, {"format_version": FORMAT_VERSION, "mesh_hash": self.mesh_hash,
                             "n_nodes": self.n_nodes, "n_ip": self.n_ip, "n_modes": self.n_modes,
                             "n_points": self.n_points, "n_liftings": self.n_liftings,
                             "has_case": int(c is not None)})

    @classmethod
    def load(cls, path, comm=None, root="rom"):
        """Read the replicated part of a ROM archive (any rank count; the modes stay on disk). Collective.

        A file that is not a ROM archive, of another format version, or truncated raises
        :class:`InputError` naming the file and what is wrong. ``root``: the group of the model (``rom``;
        a ROM dictionary holds several: :mod:`dromo.uq.dictionary`).
        """
        from ..io.archive import Archive
        from ..parallel.errors import collective
        from ..reduction.eim import GappyFit
        comm = comm or MPI.COMM_WORLD
        path = os.fspath(path)
        with Archive.open(path, comm) as ar:
            with collective(comm):
                if not ar.has(root) or not ar.has(f"{root}/meta"):
                    raise InputError(f"{path}: not a ROM archive (no /rom group: build one with `dromo offline`"
                                     f" or `dromo hyperreduce`)")
            attrs = ar.get_attrs(root)
            with collective(comm):
                v = int(attrs.get("format_version", 0))
                if v != FORMAT_VERSION:
                    raise InputError(f"{path}: ROM archive format version {v}, this dromo reads version "
                                     f"{FORMAT_VERSION}: rebuild it with this version's `dromo offline`")
            try:
                meta = json.loads(bytes(ar.read_array(f"{root}/meta")).decode())
                arrays = {name: ar.read_array(f"{root}/points/{name}") for name in PointData.ARRAYS}
                duals = {}
                for f, d in meta["duals"].items():
                    duals[f] = DualField(f, GappyFit.from_archive(ar, f"{root}/dual/{f}"), int(d["n_modes"]),
                                         list(d["components"]), ar.read_array(f"{root}/dual/{f}/qdeim_ids"))
                case = None
                if "case" in meta:
                    c = meta["case"]
                    pressure = {s: ar.read_array(f"{root}/loads/pressure/{s}") for s in c["pressure"]}
                    body = {int(g): (ar.read_array(f"{root}/loads/body/{g}/constant"),
                                     ar.read_array(f"{root}/loads/body/{g}/linear")) for g in c["body"]}
                    case = CaseTerms(c["groups"], [tuple(k) for k in c["dirichlet"]], pressure, body,
                                     c["load_types"], c["temperature"], c.get("training", {}))
            except (KeyError, ValueError, OSError) as e:
                raise InputError(f"{path}: damaged ROM archive ({type(e).__name__}: {e})") from None
        rom = cls(attrs["mesh_hash"], attrs["n_nodes"], attrs["n_ip"], PointData(**arrays), duals,
                  meta["quadrature"], case, comm)
        rom.path = path
        rom.root = root
        if "calibration" in meta:
            from .indicator import Calibration
            c = meta["calibration"]
            try:
                rom.calibration = {c["field"]: Calibration(**c)} if "field" in c else \
                    {f: Calibration(**v) for f, v in c.items()}
            except TypeError as e:
                raise InputError(f"{path}: damaged calibration of the error indicator ({e})") from None
        return rom

    def save_calibration(self, calibration, output=None):
        """Store ``calibration`` (:class:`~dromo.rom.indicator.Calibration` of the indicator of one dual field,
        replacing an earlier one of that field) in the model's archive, in place (atomically) or in a copy at
        ``output``. Collective."""
        import shutil
        from ..io.archive import Archive
        self.calibration = dict(self.calibration, **{calibration.field: calibration})
        target = os.fspath(output or self.path)
        if target != self.path:
            from ..parallel.errors import collective
            with collective(self.comm):
                if self.comm.rank == 0:
                    shutil.copyfile(self.path, target + ".copying")
                    os.replace(target + ".copying", target)
        with Archive.open(target, self.comm, mode="a") as ar:
            meta = json.loads(bytes(ar.read_array("rom/meta")).decode())
            meta["calibration"] = {f: json.loads(c.to_json()) for f, c in self.calibration.items()}
            ar.write_array("rom/meta", np.frombuffer(json.dumps(_jsonable(meta)).encode(), dtype=np.uint8))
        self.path = target

    # ------------------------------------------------------------------ online
    def check_mesh(self, mesh_hash, where):
        """InputError unless ``mesh_hash`` (:meth:`MeshData.fingerprint`) is this model's mesh."""
        if mesh_hash != self.mesh_hash:
            raise InputError(f"{where}: the mesh is not the one the ROM {self.path or ''} was built on "
                             f"(fingerprint {mesh_hash[:12]}…, the ROM's {self.mesh_hash[:12]}…)")

    def solve(self, case, output=None, reconstruct=(), comm=None):
        """Solve a case (a case-file path or a :func:`~dromo.hf.case_file.read_case` dict) with the
        reduced Newton solver; returns a :class:`~dromo.rom.online.ReducedResult`. Collective.

        ``output``: write the result archive there (with ``reconstruct`` fields: full U, S, p, ...)."""
        from .online import solve
        res = solve(self, case, comm or self.comm)
        if output is not None:
            from .result import write_result
            write_result(self, res, output, fields=reconstruct, comm=comm or self.comm)
        return res

    def reconstruct(self, result, fields=("U",), output=None, comm=None):
        """Full fields of a reduced result on the mesh; see :func:`dromo.rom.result.write_result`."""
        from .result import write_result
        if output is None:
            raise InputError("ReducedModel.reconstruct: give the output archive path")
        return write_result(self, result, output, fields=fields, comm=comm or self.comm)


def _jsonable(x):
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, np.generic):
        return x.item()
    return x
