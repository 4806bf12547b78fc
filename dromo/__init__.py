"""dromo: distributed, nonintrusive reduced-order modelling for nonlinear structural mechanics.

Conventions used throughout (see README, "Conventions"):

* Units are whatever consistent system the case uses (dromo's built-in cases use mm, N, MPa, s, K).
* Symmetric second-order tensors are stored in **Mandel** notation, 6 components in the order
  ``xx, yy, zz, xy, xz, yz`` (the Abaqus/CalculiX order) with the shear components scaled by √2, so that
  ``a:b == a_m @ b_m`` and fourth-order tensors are symmetric 6×6 matrices. Adapters convert
  (``dromo.materials.tensors``) from the engineering-shear Voigt or plain tensor conventions of other codes.
* Displacement degrees of freedom are interlaced per node: dof = 3 * node + component.
"""
from . import _env  # noqa: F401  (sets PETSC_DIR/SLEPC_DIR defaults before petsc4py is imported)

__version__ = "0.1.0"
