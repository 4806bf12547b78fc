"""Mandel-notation helpers for symmetric second- and fourth-order tensors.

Convention (binding for all of dromo)
-------------------------------------
A symmetric 3×3 tensor ``a`` is stored as 6 components in the order ``xx, yy, zz, xy, xz, yz`` with the
shear components multiplied by √2 (Mandel / Kelvin notation)::

    a_m = [a11, a22, a33, √2 a12, √2 a13, √2 a23]

so that ``a:b == a_m @ b_m`` and the norm ``‖a‖ = |a_m|``.  A fourth-order tensor with minor and major
symmetries is a symmetric 6×6 matrix ``A_m`` with ``(A:b)_m == A_m @ b_m``; in components
``A_m[I, J] = w_I w_J A_ijkl`` with ``w = [1, 1, 1, √2, √2, √2]``.

Other conventions met at the adapters (same component order ``11, 22, 33, 12, 13, 23``):

* **engineering-shear Voigt strain** (Abaqus ``STRAN``/``DSTRAN``): shear entries are γ_ij = 2 ε_ij;
* **Voigt stress / tensor components** (Abaqus ``STRESS``, CalculiX ``.dat`` stress and strain):
  shear entries are the plain tensor components σ_ij (resp. ε_ij);
* **Abaqus DDSDDE** (∂Δσ_voigt/∂Δγ_voigt) is numerically the matrix of tensor components
  ``A_ijkl`` (e.g. ``DDSDDE[3, 3] = G``), as is CalculiX's ``C1212``-style input: both convert with
  :func:`mandel_from_tensor_matrix`.

All functions work on arrays of shape ``(..., 6)`` (vectors) or ``(..., 6, 6)`` (matrices) and return
new arrays.
"""
import numpy as np

SQ2 = np.sqrt(2.0)
#: Mandel weights w = [1, 1, 1, √2, √2, √2].
W = np.array([1.0, 1.0, 1.0, SQ2, SQ2, SQ2])
#: Second-order identity in Mandel notation.
I2 = np.array([1.0, 1.0, 1.0, 0.0, 0.0, 0.0])
#: Symmetric fourth-order identity (6×6 identity in Mandel notation).
I4 = np.eye(6)
#: Volumetric projector  (1/3) I⊗I.
IVOL = np.outer(I2, I2) / 3.0
#: Deviatoric projector  I4 − (1/3) I⊗I.
IDEV = I4 - IVOL


def trace(a):
    """Trace of Mandel vectors ``(..., 6) -> (...)``."""
    a = np.asarray(a)
    return a[..., 0] + a[..., 1] + a[..., 2]


def dev(a):
    """Deviatoric part of Mandel vectors ``(..., 6)``."""
    a = np.array(a, dtype=float, copy=True)
    m = trace(a) / 3.0
    a[..., :3] -= m[..., None]
    return a


def von_mises(a):
    """Von Mises equivalent √(3/2 dev a : dev a) of Mandel vectors ``(..., 6) -> (...)``."""
    d = dev(a)
    return np.sqrt(1.5 * np.einsum("...i,...i->...", d, d))


def mandel_from_voigt_strain(e):
    """Engineering-shear Voigt strain (γ_ij = 2 ε_ij) -> Mandel."""
    return np.asarray(e, dtype=float) * np.array([1, 1, 1, 1 / SQ2, 1 / SQ2, 1 / SQ2])


def voigt_strain_from_mandel(e):
    """Mandel strain -> engineering-shear Voigt strain (Abaqus STRAN convention)."""
    return np.asarray(e, dtype=float) * np.array([1, 1, 1, SQ2, SQ2, SQ2])


def mandel_from_tensor_components(a):
    """Plain tensor components (σ_ij / ε_ij in the shear slots; Abaqus STRESS, CalculiX .dat) -> Mandel."""
    return np.asarray(a, dtype=float) * W


def tensor_components_from_mandel(a):
    """Mandel -> plain tensor components (Abaqus STRESS order 11, 22, 33, 12, 13, 23)."""
    return np.asarray(a, dtype=float) / W


# Voigt stress is the tensor-component convention.
mandel_from_voigt_stress = mandel_from_tensor_components
voigt_stress_from_mandel = tensor_components_from_mandel


