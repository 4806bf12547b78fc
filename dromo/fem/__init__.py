"""Finite-element core: kinematics at integration points, assembly into PETSc, operators."""
