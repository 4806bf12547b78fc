"""Von Mises (visco)plasticity with isotropic elasticity, mixed hardening, backward-Euler return map.

Model (small strain, Mandel notation, stresses in the case unit e.g. MPa)::

    σ = λ tr(εᵉ) I + 2G εᵉ,   εᵉ = ε − εᵖ − ε_th(T)                 (E, ν; ε_th as in elastic.py)
    f = J(s − X) − R(p),      J(a) = √(3/2 a:a),  s = dev σ
    R(p) = R0 + H p + Σ_j Q_j (1 − exp(−b_j p))                      linear + Voce terms (summable)
    X = Σ_i X_i,  X_i = (2/3) C_i α_i,  α̇_i = ε̇ᵖ − D_i ṗ α_i       Prager (D_i = 0) / Armstrong–Frederick
    ε̇ᵖ = ṗ n,  n = (3/2)(s − X)/J(s − X)
    rate-independent:  f ≤ 0, ṗ ≥ 0, ṗ f = 0
    Norton overstress: ṗ = ⟨f / K⟩ⁿ
    power (CalculiX ANISO_PLAS form):  ṗ = A ⟨f⟩ⁿ tᵐ   (t = total time at the start of the increment)

Internal variables: ``p`` (1), ``eps_p`` (6, Mandel), ``alpha_1 … alpha_k`` (6 each, strain-like
kinematic variables; back stress X_i = 2/3 C_i α_i).

Integration: backward Euler, flow direction at the end of the increment. With isotropic elasticity the
problem reduces to one scalar equation per point (s − X stays parallel to its "trial" value
ξ_tr(Δp) = s_tr − Σ_i X̃_i/(1 + D_i Δp), X̃_i = 2/3 C_i(T_new) α_i,n)::

    F = J(ξ_tr(Δp)) − [3G + Σ_i C_i/(1 + D_i Δp)] Δp − R(p_n + Δp) − σ_v = 0

σ_v = 0 (rate-independent, unknown Δp) or σ_v = K (Δp/Δt)^{1/n} (viscous, unknown σ_v). Linear
hardening without viscosity is solved in closed form (radial return); otherwise by the safeguarded
vectorized Newton of :mod:`dromo.materials.newton`. The consistent tangent is closed-form.
Viscous laws with ``dt = 0`` respond elastically. Parameters are evaluated at ``T_new``.

Speed: the point update runs in C (``vonmises_kernel.c``, compiled on first use by
:mod:`dromo.materials.cbuild`; the same algorithm step for step, equal to the numpy path to round-off,
``tests/materials/test_vonmises_kernel.py``): 2× the numpy path on large chunks, 4–5× on the few hundred
points of a reduced model. Without a C compiler (or with ``DROMO_NO_CC=1``) the numpy path runs.

Law dict::

    {"type": "von_mises", "E": 200e3, "nu": 0.3, "R0": 250.0, "H": 1000.0,
     "voce": [{"Q": 100.0, "b": 20.0}],
     "kinematic": [{"C": 50e3, "D": 500.0}, {"C": 5e3}],
     "flow": {"type": "norton", "K": 150.0, "n": 5.0},       # or "rate_independent" (default),
                                                            # or {"type": "power", "A":…, "n":…, "m": 0}
     "alpha": 1.2e-5, "T_ref": 293.0,
     "local_rtol": 1e-11, "max_iterations": 60}
"""
import ctypes

import numpy as np

from ..errors import InputError
from . import tensors as tn
from .base import Law, check_parameters, col
from .cbuild import compiled_library
from .elastic import COMMON, THERMAL, ThermalStrain
from .newton import solve_decreasing
from .tables import Param, at_least_one, nonnegative, poisson, positive

_IDEV33 = tn.IDEV[:3, :3].copy()


def _take(v, idx):
    return v if np.ndim(v) == 0 else v[idx]


def _as_list(x):
    if x is None:
        return []
    if isinstance(x, dict):
        return [x]
    return list(x)


