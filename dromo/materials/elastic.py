"""Linear thermo-elasticity: isotropic, cubic and orthotropic (Mandel notation, small strain).

σ = C(T) : (ε − ε_th(T)),   ε_th(T) = α(T) (T − T_ref)   (secant expansion coefficient; isotropic α
or one per material axis α1, α2, α3). Units: stresses in the case's stress unit (e.g. MPa), α in 1/K.

Law dict (``make_law``)::

    {"type": "elastic", "E": 200e3, "nu": 0.3, "alpha": 1.2e-5, "T_ref": 293.0}
    {"type": "elastic", "symmetry": "cubic", "C11": ..., "C12": ..., "C44": ...}
    {"type": "elastic", "symmetry": "orthotropic", "E1":..,"E2":..,"E3":..,"nu12":..,"nu13":..,"nu23":..,
                                                   "G12":..,"G13":..,"G23":..}
    {"type": "elastic", "symmetry": "orthotropic", "C1111":..,"C1122":..,"C2222":..,"C1133":..,"C2233":..,
                                                   "C3333":..,"C1212":..,"C1313":..,"C2323":..}

C44 / C1212 are tensor components (σ12 = 2 C1212 ε12, i.e. C1212 = G12), as in CalculiX. Every
parameter may be a temperature table (:mod:`dromo.materials.tables`). Material axes = global axes.
State: none (``n_state = 0``).
"""
import numpy as np

from ..errors import InputError
from . import tensors as tn
from .base import Law, check_parameters
from .tables import Param, poisson, positive

ORTHO_TENSOR = ("C1111", "C1122", "C2222", "C1133", "C2233", "C3333", "C1212", "C1313", "C2323")
ORTHO_ENG = ("E1", "E2", "E3", "nu12", "nu13", "nu23", "G12", "G13", "G23")

#: Keys every law takes (the case-file reference, docs/case-file.md, is generated from these tables).
COMMON = {"type": "the law: elastic, von_mises (aliases viscoplastic, chaboche), aniso_plas, umat",
          "name": "material name in messages (default: the [materials.NAME] table name)"}
#: Thermal expansion keys (elastic, von_mises, aniso_plas, umat).
THERMAL = {"alpha": "secant expansion coefficient α(T) [1/K]: a number, a temperature table, or 3 values "
                    "(α1, α2, α3 along x, y, z); default none",
           "T_ref": "reference temperature of the expansion (default 0)"}
#: Parameters of ``type = "elastic"`` (each number may be a temperature table).
PARAMETERS = dict(COMMON, **{
    "symmetry": "isotropic (default: E, nu) | cubic (C11, C12, C44) | orthotropic (the nine C1111 ... C2323, "
                "or the nine E1 ... G23)",
    "E": "Young's modulus (isotropic)", "nu": "Poisson's ratio (isotropic)",
    "C11": "cubic stiffness C11", "C12": "cubic stiffness C12", "C44": "cubic shear stiffness C44 (tensor)",
    **{k: f"orthotropic stiffness {k} (tensor components, C1212 = G12)" for k in ORTHO_TENSOR},
    **{k: f"orthotropic engineering constant {k}" for k in ORTHO_ENG}}, **THERMAL)


class ThermalStrain:
    """ε_th(T) = α(T)(T − T_ref) as Mandel ``(n, 6)``; isotropic α or (α1, α2, α3)."""

    def __init__(self, d, prefix):
        a = d.get("alpha", None)
        self.T_ref = float(d.get("T_ref", 0.0))
        if a is None:
            self.alphas = None
        elif isinstance(a, (list, tuple)) and len(a) == 3 and not isinstance(a[0], (list, tuple)):
            self.alphas = [Param(f"{prefix}.alpha[{i}]", v) for i, v in enumerate(a)]
        else:
            p = Param(f"{prefix}.alpha", a)
            self.alphas = [p, p, p]

    def __call__(self, T):
        """Mandel thermal strain at temperatures T ``(n,)``, or None when there is no expansion."""
        if self.alphas is None:
            return None
        e = np.zeros((T.shape[0], 6))
        dT = T - self.T_ref
        for i, a in enumerate(self.alphas):
            e[:, i] = a(T) * dT
        return e


def _check_ortho_stiffness(C, name):
    ev = np.linalg.eigvalsh(C)
    if np.any(ev <= 0):
        raise InputError(f"material {name!r}: elastic stiffness is not positive definite "
                         f"(eigenvalues {np.round(ev, 6).tolist()})")