def mandel_from_tensor_matrix(c):
    """6×6 matrix of tensor components A_ijkl (Abaqus DDSDDE, CalculiX C1212…) -> Mandel 6×6.

    ``A_m = w_I w_J A[I, J]``.
    """
    return np.asarray(c, dtype=float) * np.outer(W, W)


def tensor_matrix_from_mandel(c):
    """Mandel 6×6 -> matrix of tensor components (Abaqus DDSDDE convention)."""
    return np.asarray(c, dtype=float) / np.outer(W, W)


mandel_from_ddsdde = mandel_from_tensor_matrix
ddsdde_from_mandel = tensor_matrix_from_mandel


def mandel_from_matrix3(a):
    """Symmetric 3×3 tensors ``(..., 3, 3)`` -> Mandel ``(..., 6)``."""
    a = np.asarray(a, dtype=float)
    return np.stack([a[..., 0, 0], a[..., 1, 1], a[..., 2, 2],
                     SQ2 * a[..., 0, 1], SQ2 * a[..., 0, 2], SQ2 * a[..., 1, 2]], axis=-1)


def matrix3_from_mandel(a):
    """Mandel ``(..., 6)`` -> symmetric 3×3 tensors ``(..., 3, 3)``."""
    a = np.asarray(a, dtype=float)
    out = np.empty(a.shape[:-1] + (3, 3))
    out[..., 0, 0], out[..., 1, 1], out[..., 2, 2] = a[..., 0], a[..., 1], a[..., 2]
    out[..., 0, 1] = out[..., 1, 0] = a[..., 3] / SQ2
    out[..., 0, 2] = out[..., 2, 0] = a[..., 4] / SQ2
    out[..., 1, 2] = out[..., 2, 1] = a[..., 5] / SQ2
    return out


def isotropic_stiffness(E, nu):
    """Isotropic stiffness 3K·IVOL + 2G·IDEV (Mandel 6×6) for scalar E [stress], ν [-]."""
    G = E / (2.0 * (1.0 + nu))
    K = E / (3.0 * (1.0 - 2.0 * nu))
    return 3.0 * K * IVOL + 2.0 * G * IDEV


def orthotropic_stiffness_from_constants(c1111, c1122, c2222, c1133, c2233, c3333, c1212, c1313, c2323):
    """Orthotropic stiffness (Mandel 6×6, broadcast over leading axes) from the 9 tensor components.

    The order is CalculiX's (``*ELASTIC,TYPE=ORTHO`` and ``ANISO_PLAS``); ``c1212`` is the tensor
    component, i.e. the shear modulus G12 (σ12 = 2 C1212 ε12), so ``C_m[3, 3] = 2 c1212``.
    """
    args = np.broadcast_arrays(*[np.asarray(x, dtype=float) for x in
                                 (c1111, c1122, c2222, c1133, c2233, c3333, c1212, c1313, c2323)])
    c = np.zeros(args[0].shape + (6, 6))
    c[..., 0, 0], c[..., 0, 1], c[..., 1, 1] = args[0], args[1], args[2]
    c[..., 0, 2], c[..., 1, 2], c[..., 2, 2] = args[3], args[4], args[5]
    c[..., 1, 0], c[..., 2, 0], c[..., 2, 1] = args[1], args[3], args[4]
    c[..., 3, 3], c[..., 4, 4], c[..., 5, 5] = 2 * args[6], 2 * args[7], 2 * args[8]
    return c


def orthotropic_compliance_engineering(E1, E2, E3, nu12, nu13, nu23, G12, G13, G23):
    """Mandel compliance (…, 6, 6) from engineering constants (ν_ij = −ε_j/ε_i under σ_i)."""
    args = np.broadcast_arrays(*[np.asarray(x, dtype=float) for x in
                                 (E1, E2, E3, nu12, nu13, nu23, G12, G13, G23)])
    E1, E2, E3, nu12, nu13, nu23, G12, G13, G23 = args
    s = np.zeros(E1.shape + (6, 6))
    s[..., 0, 0], s[..., 1, 1], s[..., 2, 2] = 1 / E1, 1 / E2, 1 / E3
    s[..., 0, 1] = s[..., 1, 0] = -nu12 / E1
    s[..., 0, 2] = s[..., 2, 0] = -nu13 / E1
    s[..., 1, 2] = s[..., 2, 1] = -nu23 / E2
    s[..., 3, 3], s[..., 4, 4], s[..., 5, 5] = 1 / (2 * G12), 1 / (2 * G13), 1 / (2 * G23)
    return s
