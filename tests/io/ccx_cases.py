"""CalculiX cases for the import tests: generated decks solved by ``ccx``, and independent (slow, simple)
readers of the ``.frd`` and ``.dat`` files to compare the importer with."""
import os
import shutil
import subprocess

import numpy as np
import pytest

from dromo.io.adapters import WrappedReader
from dromo.mesh.generate import box_mesh
from dromo.mesh.inp import write_inp

HAVE_CCX = shutil.which("ccx") is not None
needs_ccx = pytest.mark.skipif(not HAVE_CCX, reason="CalculiX (ccx) not installed")

# ANISO_PLAS constants: isotropic C (λ+2μ, λ, ... μ), r0, d1, d2, A, n, m, then the temperature
CONSTANTS = "200000.,80000.,200000.,80000.,80000.,200000.,60000.,60000.,\n60000.,100.,1000.,10000.,1.e-6,3.,0.,0."


def write_case(folder, element="hex8", cells=(2, 1, 1), n_inc=4, name="job", strain=0.004, print_sets=None):
    """Box mesh (with node/element sets and surfaces) in mesh.inp, included by NAME.inp: ANISO_PLAS,
    a *VISCO step of n_inc fixed increments pulling the XMAX face, *NODE FILE U, *EL FILE S,E,
    *EL PRINT S,E,SDV (on ALL, or one card per element set of ``print_sets``, a list of element id lists,
    in that order). Returns the deck path."""
    os.makedirs(folder, exist_ok=True)
    m = box_mesh(*cells, lengths=(2.0, 1.0, 1.0), element=element)
    write_inp(m, os.path.join(folder, "mesh.inp"))
    dt = 1.0 / n_inc
    sets = print_sets or [None]
    elsets = "".join(f"*ELSET,ELSET=P{k}\n" + ",".join(map(str, ids)) + "\n"
                     for k, ids in enumerate(sets) if ids is not None)
    prints = "".join(f"*EL PRINT,ELSET={'ALL' if ids is None else f'P{k}'}\nS,E,SDV\n"
                     for k, ids in enumerate(sets))
    deck = f"""*INCLUDE,INPUT=mesh.inp
{elsets}*NSET,NSET=CORNER
1
*MATERIAL,NAME=ANISO_PLAS_1
*USER MATERIAL,CONSTANTS=15
{CONSTANTS}
*DEPVAR
14
*SOLID SECTION,ELSET=ALL,MATERIAL=ANISO_PLAS_1
*AMPLITUDE,NAME=A1
0.,0.,1.,1.
*STEP,INC=1000
*VISCO,DIRECT,CETOL=1.e-3
{dt},1.
*BOUNDARY
XMIN,1,1,0.
YMIN,2,2,0.
ZMIN,3,3,0.
*BOUNDARY,AMPLITUDE=A1
XMAX,1,1,{2 * strain}
*NODE FILE
U
*EL FILE
S,E
{prints}*END STEP
"""
    path = os.path.join(folder, f"{name}.inp")
    with open(path, "w") as f:
        f.write(deck)
    return path


def run_ccx(deck):
    folder, base = os.path.split(deck)
    job = base[:-4]
    p = subprocess.run(["ccx", job], cwd=folder, capture_output=True, text=True, timeout=120)
    frd = os.path.join(folder, job + ".frd")
    if p.returncode != 0 or not os.path.isfile(frd) or "ERROR" in p.stdout:
        raise RuntimeError(f"ccx failed on {deck}:\n{p.stdout[-2000:]}\n{p.stderr[-2000:]}")
    return frd, os.path.join(folder, job + ".dat")


def read_frd_simple(path):
    """{block name: [(time, ids, values (n, nvals))]} parsed line by line with float()."""
    out = {}
    cur = None
    with open(path) as f:
        lines = f.readlines()
    i = 0
    while i < len(lines):
        l = lines[i]
        if l.startswith("  100C"):
            time = float(l[12:24])
            name = lines[i + 1][5:13].strip()
            ncomp = int(lines[i + 1][13:18])
            stored = [c for c in lines[i + 2:i + 2 + ncomp] if int(c[33:38].strip() or 0) != 1]
            cur = (time, [], [], len(stored))
            out.setdefault(name, []).append(cur)
            i += 2 + ncomp
            continue
        if cur is not None and l.startswith(" -1"):
            cur[1].append(int(l[3:13]))
            cur[2].append([float(l[k:k + 12]) for k in range(13, len(l.rstrip("\n")), 12)])
        elif cur is not None and l.startswith(" -2"):
            cur[2][-1] += [float(l[k:k + 12]) for k in range(13, len(l.rstrip("\n")), 12)]
        elif l.startswith(" -3"):
            cur = None
        i += 1
    return {k: [(t, np.array(ids), np.array(v)) for t, ids, v, _n in blocks] for k, blocks in out.items()}


def read_dat_simple(path):
    """{quantity: [(time, elem ids, ip numbers, values)]} of the *EL PRINT blocks."""
    out = {}
    cur = None
    with open(path) as f:
        for line in f:
            if "(elem, integ.pnt." in line:
                q = line.split("(")[0].strip()
                t = float(line.split("time")[-1])
                cur = (t, [], [], [])
                out.setdefault(q, []).append(cur)
                continue
            parts = line.split()
            if not parts:
                continue
            if "for set" in line:
                cur = None
                continue
            if cur is not None:
                cur[1].append(int(parts[0]))
                cur[2].append(int(parts[1]))
                cur[3].append([float(x) for x in parts[2:]])
    return {q: [(t, np.array(e), np.array(p), np.array(v)) for t, e, p, v in b] for q, b in out.items()}


class SerialPath(WrappedReader):
    """``reader`` with :meth:`defer_values` answering False: every value is parsed on rank 0 and scattered
    (the serial path, which the parallel parsing must reproduce)."""

    def defer_values(self):
        return False


def shuffle_dat_rows(src, dst, seed=0):
    """Copy of the ``.dat`` ``src`` with the rows of every block in a random order."""
    rng = np.random.default_rng(seed)
    lines = open(src, "rb").read().split(b"\n")
    out, rows = [], []
    for line in lines + [b""]:
        if line[:10].strip().isdigit():
            rows.append(line)
            continue
        out += [rows[j] for j in rng.permutation(len(rows))] + [line]
        rows = []
    open(dst, "wb").write(b"\n".join(out[:-1]))
    return dst


class OneRank:
    """A stand-in communicator of one rank (for the cases a serial test prepares)."""
    rank, size = 0, 1

    @staticmethod
    def bcast(obj, root=0):
        return obj


def archive_datasets(path):
    """{dataset name: its bytes} of the HDF5 file ``path`` (bitwise comparisons of archives)."""
    import h5py
    items = {}
    with h5py.File(path, "r") as h:
        h.visititems(lambda name, obj: items.__setitem__(name, obj[...].tobytes())
                     if isinstance(obj, h5py.Dataset) else None)
    return items
