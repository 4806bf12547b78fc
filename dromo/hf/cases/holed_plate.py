"""A holed plate specimen under cyclic tension (academic case), tet10, generated with gmsh.

Plate 100 × 40 × 4 mm with a central hole of radius 8 mm; clamped (all components) on x = 0, the end
x = 100 pulled along x by ±0.25 mm (fully reversed, triangular, 2 cycles of 4 s: 0.25 % nominal
strain, plastic around the hole). Material: von Mises steel-like (E = 200 GPa, ν = 0.3, R0 = 250 MPa,
linear + Voce isotropic, one Armstrong–Frederick back stress, Norton viscosity K = 100 MPa, n = 5).
Sets: element set ``all``; node and facet sets ``xmin``, ``xmax``, ``hole``.
"""
import os

import numpy as np

DESCRIPTION = "holed plate 100x40x4 mm (tet10) under cyclic tension, Chaboche + Norton steel"
#: characteristic length (far field, at the hole) per size
H = {"small": (8.0, 2.5), "medium": (2.0, 0.6), "large": (1.1, 0.3)}
L, W, T, R = 100.0, 40.0, 4.0, 8.0

CASE = """# dromo built-in case: {description}
name = "holed_plate ({size})"

[mesh]
file = "holed_plate.msh"

[materials.steel]
type = "von_mises"
E = 200e3
nu = 0.3
R0 = 250.0
H = 1000.0
voce = [{{ Q = 60.0, b = 10.0 }}]
kinematic = [{{ C = 40e3, D = 300.0 }}]
flow = {{ type = "norton", K = 100.0, n = 5.0 }}
density = 7.85e-9

[sections]
all = "steel"

[amplitudes]
cycles = [[0.0, 0.0], [1.0, 1.0], [3.0, -1.0], [5.0, 1.0], [7.0, -1.0], [8.0, 0.0]]

[[displacement]]
set = "xmin"
x = 0.0
y = 0.0
z = 0.0

[[displacement]]
set = "xmax"
x = 0.25
amplitude = "cycles"

[time]
end = 8.0
dt = 0.25
dt_min = 1e-4
dt_max = 0.25

[output]
checkpoint_every = 8
"""


def mesh(path, size="small"):
    """Generate the tet10 mesh with gmsh into ``path`` (.msh)."""
    import gmsh
    h_far, h_hole = H[size]
    gmsh.initialize(["-noenv"])
    try:
        gmsh.option.setNumber("General.Terminal", 0)
        gmsh.model.add("holed_plate")
        occ = gmsh.model.occ
        box = occ.addBox(0, 0, 0, L, W, T)
        cyl = occ.addCylinder(L / 2, W / 2, 0, 0, 0, T, R)
        vol, _ = occ.cut([(3, box)], [(3, cyl)])
        occ.synchronize()
        tags = {"xmin": [], "xmax": [], "hole": []}
        for dim, tag in gmsh.model.getEntities(2):
            x0, y0, z0, x1, y1, z1 = gmsh.model.getBoundingBox(dim, tag)
            if x1 < 1e-6:
                tags["xmin"].append(tag)
            elif x0 > L - 1e-6:
                tags["xmax"].append(tag)
            elif x0 > L / 2 - R - 1e-6 and x1 < L / 2 + R + 1e-6 and y0 > W / 2 - R - 1e-6 and y1 < W / 2 + R + 1e-6:
                tags["hole"].append(tag)
        for name, t in tags.items():
            gmsh.model.setPhysicalName(2, gmsh.model.addPhysicalGroup(2, t), name)
        gmsh.model.setPhysicalName(3, gmsh.model.addPhysicalGroup(3, [v[1] for v in vol]), "all")
        f = gmsh.model.mesh.field
        d = f.add("Distance")
        f.setNumbers(d, "SurfacesList", tags["hole"])
        th = f.add("Threshold")
        f.setNumber(th, "InField", d)
        f.setNumber(th, "SizeMin", h_hole)
        f.setNumber(th, "SizeMax", h_far)
        f.setNumber(th, "DistMin", 0.5 * R)
        f.setNumber(th, "DistMax", 2.5 * R)
        f.setAsBackgroundMesh(th)
        gmsh.option.setNumber("Mesh.MeshSizeExtendFromBoundary", 0)
        gmsh.option.setNumber("Mesh.MeshSizeFromPoints", 0)
        gmsh.option.setNumber("Mesh.MeshSizeFromCurvature", 0)
        gmsh.option.setNumber("Mesh.ElementOrder", 2)
        gmsh.option.setNumber("Mesh.SecondOrderLinear", 0)
        gmsh.option.setNumber("Mesh.MshFileVersion", 4.1)
        gmsh.model.mesh.generate(3)
        gmsh.write(os.fspath(path))
    finally:
        gmsh.finalize()


def write(folder, size="small"):
    os.makedirs(folder, exist_ok=True)
    mesh(os.path.join(folder, "holed_plate.msh"), size)
    path = os.path.join(folder, "case.toml")
    with open(path, "w") as f:
        f.write(CASE.format(description=DESCRIPTION, size=size))
    return path