class ElasticStiffness:
    """Builds the Mandel stiffness C(T) from the dict of an elastic (or elastoplastic) law.

    ``self(T)`` returns ``(6, 6)`` when no parameter depends on temperature, else ``(n, 6, 6)``.
    ``isotropic``: whether (E, ν) were given (then ``E_nu(T)`` gives them).
    """

    def __init__(self, d, prefix, default="isotropic"):
        sym = d.get("symmetry", default)
        self.symmetry = sym
        self.isotropic = sym == "isotropic"
        if sym == "isotropic":
            self.params = [Param(f"{prefix}.E", _req(d, "E", prefix), positive),
                           Param(f"{prefix}.nu", _req(d, "nu", prefix), poisson)]
            self._build = lambda E, nu: tn.isotropic_stiffness(np.asarray(E)[..., None, None], np.asarray(nu)[..., None, None])
        elif sym == "cubic":
            self.params = [Param(f"{prefix}.{k}", _req(d, k, prefix)) for k in ("C11", "C12", "C44")]
            self._build = lambda c11, c12, c44: tn.orthotropic_stiffness_from_constants(
                c11, c12, c11, c12, c12, c11, c44, c44, c44)
        elif sym == "orthotropic":
            if all(k in d for k in ORTHO_TENSOR):
                self.params = [Param(f"{prefix}.{k}", d[k]) for k in ORTHO_TENSOR]
                self._build = tn.orthotropic_stiffness_from_constants
            elif all(k in d for k in ORTHO_ENG):
                self.params = [Param(f"{prefix}.{k}", d[k], positive if k[0] in "EG" else None) for k in ORTHO_ENG]
                self._build = lambda *a: np.linalg.inv(tn.orthotropic_compliance_engineering(*a))
            else:
                raise InputError(f"material {prefix!r}: orthotropic elasticity needs all of {ORTHO_TENSOR} "
                                 f"or all of {ORTHO_ENG}")
        else:
            raise InputError(f"material {prefix!r}: unknown elastic symmetry {sym!r} "
                             f"(isotropic, cubic, orthotropic)")
        self.constant = all(p.constant for p in self.params)
        self.name = prefix
        # check positive definiteness at every table node (nodes of all parameters)
        temps = sorted({t for p in self.params if not p.constant for t in p.temps})
        if temps:
            lo = max(p.temps[0] for p in self.params if not p.constant)
            hi = min(p.temps[-1] for p in self.params if not p.constant)
            temps = [t for t in temps if lo <= t <= hi] or [lo]
            for C in self(np.asarray(temps, dtype=float)):
                _check_ortho_stiffness(C, prefix)
        else:
            _check_ortho_stiffness(self(np.zeros(1)), prefix)

    def __call__(self, T):
        if self.constant:
            return self._build(*[p(0.0) for p in self.params])
        T = np.asarray(T, dtype=float)
        vals = [np.broadcast_to(np.asarray(p(T), dtype=float), T.shape) for p in self.params]
        return self._build(*vals)

    def E_nu(self, T):
        """(E, ν) at T (floats if constant): isotropic only."""
        return self.params[0](T), self.params[1](T)


def _req(d, key, prefix):
    if key not in d:
        raise InputError(f"material {prefix!r}: missing parameter {key!r}")
    return d[key]


class Elastic(Law):
    """Linear thermo-elastic law (see the module docstring)."""

    def __init__(self, d, name="elastic"):
        self.name = d.get("name", name)
        check_parameters(d, PARAMETERS, f"material {self.name!r}")
        self.stiffness = ElasticStiffness(d, self.name)
        self.thermal = ThermalStrain(d, self.name)
        self.state_names, self.state_sizes = [], {}
        self._layout()
        self._C = self.stiffness(np.zeros(1)) if self.stiffness.constant else None

    def _update_chunk(self, eps_old, deps, state_old, T_old, T_new, dt, time, out):
        e = eps_old + deps
        eth = self.thermal(T_new)
        if eth is not None:
            e -= eth
        if self._C is not None:
            np.matmul(e, self._C.T, out=out.stress)
            out.tangent[...] = self._C
        else:
            C = self.stiffness(T_new)
            np.einsum("nij,nj->ni", C, e, out=out.stress)
            out.tangent[...] = C
        out.failed[:] = False
