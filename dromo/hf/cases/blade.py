"""A turbine-blade-like component (tet10, gmsh): tapered, twisted, cambered airfoil on a root block.

Geometry (mm): root block 64 × 28 × 20 (x: engine axis, y: circumferential, z ∈ [0, 20]: radial); an
airfoil of NACA 6415 sections (closed trailing edge) lofted from z = 18 (inside the block) to the tip at
z = 100, chord tapering from 40 to 28 mm and twisted from 0 to 25° about the radial stacking axis
through 30 % of the chord. Each section is two splines, so the loft has a pressure (concave, lower)
and a suction (upper) face.

Loads (units mm, N, MPa, s, K): clamped at the bottom of the root (node set ``root``); rotation about
the engine axis (x, through (0, 0, −250): the hub) at ω = 1000 rad/s, the centrifugal force ρω²r⊥ on
the whole part, times the amplitude ``speed`` (ω² ∝ a); pressure 0.5 MPa on the pressure side
(facet set ``pressure_side``, amplitude ``speed``); a temperature field hot at the leading edge,
``T = 293 + a (250 (z/100) + 350 exp(−d²/8²))`` with d the distance to the (twisted, tapered) leading
edge line and a the amplitude ``heat``. Start-up / hold / shut-down / rest cycles (two by default).

Material (``blade``): von Mises, Norton viscosity + two Armstrong–Frederick back stresses (Chaboche) +
Voce isotropic hardening, with E, R0, Q, C₁, K, n tabulated in temperature over 273–1273 K (a
nickel-superalloy-like trend), thermal expansion 1.3e-5 /K from 293 K, density 8.2e-9 t/mm³.

Sets: element set ``all``; node/facet sets ``root`` (clamped face), ``pressure_side``,
``suction_side``, ``tip``. Sizes: ``small`` (9.4e3 dofs, tests), ``medium`` (2.6e5 dofs), ``large``
(1.08e6 dofs). Measured on 2 ranks of a 2-core machine (``benchmarks/hf_blade.py``, start-up to t = 1.75,
GAMG): medium 22 s per increment and 3.2 GB in all (45 s on 1 rank); large 115 s per increment and
14.8 GB in all.
"""
import os

import numpy as np

DESCRIPTION = ("turbine-blade-like part (tet10): twisted tapered airfoil on a root, centrifugal + "
               "pressure + hot leading edge, T-dependent Norton-Chaboche, start-up/shut-down cycles")

ROOT = (64.0, 28.0, 20.0)             # block sizes along x, y, z (centred on x = y = 0)
Z0, Z1 = 18.0, 100.0                  # airfoil from Z0 (inside the root) to the tip Z1
CHORD = (40.0, 28.0)                  # root, tip chord
TWIST = (0.0, 25.0)                   # degrees
STACK = 0.3                           # stacking axis at this fraction of the chord
NACA = (0.06, 0.4, 0.15)              # max camber, its position, thickness (NACA 6415)
N_SECTIONS = 5
#: mesh size (airfoil, root block) per size
H = {"small": (6.0, 14.0), "medium": (1.25, 2.5), "large": (0.7, 1.4)}

CASE = """# dromo built-in case: {description}
name = "{name}"

[mesh]
file = "blade.msh"

[materials.superalloy]
type = "von_mises"
E = {{ T = [273.0, 773.0, 1273.0], values = [210e3, 185e3, 150e3] }}
nu = 0.3
R0 = {{ T = [273.0, 773.0, 1273.0], values = [450.0, 380.0, 250.0] }}
voce = [{{ Q = {{ T = [273.0, 1273.0], values = [120.0, 60.0] }}, b = 20.0 }}]
kinematic = [{{ C = {{ T = [273.0, 1273.0], values = [150e3, 80e3] }}, D = 800.0 }}, {{ C = 8e3, D = 20.0 }}]
flow = {{ type = "norton", K = {{ T = [273.0, 773.0, 1273.0], values = [1000.0, 600.0, 200.0] }}, n = {{ T = [273.0, 1273.0], values = [10.0, 4.0] }} }}
alpha = 1.3e-5
T_ref = 293.0
density = 8.2e-9

[sections]
all = "superalloy"

[amplitudes]
# start-up (0-1 s), hold (1-3 s), shut-down (3-4 s), rest (4-5 s); {cycles} cycle(s)
speed = {speed}
heat = {heat}

[[displacement]]
set = "root"
x = 0.0
y = 0.0
z = 0.0

[[pressure]]
set = "pressure_side"
value = 0.5
amplitude = "speed"

[centrifugal]
omega = {omega}
axis_point = [0.0, 0.0, -250.0]
axis_direction = [1.0, 0.0, 0.0]
amplitude = "speed"

[temperature]
expression = "{temperature}"
amplitude = "heat"

[time]
end = {end}
dt = 0.25
{fixed}dt_min = 1e-4
dt_max = 0.5

[output]
checkpoint_every = 10
"""


