"""External laws with the Abaqus ``UMAT`` calling convention, loaded at run time with ctypes.

Law dict::

    {"type": "umat", "library": "/path/libmylaw.so", "symbol": "umat_", "name": "MYLAW",
     "props": [210e3, 0.3, ...], "nstatv": 13,
     "state": [{"name": "p", "size": 1}, {"name": "eps_p", "size": 6, "kind": "strain"},
               {"name": "X", "size": 6, "kind": "stress"}],        # optional naming of STATEV
     "alpha": 1.2e-5, "T_ref": 293.0}                               # optional thermal expansion

Conventions at the boundary (converted here, vectorized, before and after the calls):

* ``STRESS`` Voigt tensor components, ``STRAN``/``DSTRAN`` engineering shear (γ = 2 ε), order
  11, 22, 33, 12, 13, 23; ``DDSDDE(I, J) = ∂Δσ_I/∂Δε_J`` in Fortran (column-major) order;
* STATEV entries declared with ``"kind": "strain"`` (engineering shear) or ``"kind": "stress"``
  (tensor components) are stored in dromo's state in Mandel notation; others are copied as they are;
* STRAN/DSTRAN are *mechanical* strains: dromo subtracts α(T)(T − T_ref) (if ``alpha`` is given), as
  Abaqus does with ``*EXPANSION``; TEMP = T_old, DTEMP = T_new − T_old; TIME(1) = TIME(2) = ``time``
  (total time at the start of the increment); NDI = 3, NSHR = 3, NTENS = 6; NOEL = point index + 1,
  NPT = 1; CMNAME is ``name`` padded to 80 characters (the hidden Fortran length argument is passed).
* ``PNEWDT < 1`` returned by the UMAT, or any non-finite output, marks the point ``failed``; non-finite
  values of a failed point are replaced by its values at the start of the increment.

The stress at the start of the increment is part of the state (first internal variable ``stress``,
Mandel), since a UMAT updates STRESS in place.

Performance: the user's library exports only ``umat_``, so the loop over points runs in a small C
driver shipped with dromo (``umat_driver.c``), compiled with the system C compiler on first use into
``$DROMO_CACHE`` (default ``~/.cache/dromo``, :mod:`dromo.materials.cbuild`) and called once per block of points with the UMAT's
function pointer. Without a C compiler, dromo falls back to a Python loop of ctypes calls (one call
per point, preallocated buffers) and logs a warning; ``benchmarks/materials.py`` measures both
(figures ``us_per_point_umat_*``).
"""
import ctypes
import os

import numpy as np

from ..errors import InputError
from . import tensors as tn
from .base import Law, check_parameters
from .cbuild import compiled_library
from .elastic import COMMON, THERMAL, ThermalStrain

_NARGS = 37
_VOIGT_E = np.array([1.0, 1.0, 1.0, tn.SQ2, tn.SQ2, tn.SQ2])     # Mandel -> engineering strain
_WW = np.outer(tn.W, tn.W)


def point_loop_driver():
    """The compiled C point loop (ctypes function), or None when no C compiler is available."""
    lib = compiled_library("materials/umat_driver.c", what="UMAT point-loop driver (else a Python loop)")
    if lib is None:
        return None
    fn = lib.dromo_umat_loop
    fn.restype = None
    fn.argtypes = [ctypes.c_void_p, ctypes.c_long] + [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_long] + \
        [ctypes.c_void_p] * 7 + [ctypes.c_double, ctypes.c_double, ctypes.c_int, ctypes.c_void_p,
                                 ctypes.c_int, ctypes.c_char_p]
    return fn


def load_umat(path, symbol="umat_"):
    """Load ``symbol`` from the shared library ``path``; InputError naming the file/symbol otherwise."""
    if not isinstance(path, (str, os.PathLike)) or not os.path.isfile(path):
        raise InputError(f"UMAT library {path!r}: file not found")
    try:
        lib = ctypes.CDLL(os.path.abspath(path))
    except OSError as exc:
        raise InputError(f"UMAT library {path!r} cannot be loaded: {exc}") from None
    try:
        fn = getattr(lib, symbol)
    except AttributeError:
        raise InputError(f"UMAT library {path!r} has no symbol {symbol!r}") from None
    fn.restype = None
    fn.argtypes = [ctypes.c_void_p] * _NARGS + [ctypes.c_size_t]
    return lib, fn


#: Parameters of ``type = "umat"``, and of the entries of its ``state`` list.
PARAMETERS = dict(COMMON, **{
    "library": "path of the UMAT shared library",
    "symbol": "exported name of the subroutine (default umat_)",
    "props": "PROPS array (list of numbers)", "nstatv": "number of state variables (STATEV)",
    "state": "optional naming of STATEV: a list of tables {name, size, kind}",
    "cmname": "CMNAME passed to the UMAT (default: the material name)",
    "python_loop": "call the UMAT from a Python loop instead of the C driver (tests; default false)"},
    **THERMAL)
