"""The small case of the UQ tests: a hex8 bar clamped at x = 0, held axially at x = 6, heated by 250 K and
cooled again (Chaboche + Norton steel with thermal expansion): the random temperature field (σ = 40 K,
ℓ = 2) makes the plastic flow and the displacements vary from draw to draw. HF: 0.5–1 s per draw."""
import os

from tests.rom import rom_cases as rc

CASE = """name = "hot bar"
[mesh]
file = "bar.inp"
[materials.steel]
type = "von_mises"
E = 200e3
nu = 0.3
R0 = 150.0
H = 2000.0
kinematic = [{ C = 30e3, D = 300.0 }]
flow = { type = "norton", K = 100.0, n = 4.0 }
alpha = 1.2e-5
T_ref = 293.0
[sections]
ALL = "steel"
[amplitudes]
heat = [[0, 0], [1, 1], [2, 0]]
[[displacement]]
set = "XMIN"
x = 0.0
y = 0.0
z = 0.0
[[displacement]]
set = "XMAX"
x = 0.0
[temperature]
expression = "293.0 + 250.0 * a"
amplitude = "heat"
[time]
end = 2.0
dt = 0.25
fixed = true
"""

TRAIN = """case = "case.toml"
results = "hf"
[field]
sigma = 40.0
length = 2.0
modes = 4
[draws]
n = {n}
seed = 1000
[dictionary]
clusters = 3
max_clusters = 5
[pod]
tol = 1e-8
max_modes = {modes}
[ecm]
tol = 1e-6
[dual]
fields = ["S", "p"]
tol = 1e-6
"""


def write(folder, n=48):
    """Mesh, case and two training files (4 and 12 modes per ROM, the same HF results) in ``folder``."""
    rc.write_mesh(folder, cells=(12, 2, 2), lengths=(6.0, 1.0, 1.0))
    with open(os.path.join(folder, "case.toml"), "w") as f:
        f.write(CASE)
    for modes in (4, 12):
        with open(os.path.join(folder, f"train{modes}.toml"), "w") as f:
            f.write(TRAIN.format(n=n, modes=modes))
