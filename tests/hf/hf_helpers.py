"""Meshes and helpers shared by the reference-solver tests."""
import numpy as np

from dromo.mesh.generate import box_mesh


def quarter_cylinder(nr, nt, a=1.0, b=2.0, element="hex8", nz=1, h=0.25):
    """Quarter of a thick-walled cylinder a <= r <= b, 0 <= θ <= π/2, 0 <= z <= h, mapped from a box.

    Sets (box side names): inner surface ``xmin`` (r = a), outer ``xmax``, ``ymin`` (θ = 0, the plane
    y = 0), ``ymax`` (θ = π/2, the plane x = 0), ``zmin``/``zmax``. The map is orientation-preserving,
    so cells stay positive and facets outward.
    """
    m = box_mesh(nr, nt, nz, lengths=(b - a, np.pi / 2, h), element=element, origin=(a, 0.0, 0.0))
    r, t, z = m.points[:, 0].copy(), m.points[:, 1].copy(), m.points[:, 2].copy()
    m.points[:, 0] = r * np.cos(t)
    m.points[:, 1] = r * np.sin(t)
    m.points[:, 2] = z
    m.points[np.isclose(t, np.pi / 2), 0] = 0.0
    return m


def natural(dm, owned_values, location="node"):
    """Full natural-order array of an owned/local field on every rank."""
    red = dm.redistributor(location)
    block = red.owned_to_natural(np.asarray(owned_values))
    return np.concatenate(dm.comm.allgather(block))


def plane_strain_loads(Displacement):
    return [Displacement("ymin", {"y": 0.0}), Displacement("ymax", {"x": 0.0}),
            Displacement("zmin", {"z": 0.0}), Displacement("zmax", {"z": 0.0})]