STATE = {"name": "internal variable name (as written to archives)", "size": "number of STATEV entries (default 1)",
         "kind": "plain (default) | strain (engineering shear) | stress (tensor components): 6-entry "
                 "tensors stored in Mandel"}


class UmatLaw(Law):
    """A user's compiled UMAT used like a built-in law (see the module docstring)."""

    def __init__(self, d, name="umat"):
        self.name = d.get("name", name)
        pre = self.name
        check_parameters(d, PARAMETERS, f"material {pre!r}")
        for k, item in enumerate(d.get("state") or []):
            if isinstance(item, dict):
                check_parameters(item, STATE, f"material {pre!r} state[{k}]")
        if "library" not in d:
            raise InputError(f"material {pre!r}: missing 'library' (path of the UMAT shared library)")
        self.library = str(d["library"])
        self.symbol = d.get("symbol", "umat_")
        self._lib, self._fn = load_umat(self.library, self.symbol)
        props = np.asarray(d.get("props", []), dtype=float).ravel()
        if not np.all(np.isfinite(props)):
            raise InputError(f"material {pre!r}: non-finite value in 'props'")
        self.props = np.ascontiguousarray(props if props.size else np.zeros(1))
        self.nprops = int(props.size)
        if "nstatv" not in d:
            raise InputError(f"material {pre!r}: missing 'nstatv' (number of UMAT state variables)")
        self.nstatv = int(d["nstatv"])
        if self.nstatv < 0:
            raise InputError(f"material {pre!r}: 'nstatv' must be >= 0")
        self.thermal = ThermalStrain(d, pre)
        decl = d.get("state", None)
        names, sizes, kinds = ["stress"], {"stress": 6}, {}
        if decl is None:
            if self.nstatv:
                names.append("statev")
                sizes["statev"] = self.nstatv
        else:
            tot = 0
            for k, item in enumerate(decl):
                try:
                    nm, sz = str(item["name"]), int(item.get("size", 1))
                except (KeyError, TypeError, ValueError):
                    raise InputError(f"material {pre!r}: state[{k}] needs 'name' and 'size'") from None
                kind = item.get("kind", "plain")
                if kind not in ("plain", "strain", "stress") or (kind != "plain" and sz != 6):
                    raise InputError(f"material {pre!r}: state[{k}] kind {kind!r} (plain, or strain/stress of size 6)")
                if nm in sizes:
                    raise InputError(f"material {pre!r}: duplicate state variable {nm!r}")
                names.append(nm)
                sizes[nm] = sz
                kinds[nm] = (tot, kind)
                tot += sz
            if tot > self.nstatv:
                raise InputError(f"material {pre!r}: declared state sizes sum to {tot} > nstatv={self.nstatv}")
            if tot < self.nstatv:
                names.append("statev_rest")
                sizes["statev_rest"] = self.nstatv - tot
        self._kinds = kinds
        self.state_names, self.state_sizes = names, sizes
        self._layout()
        cm = str(d.get("cmname", pre)).upper().encode()[:80].ljust(80)
        self._cmname = ctypes.create_string_buffer(cm, 80)
        self.chunk_size = 1 << 30          # one pass: the loop is per point anyway
        self.python_loop = bool(d.get("python_loop", False))   # force the Python fallback (tests)

    # statev (raw, Abaqus conventions) <-> dromo state (Mandel for declared tensors)
    def _to_raw(self, sv):
        raw = np.array(sv, dtype=float, order="C")
        for nm, (o, kind) in self._kinds.items():
            if kind == "strain":
                raw[:, o:o + 6] *= _VOIGT_E
            elif kind == "stress":
                raw[:, o:o + 6] /= tn.W
        return raw

    def _from_raw(self, raw):
        sv = raw.copy()
        for nm, (o, kind) in self._kinds.items():
            if kind == "strain":
                sv[:, o:o + 6] /= _VOIGT_E
            elif kind == "stress":
                sv[:, o:o + 6] *= tn.W
        return sv

    def _update_chunk(self, eps_old, deps, state_old, T_old, T_new, dt, time, out):
        n = eps_old.shape[0]
        eps0, de = eps_old, deps
        eth0, eth1 = self.thermal(T_old), self.thermal(T_new)
        if eth0 is not None:
            eps0 = eps0 - eth0
            de = de - (eth1 - eth0)
        stran = np.ascontiguousarray(eps0 * _VOIGT_E)
        dstran = np.ascontiguousarray(de * _VOIGT_E)
        stress = np.ascontiguousarray(state_old[:, :6] / tn.W)
        statev = self._to_raw(state_old[:, 6:]) if self.nstatv else np.zeros((n, 1))
        ddsdde = np.zeros((n, 36))
        temp = np.ascontiguousarray(np.broadcast_to(T_old, (n,)), dtype=float)
        dtemp = np.ascontiguousarray(np.broadcast_to(T_new - T_old, (n,)), dtype=float)
        pnewdt = np.ones(n)
        noel = np.arange(1, n + 1, dtype=np.int32)
        self._call_all(stress, statev, ddsdde, stran, dstran, temp, dtemp, pnewdt, noel, dt, time)
        D = ddsdde.reshape(n, 6, 6).transpose(0, 2, 1) * _WW
        sig = stress * tn.W
        new_sv = self._from_raw(statev) if self.nstatv else np.zeros((n, 0))
        failed = pnewdt < 1.0
        bad = ~(np.isfinite(sig).all(1) & np.isfinite(new_sv).all(1) & np.isfinite(D).all((1, 2)))
        failed |= bad
        if bad.any():
            sig[bad] = state_old[bad, :6]
            new_sv[bad] = state_old[bad, 6:]
            D[bad] = np.nan_to_num(D[bad], nan=0.0, posinf=0.0, neginf=0.0)
        out.stress[...] = sig
        out.state[:, :6] = sig
        out.state[:, 6:] = new_sv[:, :self.nstatv]
        out.tangent[...] = D
        out.failed[:] = failed
        out.nonfinite[:] = bad

    def _call_all(self, stress, statev, ddsdde, stran, dstran, temp, dtemp, pnewdt, noel, dt, time):
        """Call the UMAT at every point: in the C driver when it is available, else in Python."""
        driver = None if self.python_loop else point_loop_driver()
        if driver is not None:
            assert statev.flags.c_contiguous and stress.flags.c_contiguous
            driver(ctypes.cast(self._fn, ctypes.c_void_p), stress.shape[0], stress.ctypes.data,
                   statev.ctypes.data, statev.shape[1], ddsdde.ctypes.data, stran.ctypes.data,
                   dstran.ctypes.data, temp.ctypes.data, dtemp.ctypes.data, pnewdt.ctypes.data,
                   noel.ctypes.data, float(time), float(dt), self.nstatv, self.props.ctypes.data,
                   self.nprops, self._cmname.raw)
            return
        self._python_loop(stress, statev, ddsdde, stran, dstran, temp, dtemp, pnewdt, noel, dt, time)

    def _python_loop(self, stress, statev, ddsdde, stran, dstran, temp, dtemp, pnewdt, noel, dt, time):
        """Fallback: one ctypes call per point with preallocated buffers (addresses)."""
        n = stress.shape[0]
        c_d = lambda v: np.array(v, dtype=float)
        c_i = lambda v: np.array(v, dtype=np.int32)
        keep = dict(sse=c_d([0.0]), spd=c_d([0.0]), scd=c_d([0.0]), rpl=c_d([0.0]), ddsddt=c_d(np.zeros(6)),
                    drplde=c_d(np.zeros(6)), drpldt=c_d([0.0]), time=c_d([time, time]), dtime=c_d([dt]),
                    predef=c_d([0.0]), dpred=c_d([0.0]), ndi=c_i([3]), nshr=c_i([3]), ntens=c_i([6]),
                    nstatv=c_i([max(self.nstatv, 1)]), nprops=c_i([self.nprops]), coords=c_d(np.zeros(3)),
                    drot=c_d(np.eye(3)), celent=c_d([1.0]), dfgrd0=c_d(np.eye(3)), dfgrd1=c_d(np.eye(3)),
                    npt=c_i([1]), layer=c_i([1]), kspt=c_i([1]), kstep=c_i([1]), kinc=c_i([1]))
        A = {k: v.ctypes.data for k, v in keep.items()}
        props = self.props.ctypes.data
        cm = ctypes.addressof(self._cmname)

        def addrs(a):
            return (a.ctypes.data + np.arange(n, dtype=np.int64) * a.strides[0]).tolist()

        fn = self._fn
        for a_s, a_v, a_d, a_e, a_de, a_t, a_dt, a_pn, a_el in zip(
                addrs(stress), addrs(statev), addrs(ddsdde), addrs(stran), addrs(dstran), addrs(temp),
                addrs(dtemp), addrs(pnewdt), addrs(noel)):
            fn(a_s, a_v, a_d, A["sse"], A["spd"], A["scd"], A["rpl"], A["ddsddt"], A["drplde"], A["drpldt"],
               a_e, a_de, A["time"], A["dtime"], a_t, a_dt, A["predef"], A["dpred"], cm, A["ndi"], A["nshr"],
               A["ntens"], A["nstatv"], props, A["nprops"], A["coords"], A["drot"], a_pn, A["celent"],
               A["dfgrd0"], A["dfgrd1"], a_el, A["npt"], A["layer"], A["kspt"], A["kstep"], A["kinc"], 80)
        del keep