#: Parameters of ``type = "von_mises"`` (numbers may be temperature tables), and of its sub-tables.
PARAMETERS = dict(COMMON, **{
    "E": "Young's modulus", "nu": "Poisson's ratio", "R0": "initial yield stress",
    "H": "linear isotropic hardening modulus (default 0)",
    "voce": "Voce isotropic hardening terms: a table or a list of tables {Q, b}",
    "kinematic": "back stresses: a table or a list of tables {C, D} (Prager when D = 0, else "
                 "Armstrong-Frederick)",
    "flow": "\"rate_independent\" (default), or a table {type = \"norton\", K, n} or "
            "{type = \"power\", A, n, m}",
    "symmetry": "isotropic only (the default)",
    "local_rtol": "relative tolerance of the point-wise Newton (default 1e-11)",
    "max_iterations": "iterations of the point-wise Newton (default 60)"}, **THERMAL)
VOCE = {"Q": "saturation of the Voce term", "b": "rate of the Voce term"}
KINEMATIC = {"C": "modulus of the back stress (X = 2/3 C α)", "D": "dynamic recovery (default 0)"}
FLOW = {"type": "rate_independent | norton | power", "K": "Norton: drag stress", "n": "Norton/power: exponent",
        "A": "power: factor A of ṗ = A ⟨f⟩ⁿ tᵐ", "m": "power: time exponent (default 0)"}


