"""CalculiX's ``ANISO_PLAS`` law (anisotropic elasticity, isotropic viscoplasticity), reproduced.

CalculiX 2.20 user material ``ANISO_PLAS*`` (``*USER MATERIAL,CONSTANTS=15``, ``*DEPVAR`` 14), as
implemented in its ``umat_aniso_plas.f`` and checked against ``ccx`` runs (tests/materials)::

    σ = C : (ε − εᵖ − ε_th)                      orthotropic C (9 tensor constants, material = global axes)
    ξ = dev σ − d2 α₂,  f = ‖ξ‖ + √(2/3) (q1 − r0),  q1 = −d1 α₁      (‖·‖: tensor norm)
    εᵖ̇ = γ̇ N,  α̇₂ = γ̇ N,  α̇₁ = ṗ = √(2/3) γ̇,  N = ξ/‖ξ‖
    viscous (CalculiX *VISCO step):  ṗ = A ⟨σ_eq(ξ) − (r0 + d1 α₁)⟩ⁿ tᵐ,  σ_eq = √(3/2)‖ξ‖
    rate-independent (CalculiX *STATIC step, ``"viscous": false``): f ≤ 0 (Kuhn–Tucker)

so the back stress is X = d2 α₂ (α₂ has the units of a strain) — a Prager rule with C_prager = 3/2 d2
in :mod:`dromo.materials.viscoplastic`'s notation; R = r0 + d1 p. ``t`` is the total time at the start
of the increment (CalculiX: ``ttime + time − dtime``), ``t**0 == 1``.

Backward Euler with the flow direction at the end of the increment, exactly CalculiX's residual
(εᵖ, α₁, α₂ and the viscous yield condition ‖ξ‖ + √(2/3)(q1 − r0 − (c_a Δγ)^{1/n}) = 0 with
c_a = √(2/3)/(A tᵐ Δt)). Dromo reduces it to one scalar equation per point: with
M = P C + d2 I (P the deviatoric projector), ``(k(Δγ) I + Δγ M) N = ξ_tr`` and ‖N‖ = 1, where
k = √(2/3)(r0 + d1 α₁ + σ_v). M = V Λ V⁻¹ is diagonalized once (symmetric form C^{1/2} P C^{1/2}), so
each Newton iteration costs two 6×6 products per point. The consistent tangent follows by implicit
differentiation (closed form). CalculiX stops its own Newton at |f| ≤ 1e-5 or a relative change of
1e-3 in Δγ; dromo solves to ``local_rtol`` (1e-11): the two agree to the accuracy of CalculiX's stop.

Constants (CalculiX order): ``C1111 C1122 C2222 C1133 C2233 C3333 C1212 C1313 C2323 r0 d1 d2 A n m``
(C1212 … tensor components, i.e. shear moduli). Law dict, the constants by name (each a number or a
temperature table, :mod:`dromo.materials.tables`) or as CalculiX's list::

    {"type": "aniso_plas", "C1111": 2e5, "C1122": 8e4, ..., "r0": 100, "d1": 1e3, "d2": 1e4,
     "A": 1e-6, "n": 3, "m": 0}                                             # by name
    {"type": "aniso_plas", "constants": [15 numbers]}                       # CalculiX order
    {"type": "aniso_plas", "constants": [[15 numbers, T0], [15 numbers, T1], ...]}   # table in T
    optional: "viscous": true (false = CalculiX *STATIC), "alpha", "T_ref", "local_rtol", "max_iterations"

State (dromo order = CalculiX's SDV order, Mandel instead of tensor components for the tensors):
``p`` (1), ``eps_p`` (6), ``alpha_1`` (1), ``alpha_2`` (6). CalculiX's SDV 2–7 and 9–14 are tensor
components: convert with :func:`dromo.materials.tensors.mandel_from_tensor_components`.
"""
import numpy as np

from ..errors import InputError
from . import tensors as tn
from .base import Law, check_parameters, col
from .elastic import COMMON, THERMAL, ThermalStrain, _check_ortho_stiffness
from .newton import solve_decreasing
from .tables import Param

NAMES = ("C1111", "C1122", "C2222", "C1133", "C2233", "C3333", "C1212", "C1313", "C2323",
         "r0", "d1", "d2", "A", "n", "m")
