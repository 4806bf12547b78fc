"""Helpers for the CalculiX comparison: a one-hex8 ANISO_PLAS deck and a reader for *EL PRINT blocks."""
import re

import numpy as np

NODES = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0],
                  [0, 0, 1], [1, 0, 1], [1, 1, 1], [0, 1, 1]], dtype=float)


def write_deck(path, constants, H, dt, t_end, period, procedure="VISCO"):
    """Unit cube, all 8 nodes driven by u = amp(t)·H x (homogeneous strain ε = amp(t)·H, H symmetric).

    The sine amplitude is tabulated at every increment time, so the imposed strain at each increment
    end is exactly sin(2π t / period)·H.
    """
    ts = np.arange(0.0, t_end + 0.5 * dt, dt)
    amp = np.sin(2.0 * np.pi * ts / period)
    L = ["*NODE"]
    L += [f"{i + 1},{x[0]:.1f},{x[1]:.1f},{x[2]:.1f}" for i, x in enumerate(NODES)]
    L += ["*ELEMENT,TYPE=C3D8,ELSET=E1", "1,1,2,3,4,5,6,7,8",
          "*MATERIAL,NAME=ANISO_PLAS_1", "*USER MATERIAL,CONSTANTS=15"]
    vals = [f"{v:.10e}" for v in list(constants) + [0.0]]
    L += [",".join(vals[:8]), ",".join(vals[8:])]
    L += ["*DEPVAR", "14", "*SOLID SECTION,ELSET=E1,MATERIAL=ANISO_PLAS_1", "*AMPLITUDE,NAME=A1"]
    L += [f"{t:.10f},{a:.15f}" for t, a in zip(ts, amp)]
    if procedure == "VISCO":
        L += ["*STEP,INC=100000", "*VISCO,DIRECT,CETOL=1.e-3", f"{dt},{t_end}"]
    else:
        L += ["*STEP,INC=100000", "*STATIC,DIRECT", f"{dt},{t_end}"]
    L += ["*BOUNDARY,AMPLITUDE=A1"]
    for i, x in enumerate(NODES):
        u = H @ x
        L += [f"{i + 1},{d + 1},{d + 1},{u[d]:.12e}" for d in range(3)]
    L += ["*EL PRINT,ELSET=E1", "S,E,SDV", "*END STEP"]
    with open(path, "w") as f:
        f.write("\n".join(L) + "\n")
    return ts[1:], amp[1:]


def read_dat(path):
    """{'stresses': (times, (nt, 6)), 'strains': ..., 'internal state variables': ...} at int. point 1."""
    out = {}
    cur = None
    with open(path) as f:
        for line in f:
            m = re.match(r"\s*(stresses|strains|internal state variables) \(.*time\s+(\S+)", line)
            if m:
                cur = out.setdefault(m.group(1), ([], []))
                cur[0].append(float(m.group(2)))
                take = True
                continue
            parts = line.split()
            if cur is not None and len(parts) > 2 and take:
                if parts[0] == "1" and parts[1] == "1":
                    cur[1].append([float(v) for v in parts[2:]])
                    take = False
    return {k: (np.array(t), np.array(v)) for k, (t, v) in out.items()}