def _chord(z):
    s = (z - Z0) / (Z1 - Z0)
    return CHORD[0] + s * (CHORD[1] - CHORD[0])


def _twist(z):
    s = (z - Z0) / (Z1 - Z0)
    return np.radians(TWIST[0] + s * (TWIST[1] - TWIST[0]))


def naca_section(z, n=24):
    """Upper (suction) and lower (pressure) surfaces of the section at height z: two (n, 3) arrays from
    the leading edge to the trailing edge, in the global frame (twisted about the stacking axis)."""
    m, p, t = NACA
    beta = np.linspace(0.0, np.pi, n)
    xc = 0.5 * (1 - np.cos(beta))                                # cosine spacing, 0 (LE) -> 1 (TE)
    yt = 5 * t * (0.2969 * np.sqrt(xc) - 0.1260 * xc - 0.3516 * xc**2 + 0.2843 * xc**3 - 0.1036 * xc**4)
    yc = np.where(xc < p, m / p**2 * (2 * p * xc - xc**2), m / (1 - p)**2 * (1 - 2 * p + 2 * p * xc - xc**2))
    dyc = np.where(xc < p, 2 * m / p**2 * (p - xc), 2 * m / (1 - p)**2 * (p - xc))
    th = np.arctan(dyc)
    c, a = _chord(z), _twist(z)
    out = []
    for sgn in (1.0, -1.0):
        xs = (xc - sgn * yt * np.sin(th) - STACK) * c
        ys = (yc + sgn * yt * np.cos(th)) * c
        xr, yr = np.cos(a) * xs - np.sin(a) * ys, np.sin(a) * xs + np.cos(a) * ys
        out.append(np.column_stack([xr, yr, np.full(n, z)]))
    return out


def temperature_expression(heat=1.0):
    """T(x, y, z, a): hot leading edge (the LE line is linear in z for chord, angle-linear for twist);
    ``heat`` scales the temperature rise."""
    c0, dc = CHORD[0], (CHORD[1] - CHORD[0]) / (Z1 - Z0)
    a0, da = np.radians(TWIST[0]), np.radians(TWIST[1] - TWIST[0]) / (Z1 - Z0)
    cz = f"({c0!r} + {dc!r} * (z - {Z0!r}))"
    az = f"({a0!r} + {da!r} * (z - {Z0!r}))"
    xle, yle = f"(-{STACK} * {cz} * cos({az}))", f"(-{STACK} * {cz} * sin({az}))"
    a = "a" if heat == 1.0 else f"{float(heat)!r} * a"
    return (f"293.0 + {a} * (250.0 * maximum(z, 0.0) / {Z1} + "
            f"350.0 * exp(-((x - {xle})**2 + (y - {yle})**2) / 64.0))")


def _amplitude_tables(cycles):
    sp, ht = [[0.0, 0.0]], [[0.0, 0.0]]
    for k in range(cycles):
        t = 5.0 * k
        sp += [[t + 1.0, 1.0], [t + 3.0, 1.0], [t + 4.0, 0.0], [t + 5.0, 0.0]]
        ht += [[t + 1.5, 1.0], [t + 3.0, 1.0], [t + 4.5, 0.0], [t + 5.0, 0.0]]

    def fmt(tab):
        return "[" + ", ".join(f"[{a:.1f}, {b:.1f}]" for a, b in tab) + "]"
    return fmt(sp), fmt(ht)