#: The state in CalculiX's SDV order: (dromo name, size, how CalculiX stores it). "tensor": tensor
#: components xx, yy, zz, xy, xz, yz (converted to Mandel in dromo). Checked against ccx's .dat
#: output on a one-element run (tests/materials/test_materials_aniso_plas.py).
SDV_LAYOUT = (("p", 1, "plain"), ("eps_p", 6, "tensor"), ("alpha_1", 1, "plain"), ("alpha_2", 6, "tensor"))
#: Parameters of ``type = "aniso_plas"`` (the case-file reference is generated from this table).
PARAMETERS = dict(COMMON, **{
    "constants": "the 15 constants in CalculiX's order (C1111 ... m), or rows of 15 constants + temperature "
                 "(a table in T); or give them by name instead",
    **{k: f"orthotropic stiffness {k} (tensor components, C1212 = G12)" for k in NAMES[:9]},
    "r0": "initial yield stress r₀", "d1": "isotropic hardening modulus d₁ (R = r₀ + d₁ p)",
    "d2": "kinematic hardening modulus d₂ (X = d₂ α₂)", "A": "creep factor A of ṗ = A ⟨√(3/2) f⟩ⁿ tᵐ",
    "n": "creep exponent n (>= 1)", "m": "time exponent m",
    "viscous": "true (default, CalculiX *VISCO) | false (rate-independent, CalculiX *STATIC)",
    "local_rtol": "relative tolerance of the point-wise Newton (default 1e-11)",
    "max_iterations": "iterations of the point-wise Newton (default 60)"}, **THERMAL)
C0 = np.sqrt(2.0 / 3.0)
P = tn.IDEV


def _take(v, idx):
    return v if np.ndim(v) == 0 else v[idx]


def _mv(M, u):
    """Matrix (6,6) or (m,6,6) times vectors (m,6)."""
    return u @ M.T if M.ndim == 2 else np.einsum("mij,mj->mi", M, u)


def _mtv(M, u):
    """Transposed matrix times vectors."""
    return u @ M if M.ndim == 2 else np.einsum("mji,mj->mi", M, u)


def _spectral(C):
    """V, V⁻¹, eigenvalues Λ of P C (C: (6,6) or (m,6,6)) through the symmetric C^½ P C^½."""
    c, U = np.linalg.eigh(C)
    sq = np.sqrt(c)
    Ch = (U * sq[..., None, :]) @ np.swapaxes(U, -1, -2)
    Cmh = (U / sq[..., None, :]) @ np.swapaxes(U, -1, -2)
    lam, Q = np.linalg.eigh(Ch @ P @ Ch)
    lam = np.maximum(lam, 0.0)
    V = Cmh @ Q
    Vinv = np.swapaxes(Q, -1, -2) @ Ch
    W = Vinv @ P @ C                  # V⁻¹ P C (for the tangent)
    CV = C @ V
    # smallest *deviatoric* eigenvalue (the hydrostatic one is 0)
    lam_dev_min = lam[..., 1]
    return dict(C=C, V=V, Vinv=Vinv, lam=lam, W=W, CV=CV, lam_min=lam_dev_min)


def _constants_list(constants, pre):
    """Parameter specs of the 15 constants from CalculiX's list (or rows of 15 + temperature)."""
    rows = np.asarray(constants, dtype=float)
    if rows.ndim == 1:
        if rows.size != 15:
            raise InputError(f"material {pre!r}: 'constants' needs 15 values ({NAMES}), got {rows.size}")
        return [float(v) for v in rows]
    if rows.ndim == 2 and rows.shape[1] == 16:
        return [{"T": rows[:, 15].tolist(), "values": rows[:, j].tolist()} for j in range(15)]
    raise InputError(f"material {pre!r}: 'constants' must be 15 values or rows of 15 values + "
                     f"temperature, got shape {rows.shape}")