class VonMises(Law):
    """Von Mises elasto(visco)plastic law (see the module docstring)."""

    def __init__(self, d, name="von_mises"):
        self.name = d.get("name", name)
        pre = self.name
        check_parameters(d, PARAMETERS, f"material {pre!r}")
        for key, known in (("voce", VOCE), ("kinematic", KINEMATIC)):
            for j, sub in enumerate(_as_list(d.get(key))):
                if not isinstance(sub, dict):
                    raise InputError(f"material {pre!r}: {key}[{j}] must be a table of {sorted(known)}")
                check_parameters(sub, known, f"material {pre!r} {key}[{j}]")
        if isinstance(d.get("flow"), dict):
            check_parameters(d["flow"], FLOW, f"material {pre!r} flow")
        if d.get("symmetry", "isotropic") != "isotropic":
            raise InputError(f"material {pre!r}: von_mises supports isotropic elasticity only "
                             f"(use aniso_plas for orthotropic elasticity)")
        for k in ("E", "nu", "R0"):
            if k not in d:
                raise InputError(f"material {pre!r}: missing parameter {k!r}")
        self.E = Param(f"{pre}.E", d["E"], positive)
        self.nu = Param(f"{pre}.nu", d["nu"], poisson)
        self.R0 = Param(f"{pre}.R0", d["R0"], nonnegative)
        self.H = Param(f"{pre}.H", d.get("H", 0.0))
        self.voce = [(Param(f"{pre}.voce[{j}].Q", v["Q"]), Param(f"{pre}.voce[{j}].b", v["b"], positive))
                     for j, v in enumerate(_as_list(d.get("voce")))]
        self.kin = [(Param(f"{pre}.kinematic[{i}].C", k["C"], nonnegative),
                     Param(f"{pre}.kinematic[{i}].D", k.get("D", 0.0), nonnegative))
                    for i, k in enumerate(_as_list(d.get("kinematic")))]
        flow = d.get("flow", "rate_independent")
        if isinstance(flow, str):
            flow = {"type": flow}
        self.flow_type = flow.get("type", "rate_independent")
        if self.flow_type == "rate_independent":
            self.viscous = False
        elif self.flow_type == "norton":
            self.viscous = True
            self.K = Param(f"{pre}.flow.K", _get(flow, "K", pre), positive)
            self.n = Param(f"{pre}.flow.n", _get(flow, "n", pre), at_least_one)
        elif self.flow_type == "power":
            self.viscous = True
            self.A = Param(f"{pre}.flow.A", _get(flow, "A", pre), positive)
            self.n = Param(f"{pre}.flow.n", _get(flow, "n", pre), at_least_one)
            self.m = Param(f"{pre}.flow.m", flow.get("m", 0.0))
        else:
            raise InputError(f"material {pre!r}: unknown flow type {self.flow_type!r} "
                             f"(rate_independent, norton, power)")
        self.thermal = ThermalStrain(d, pre)
        self.rtol = float(d.get("local_rtol", 1e-11))
        self.maxit = int(d.get("max_iterations", 60))
        self.linear = (not self.viscous and not self.voce
                       and all(D.constant and D.values[0] == 0.0 for _, D in self.kin))
        self.state_names = ["p", "eps_p"] + [f"alpha_{i + 1}" for i in range(len(self.kin))]
        self.state_sizes = {"p": 1, "eps_p": 6, **{f"alpha_{i + 1}": 6 for i in range(len(self.kin))}}
        self._layout()

    # -------------------------------------------------------------------------------------------
    def back_stress(self, state, T):
        """Total back stress X = Σ 2/3 C_i(T) α_i, Mandel ``(n, 6)``."""
        X = np.zeros((state.shape[0], 6))
        for i, (C, _) in enumerate(self.kin):
            X += col(C(np.broadcast_to(T, (state.shape[0],)))) * (2.0 / 3.0) * self.state_view(state, f"alpha_{i + 1}")
        return X

    def _params(self, T, time):
        E, nu = self.E(T), self.nu(T)
        c = {"G": E / (2 * (1 + nu)), "Kb": E / (3 * (1 - 2 * nu)), "R0": self.R0(T), "H": self.H(T),
             "Q": [Q(T) for Q, _ in self.voce], "b": [b(T) for _, b in self.voce],
             "C": [C(T) for C, _ in self.kin], "D": [D(T) for _, D in self.kin]}
        if self.flow_type == "norton":
            c["K"], c["n"] = self.K(T), self.n(T)
        elif self.flow_type == "power":
            n = self.n(T)
            At = self.A(T) * np.power(time, self.m(T)) if time > 0 else self.A(T) * (self.m(T) == 0)
            with np.errstate(divide="ignore"):
                c["K"] = np.where(At > 0, np.power(np.maximum(At, 1e-300), -1.0 / n), np.inf)
            if np.ndim(c["K"]) == 0:
                c["K"] = float(c["K"])
            c["n"] = n
        return c

    def _residual(self, x, idx, c, full=False):
        """F, dF/dx at x for points idx (x = Δp, or σ_v for viscous flow); full: all intermediates."""
        G = _take(c["G"], idx)
        if self.viscous:
            K, n, dt = _take(c["K"], idx), _take(c["n"], idx), c["dt"]
            vK = x / K
            dp = dt * vK ** n
            dp_x = n * dt * vK ** (n - 1) / K
        else:
            dp, dp_x = x, 1.0
        xi = c["s_tr"][idx].copy()
        w = 0.0
        h = 3.0 * G
        hp = 0.0
        a_list = []
        for Ci, Di, Xt in zip(c["C"], c["D"], c["Xt"]):
            Ci, Di = _take(Ci, idx), _take(Di, idx)
            a = 1.0 / (1.0 + Di * dp)
            a_list.append(a)
            Xti = Xt[idx]
            xi -= col(a) * Xti
            h = h + Ci * a
            if np.any(Di != 0):
                w = w + col(Di * a * a) * Xti
                hp = hp - Ci * Di * a * a
        J = np.sqrt(1.5 * np.einsum("ij,ij->i", xi, xi))
        Js = np.where(J > 0, J, 1.0)
        nv = (1.5 / Js)[:, None] * xi
        p = c["p_n"][idx] + dp
        R = _take(c["R0"], idx) + _take(c["H"], idx) * p
        Rp = _take(c["H"], idx) + 0.0 * p
        for Q, b in zip(c["Q"], c["b"]):
            Q, b = _take(Q, idx), _take(b, idx)
            ex = np.exp(-b * p)
            R = R + Q * (1.0 - ex)
            Rp = Rp + Q * b * ex
        nw = np.einsum("ij,ij->i", nv, w) if np.ndim(w) else 0.0
        dF_ddp = nw - h - hp * dp - Rp
        F = J - h * dp - R
        if self.viscous:
            F = F - x
            dF = dF_ddp * dp_x - 1.0
        else:
            dF = dF_ddp
        if not full:
            return F, dF
        return dict(dp=dp, dp_x=dp_x, dF=dF, J=J, Js=Js, n=nv, w=w, a=a_list, G=G, F=F)

    @property
    def chunk_size(self):
        """Points per chunk: the compiled kernel has no temporaries, so its chunks are larger (fewer calls and
        parameter look-ups; the cached parameter tables stay under ``_KERNEL_CACHE_SIZE`` × 2 MB)."""
        return 16384 if max(len(self.voce), len(self.kin)) <= _KERNEL_MAX_TERMS and _kernel() is not None else 4096

    def tangent_parts_supported(self):
        """The compiled kernel gives the tangent's structure (:meth:`~dromo.materials.base.Law.update`)."""
        return max(len(self.voce), len(self.kin)) <= _KERNEL_MAX_TERMS and _kernel() is not None

    def kernel_tables(self):
        """The kernel's parameters as tables in temperature, for kernels that evaluate them per point
        (``dromo/uq/batch_newton.c``): ``(params, alphas, T_ref)`` with ``params`` the :class:`Param` of
        ``E, nu, R0, H, (Q_j, b_j)…, (C_i, D_i)…`` and, for Norton's flow rule, ``K, n`` (G and Kb follow from E
        and nu as in :meth:`_kernel_parameters`), ``alphas`` the three thermal expansion coefficients (empty
        without expansion); None where such a kernel cannot take them (the power flow rule's K depends on the
        time; more terms than the kernel's)."""
        if self.flow_type == "power" or max(len(self.voce), len(self.kin)) > _KERNEL_MAX_TERMS:
            return None
        params = [self.E, self.nu, self.R0, self.H] + [p for pair in self.voce + self.kin for p in pair]
        if self.viscous:
            params += [self.K, self.n]
        alphas = list(self.thermal.alphas or [])
        return params, alphas, self.thermal.T_ref

    def _update_chunk(self, eps_old, deps, state_old, T_old, T_new, dt, time, out):
        kernel = _kernel() if max(len(self.voce), len(self.kin)) <= _KERNEL_MAX_TERMS else None
        if kernel is not None:
            self._update_chunk_compiled(kernel, eps_old, deps, state_old, T_new, dt, time, out)
        else:
            self._update_chunk_numpy(eps_old, deps, state_old, T_new, dt, time, out)

    def _kernel_parameters(self, T_new, time):
        """The kernel's parameter columns ``(m, n_par)`` and thermal strains ``(m, 6)`` (or None) at the
        temperatures ``T_new (m,)``. The last few are kept, keyed by the temperatures' bytes (and the time,
        which the power flow rule's parameters depend on): the iterations of a Newton loop evaluate the
        law again at the same end-of-increment temperatures, and the table look-ups are then free."""
        T = np.ascontiguousarray(T_new, dtype=float)
        key = (T.tobytes(), float(time) if self.flow_type == "power" else None)
        cache = self.__dict__.setdefault("_kernel_cache", {})
        hit = cache.get(key)
        if hit is not None:
            return hit
        m = T.shape[0]
        c = self._params(T, time)
        cols = [c["G"], c["Kb"], c["R0"], c["H"]]
        for Q, b in zip(c["Q"], c["b"]):
            cols += [Q, b]
        for Ci, Di in zip(c["C"], c["D"]):
            cols += [Ci, Di]
        if self.viscous:
            cols += [c["K"], c["n"]]
        par = np.empty((m, len(cols)))
        for k, v in enumerate(cols):
            par[:, k] = v
        eth = self.thermal(T)
        if eth is not None:
            eth = np.ascontiguousarray(eth, dtype=float)
        if len(cache) >= _KERNEL_CACHE_SIZE:
            del cache[next(iter(cache))]                              # the oldest entry
        cache[key] = (par, eth)
        return par, eth

    def _update_chunk_compiled(self, kernel, eps_old, deps, state_old, T_new, dt, time, out):
        """The point loop of ``vonmises_kernel.c``: the algorithm of :meth:`_update_chunk_numpy`, in C."""
        m = eps_old.shape[0]
        par, eth = self._kernel_parameters(T_new, time)
        arrays = [np.ascontiguousarray(a, dtype=float) for a in (eps_old, deps, state_old)]
        failed = np.empty(m, dtype=np.uint8)
        full, parts = out.tangent, out.tangent_parts
        tangent = None if full is None else (full if full.flags.c_contiguous else np.empty((m, 6, 6)))
        tparts = None if parts is None else (parts if parts.flags.c_contiguous else np.empty((m, 14)))
        stress = out.stress if out.stress.flags.c_contiguous else np.empty((m, 6))
        state = out.state if out.state.flags.c_contiguous else np.empty((m, self.n_state))
        kernel(m, len(self.voce), len(self.kin), int(self.viscous), int(self.linear), float(dt), self.rtol,
               self.maxit, arrays[0].ctypes.data, arrays[1].ctypes.data, None if eth is None else eth.ctypes.data,
               arrays[2].ctypes.data, self.n_state, par.ctypes.data, par.shape[1], stress.ctypes.data,
               state.ctypes.data, None if tangent is None else tangent.ctypes.data, failed.ctypes.data,
               None if tparts is None else tparts.ctypes.data)
        for dst, src in ((full, tangent), (parts, tparts), (out.stress, stress), (out.state, state)):
            if dst is not None and dst is not src:
                dst[...] = src
        out.failed[:] = failed.astype(bool)

    def _update_chunk_numpy(self, eps_old, deps, state_old, T_new, dt, time, out):
        m = eps_old.shape[0]
        c = self._params(T_new, time)
        c["dt"] = dt
        sv = lambda s, k: self.state_view(s, k)
        e = eps_old + deps
        e -= sv(state_old, "eps_p")
        eth = self.thermal(T_new)
        if eth is not None:
            e -= eth
        tr = e[:, 0] + e[:, 1] + e[:, 2]
        G2 = col(2.0 * c["G"])
        s_tr = e * G2
        s_tr[:, :3] -= (G2 * (tr / 3.0)[:, None])
        c["s_tr"] = s_tr
        c["Xt"] = [col(2.0 / 3.0 * Ci) * sv(state_old, f"alpha_{i + 1}") for i, Ci in enumerate(c["C"])]
        p_n = sv(state_old, "p")
        c["p_n"] = p_n
        all_idx = slice(None)
        # trial yield function
        F0, _ = self._residual(np.zeros(m), all_idx, c)
        scale = np.sqrt(1.5 * np.einsum("ij,ij->i", s_tr, s_tr)) + np.abs(c["R0"]) + 1.0e-12
        plastic = F0 > 1e-13 * scale
        if self.viscous:
            Kfin = np.isfinite(c["K"]) if np.ndim(c["K"]) else np.full(m, np.isfinite(c["K"]))
            plastic &= Kfin & (dt > 0)
        x = np.zeros(m)
        failed = np.zeros(m, dtype=bool)
        idx = np.flatnonzero(plastic)
        if idx.size:
            if self.linear:
                hsum = 3.0 * c["G"] + c["H"] + sum(c["C"])
                x[idx] = F0[idx] / _take(hsum, idx)
            else:
                f0 = F0[idx]
                if self.viscous:
                    # upper bounds of σ_v: the trial overstress and K (f0 / (3G dt))^(1/n)
                    K, n, G = _take(c["K"], idx), _take(c["n"], idx), _take(c["G"], idx)
                    x0 = np.minimum(f0, K * (f0 / (3.0 * G * dt)) ** (1.0 / n))
                    hi = np.full(idx.size, np.inf)
                else:
                    x0 = np.zeros(idx.size)
                    hi = np.full(idx.size, np.inf)
                fun = lambda xa, act: self._residual(xa, idx[act], c)
                xs, conv, _ = solve_decreasing(fun, x0, np.zeros(idx.size), hi,
                                               self.rtol * scale[idx], self.maxit)
                x[idx] = xs
                failed[idx] = ~conv
        r = self._residual(x, all_idx, c, full=True)
        dp, nv, J, w = r["dp"], r["n"], r["Js"], r["w"]
        G = c["G"]
        # stress
        Kb = c["Kb"]
        np.multiply(nv, col(-2.0 * G * dp), out=out.stress)
        out.stress += s_tr
        out.stress[:, :3] += col(Kb * tr)
        # state
        st = out.state
        sv(st, "p")[:] = p_n + dp
        dep = col(dp) * nv
        sv(st, "eps_p")[:] = sv(state_old, "eps_p") + dep
        for i, a in enumerate(r["a"]):
            sv(st, f"alpha_{i + 1}")[:] = col(a) * (sv(state_old, f"alpha_{i + 1}") + dep)
        # consistent tangent: Ce − a2 Idev + (c_nn n + c_w w) ⊗ n
        with np.errstate(divide="ignore", invalid="ignore"):
            gam = np.where(dp > 0, r["dp_x"] / (-r["dF"]), 0.0) if self.viscous else np.where(dp > 0, 1.0 / (-r["dF"]), 0.0)
        gam = np.where(np.isfinite(gam), gam, 0.0)
        G2 = 2.0 * G
        a2 = 1.5 * G2 * G2 * dp / J
        c_nn = -G2 * G2 * gam + (2.0 / 3.0) * a2
        u = col(c_nn) * nv
        if np.ndim(w):
            c_w = -a2 * gam
            nw = np.einsum("ij,ij->i", nv, w)
            u += col(c_w) * w
            u -= col(c_w * (2.0 / 3.0) * nw) * nv
        T = out.tangent
        np.multiply(u[:, :, None], nv[:, None, :], out=T)
        cdev = G2 - a2
        T[:, :3, :3] += (np.asarray(Kb)[..., None, None] + np.asarray(cdev)[..., None, None] * _IDEV33)
        for k in (3, 4, 5):
            T[:, k, k] += cdev
        out.failed[:] = failed


#: Voce or kinematic terms the compiled kernel takes (MAXT of vonmises_kernel.c)
_KERNEL_MAX_TERMS = 16


# parameter sets kept by a law for the compiled kernel (each ``chunk_size`` points: at most 16384 × ~16 doubles)
_KERNEL_CACHE_SIZE = 16


def _kernel():
    """The compiled point update (``vonmises_kernel.c``), or None (no C compiler: the numpy path)."""
    lib = compiled_library("materials/vonmises_kernel.c", flags=("-O2", "-fno-fast-math"),
                           what="von Mises point kernel (else numpy)")
    if lib is None:
        return None
    fn = lib.dromo_vonmises_update
    if fn.argtypes is None:
        fn.restype = None
        fn.argtypes = ([ctypes.c_long, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_double,
                        ctypes.c_double, ctypes.c_int] + [ctypes.c_void_p] * 4
                       + [ctypes.c_long, ctypes.c_void_p, ctypes.c_long] + [ctypes.c_void_p] * 5)
    return fn


def _get(flow, key, pre):
    if key not in flow:
        raise InputError(f"material {pre!r}: missing parameter 'flow.{key}'")
    return flow[key]