def mesh(path, size="small"):
    """Generate the tet10 blade mesh with gmsh into ``path`` (.msh); returns the number of nodes."""
    import gmsh
    h_foil, h_root = H[size]
    gmsh.initialize(["-noenv"])
    try:
        gmsh.option.setNumber("General.Terminal", 0)
        gmsh.option.setNumber("General.NumThreads", 1)
        gmsh.model.add("blade")
        occ = gmsh.model.occ
        wires = []
        for z in np.linspace(Z0, Z1, N_SECTIONS):
            up, lo = naca_section(z)
            pu = [occ.addPoint(*q) for q in up]
            pl = [pu[0]] + [occ.addPoint(*q) for q in lo[1:-1]] + [pu[-1]]
            su = occ.addSpline(pu)
            sl = occ.addSpline(pl)
            wires.append(occ.addWire([su, sl]))
        foil = occ.addThruSections(wires, makeSolid=True, makeRuled=False)
        bx, by, bz = ROOT
        root = occ.addBox(-bx / 2, -by / 2, 0.0, bx, by, bz)
        vol, _ = occ.fuse([(3, root)], foil)
        occ.synchronize()
        sets = {"root": [], "pressure_side": [], "suction_side": [], "tip": []}
        for _dim, tag in gmsh.model.getEntities(2):
            x0, y0, z0, x1, y1, z1 = gmsh.model.getBoundingBox(2, tag)
            if z1 < 1e-6:
                sets["root"].append(tag)
            elif z0 > Z1 - 1e-6:
                sets["tip"].append(tag)
            elif z1 > bz + 1.0:
                # a lateral airfoil face: its normal in the section frame at mid-span
                lo_, hi_ = gmsh.model.getParametrizationBounds(2, tag)
                uv = 0.5 * (np.asarray(lo_) + np.asarray(hi_))
                nx, ny, _nz = gmsh.model.getNormal(tag, uv)
                zc = gmsh.model.getValue(2, tag, uv)[2]
                a = _twist(zc)
                n_local_y = -np.sin(a) * nx + np.cos(a) * ny
                sets["pressure_side" if n_local_y < 0 else "suction_side"].append(tag)
        for name, t in sets.items():
            if not t:
                raise RuntimeError(f"blade geometry: no surface found for set {name!r}")
            gmsh.model.setPhysicalName(2, gmsh.model.addPhysicalGroup(2, t), name)
        gmsh.model.setPhysicalName(3, gmsh.model.addPhysicalGroup(3, [v[1] for v in vol]), "all")
        f = gmsh.model.mesh.field
        box = f.add("Box")
        f.setNumber(box, "VIn", h_foil)
        f.setNumber(box, "VOut", h_root)
        f.setNumber(box, "XMin", -bx)
        f.setNumber(box, "XMax", bx)
        f.setNumber(box, "YMin", -by)
        f.setNumber(box, "YMax", by)
        f.setNumber(box, "ZMin", bz - 2 * h_root)
        f.setNumber(box, "ZMax", Z1 + 1.0)
        f.setNumber(box, "Thickness", 2 * h_root)
        f.setAsBackgroundMesh(box)
        gmsh.option.setNumber("Mesh.MeshSizeExtendFromBoundary", 0)
        gmsh.option.setNumber("Mesh.MeshSizeFromPoints", 0)
        gmsh.option.setNumber("Mesh.MeshSizeFromCurvature", 0)
        gmsh.option.setNumber("Mesh.Algorithm3D", 10 if size != "small" else 1)   # HXT: fast for large
        gmsh.option.setNumber("Mesh.ElementOrder", 2)
        gmsh.option.setNumber("Mesh.SecondOrderLinear", 0)
        gmsh.option.setNumber("Mesh.MshFileVersion", 4.1)
        gmsh.option.setNumber("Mesh.Binary", 1)
        gmsh.model.mesh.generate(3)
        n_nodes = len(gmsh.model.mesh.getNodes()[0])
        gmsh.write(os.fspath(path))
    finally:
        gmsh.finalize()
    return n_nodes


def case_text(size="small", cycles=2, speed=1.0, heat=1.0, end=None, fixed=False, name=None):
    """The case file text: ``cycles`` start-up/shut-down cycles, ω × ``speed`` (the centrifugal force
    scales with ω²), the temperature rise × ``heat``, the time span ``end`` (default the cycles' 5 s each)
    and, with ``fixed``, fixed increments (no cut-back or growth: runs of this text share their times);
    ``name`` the case name (default ``blade (SIZE)``)."""
    sp, ht = _amplitude_tables(cycles)
    end = 5.0 * cycles if end is None else float(end)
    return CASE.format(description=DESCRIPTION, name=name or f"blade ({size})", speed=sp, heat=ht, cycles=cycles,
                       temperature=temperature_expression(heat), end=f"{end:.1f}",
                       omega=repr(1000.0 * float(speed)), fixed="fixed = true\n" if fixed else "")


def write(folder, size="small"):
    os.makedirs(folder, exist_ok=True)
    mesh(os.path.join(folder, "blade.msh"), size)
    path = os.path.join(folder, "case.toml")
    with open(path, "w") as f:
        f.write(case_text(size))
    return path