class AnisoPlas(Law):
    """CalculiX ``ANISO_PLAS`` (see the module docstring)."""

    def __init__(self, d, name="aniso_plas"):
        self.name = d.get("name", name)
        pre = self.name
        check_parameters(d, PARAMETERS, f"material {pre!r}")
        named = [k for k in NAMES if k in d]
        if named and "constants" in d:
            raise InputError(f"material {pre!r}: give the constants either by name or as 'constants', not both "
                             f"(named: {named})")
        if named:
            missing = [k for k in NAMES if k not in d]
            if missing:
                raise InputError(f"material {pre!r}: missing constant(s) {missing} (all of {list(NAMES)}, or "
                                 f"'constants' in that order)")
            specs = [d[k] for k in NAMES]
        elif "constants" not in d:
            raise InputError(f"material {pre!r}: missing 'constants' (15 values, CalculiX order {NAMES}) or the "
                             f"constants by name")
        else:
            specs = _constants_list(d["constants"], pre)
        checks = {"A": lambda v: None if np.all(v >= 0) else "must be >= 0",
                  "n": lambda v: None if np.all(v >= 1) else "must be >= 1",
                  "d1": lambda v: None if np.all(v >= 0) else "must be >= 0",
                  "d2": lambda v: None if np.all(v >= 0) else "must be >= 0",
                  "r0": lambda v: None if np.all(v >= 0) else "must be >= 0"}
        self.p = {k: Param(f"{pre}.{k}", s, checks.get(k)) for k, s in zip(NAMES, specs)}
        self.viscous = bool(d.get("viscous", True))
        self.thermal = ThermalStrain(d, pre)
        self.rtol = float(d.get("local_rtol", 1e-11))
        self.maxit = int(d.get("max_iterations", 60))
        self.elastic_const = all(self.p[k].constant for k in NAMES[:9])
        # positive definiteness at the table nodes of the elastic constants (a constant C is one check)
        temps = sorted({t for k in NAMES[:9] if not self.p[k].constant for t in self.p[k].temps})
        for C in (self._stiffness(np.asarray(temps)) if temps else [self._stiffness(np.zeros(1))]):
            _check_ortho_stiffness(C, pre)
        self._spec = _spectral(self._stiffness(np.zeros(1))) if self.elastic_const else None
        self.state_names = [nm for nm, _, _ in SDV_LAYOUT]
        self.state_sizes = {nm: size for nm, size, _ in SDV_LAYOUT}
        self._layout()

    def _stiffness(self, T):
        vals = [self.p[k](T) for k in NAMES[:9]]
        if all(np.ndim(v) == 0 for v in vals):
            return tn.orthotropic_stiffness_from_constants(*vals)
        return tn.orthotropic_stiffness_from_constants(*[np.broadcast_to(v, np.shape(T)) for v in vals])

    # -------------------------------------------------------------------------------------------
    def _eval(self, x, idx, c, full=False):
        """Φ(x) = ‖ξ_tr‖(1 − 1/‖y‖) and dΦ/dx for the points idx; x = Δγ (rate-indep.) or σ_v."""
        sp = c["spec"]
        V = sp["V"] if sp["V"].ndim == 2 else sp["V"][idx]
        lam = sp["lam"] if sp["lam"].ndim == 1 else sp["lam"][idx]
        d1, d2 = _take(c["d1"], idx), _take(c["d2"], idx)
        lam = lam + col(d2)
        z = c["z"][idx]
        base = C0 * (_take(c["r0"], idx) + d1 * c["a1"][idx])
        if c["visco"]:
            n, ca = _take(c["n"], idx), _take(c["ca"], idx)
            dg = x ** n / ca
            dg_x = n * x ** (n - 1) / ca
            k = base + C0 * (d1 * C0 * dg + x)
            k_x = C0 * (d1 * C0 * dg_x + 1.0)
        else:
            dg, dg_x = x, 1.0
            k = base + (2.0 / 3.0) * d1 * dg
            k_x = (2.0 / 3.0) * d1 + 0.0 * x
        den = 1.0 / (col(k) + col(dg) * lam)
        yv = z * den
        y = _mv(V, yv)
        ny = np.sqrt(np.einsum("ij,ij->i", y, y))
        dy = -_mv(V, (col(k_x) + col(dg_x) * lam) * yv * den)
        dny = np.einsum("ij,ij->i", y, dy) / ny
        nx = c["nxi"][idx]
        F = nx * (1.0 - 1.0 / ny)
        dF = nx * dny / ny ** 2
        if not full:
            return F, dF
        return dict(dg=dg, dg_x=dg_x, k=k, k_x=k_x, den=den, N=y / col(ny), lam=lam, V=V)

    def _update_chunk(self, eps_old, deps, state_old, T_old, T_new, dt, time, out):
        m = eps_old.shape[0]
        prm = {k: self.p[k](T_new) for k in NAMES[9:]}
        if self.elastic_const:
            spec = self._spec
        else:
            spec = _spectral(self._stiffness(T_new))
        C = spec["C"]
        sv = self.state_view
        e = eps_old + deps
        e -= sv(state_old, "eps_p")
        eth = self.thermal(T_new)
        if eth is not None:
            e -= eth
        s_tr = _mv(C, e)
        a2n = sv(state_old, "alpha_2")
        xi = s_tr.copy()
        xi[:, :3] -= (s_tr[:, 0] + s_tr[:, 1] + s_tr[:, 2])[:, None] / 3.0
        xi -= col(prm["d2"]) * a2n
        nxi = np.sqrt(np.einsum("ij,ij->i", xi, xi))
        a1n = sv(state_old, "alpha_1")
        k0 = C0 * (prm["r0"] + prm["d1"] * a1n)
        htri = nxi - k0
        # CalculiX: no viscous flow when A tᵐ Δt <= 0 gives c_a < 0 (never) / infinite (no flow)
        At = prm["A"] * (np.power(time, prm["m"]) if time > 0 else np.where(np.asarray(prm["m"]) == 0, 1.0, 0.0))
        visco = self.viscous
        if visco:
            # c_a = √(2/3)/(A tᵐ Δt); A tᵐ Δt = 0 means no viscous flow in this increment
            Atdt = np.asarray(At * dt, dtype=float)
            ca = np.where(Atdt > 0, C0 / np.maximum(Atdt, 1e-300), np.inf)
            ca = float(ca) if ca.ndim == 0 else ca
            flow_ok = np.broadcast_to(np.isfinite(ca), (m,))
        else:
            ca = np.inf
            # CalculiX: with no hardening parameters at all a static step is elastic
            zero = (np.abs(prm["r0"]) < 1e-10) & (np.abs(prm["d1"]) < 1e-10) & (np.abs(prm["d2"]) < 1e-10)
            flow_ok = np.broadcast_to(~np.asarray(zero), (m,))
        scale = nxi + np.abs(k0) + 1e-12
        plastic = (htri > 1e-13 * scale) & flow_ok
        idx = np.flatnonzero(plastic)
        out.stress[...] = s_tr
        out.state[...] = state_old
        out.failed[:] = False
        out.tangent[...] = C
        if idx.size == 0:
            return
        c = dict(spec=spec, z=_mv(spec["Vinv"], xi) if spec["Vinv"].ndim == 2 else np.einsum("mij,mj->mi", spec["Vinv"], xi),
                 nxi=nxi, a1=a1n, d1=prm["d1"], d2=prm["d2"], r0=prm["r0"], n=prm["n"], visco=visco,
                 ca=ca if visco else None)
        f0 = htri[idx]
        lam_min = spec["lam_min"] if np.ndim(spec["lam_min"]) == 0 else spec["lam_min"][idx]
        if visco:
            n, cai = _take(prm["n"], idx), _take(ca, idx)
            dg_bound = f0 / (lam_min + _take(prm["d2"], idx) + (2.0 / 3.0) * _take(prm["d1"], idx))
            x0 = np.minimum(f0 / C0, (cai * dg_bound) ** (1.0 / n))
        else:
            x0 = np.zeros(idx.size)
        fun = lambda xa, act: self._eval(xa, idx[act], c)
        xs, conv, _ = solve_decreasing(fun, x0, np.zeros(idx.size), np.full(idx.size, np.inf),
                                       self.rtol * scale[idx], self.maxit)
        r = self._eval(xs, idx, c, full=True)
        dg, N = r["dg"], r["N"]
        Ci = C if C.ndim == 2 else C[idx]
        CN = _mv(Ci, N)
        out.stress[idx] = s_tr[idx] - col(dg) * CN
        st = out.state[idx]
        dEp = col(dg) * N
        sv(st, "p")[:] += C0 * dg
        sv(st, "eps_p")[:] += dEp
        sv(st, "alpha_1")[:] += C0 * dg
        sv(st, "alpha_2")[:] += dEp
        out.state[idx] = st
        out.failed[idx] = ~conv
        # consistent tangent  Ct = C − Δγ C A⁻¹ P C − C (N − Δγ b) ⊗ r
        V = r["V"]
        Vinv = spec["Vinv"] if spec["Vinv"].ndim == 2 else spec["Vinv"][idx]
        W = spec["W"] if spec["W"].ndim == 2 else spec["W"][idx]
        CV = spec["CV"] if spec["CV"].ndim == 2 else spec["CV"][idx]
        den = r["den"]
        k_dg = r["k_x"] / r["dg_x"] if visco else r["k_x"]
        q = _mtv(Vinv, den * _mtv(V, N))                   # A⁻ᵀ N
        b = _mv(V, den * (col(k_dg) + r["lam"]) * _mv(Vinv, N))   # A⁻¹ (k' N + M N)
        dd = np.einsum("ij,ij->i", N, b)
        PCq = q.copy()
        PCq[:, :3] -= (q[:, 0] + q[:, 1] + q[:, 2])[:, None] / 3.0
        rr = _mv(Ci, PCq) / col(dd)
        left = _mv(Ci, N - col(dg) * b)
        T = (CV[None] if CV.ndim == 2 else CV) * (col(dg) * den)[:, None, :]
        T = T @ W
        T += left[:, :, None] * rr[:, None, :]
        out.tangent[idx] -= T
