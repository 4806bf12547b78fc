"""Small cases for the reduced-model tests: a hex8 bar (box mesh written as .inp) with a
Chaboche + Norton law, case files written as a user would, training files for `dromo offline`."""
import os

from dromo.mesh.generate import box_mesh
from dromo.mesh.inp import write_inp

LAW = """type = "von_mises"
E = 200e3
nu = 0.3
R0 = 200.0
H = 2000.0
kinematic = [{{ C = 30e3, D = 300.0 }}]
flow = {{ type = "norton", K = 100.0, n = 4.0 }}
density = {density}
"""

CASE = """name = "{name}"
[mesh]
file = "{mesh}"
[materials.steel]
{law}
[sections]
ALL = "steel"
[amplitudes]
cyc = {amp}
[[displacement]]
set = "XMIN"
x = 0.0
y = 0.0
z = 0.0
[[displacement]]
set = "XMAX"
x = {ux}
y = {uy}
amplitude = "cyc"
{extra}
[time]
end = {end}
dt = {dt}
{time_extra}
"""

CYCLE = "[[0, 0], [1, 1], [2, -1], [3, 0], [4, 1]]"


def write_mesh(folder, name="bar.inp", cells=(6, 2, 2), lengths=(6.0, 1.0, 1.0)):
    path = os.path.join(folder, name)
    write_inp(box_mesh(*cells, lengths=lengths, element="hex8", distort=0.1, seed=1), path)
    return path


def write_case(folder, name, ux, end=3.0, dt=0.1, extra="", time_extra="", mesh="bar.inp", amp=CYCLE,
               density=7.8e-9, law=None):
    path = os.path.join(folder, f"{name}.toml")
    with open(path, "w") as f:
        f.write(CASE.format(name=name, mesh=mesh, law=law or LAW.format(density=density), amp=amp, ux=ux,
                            uy=ux / 3, extra=extra, end=end, dt=dt, time_extra=time_extra))
    return path


def write_training(folder, runs, pod_tol=1e-6, ecm="variant = \"global\"\ntol = 1e-5", dual_tol=1e-5,
                   name="train.toml"):
    path = os.path.join(folder, name)
    with open(path, "w") as f:
        for case, result in runs:
            f.write(f'[[run]]\ncase = "{case}"\nresult = "{result}"\n')
        f.write(f"[pod]\ntol = {pod_tol}\n[ecm]\n{ecm}\n[dual]\ntol = {dual_tol}\n")
    return path
