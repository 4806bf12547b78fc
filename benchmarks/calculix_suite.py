"""CalculiX's own test suite as dromo's compatibility corpus. Prints one JSON line.

Corpus: the 355 decks of Debian's ``calculix-ccx-test`` (``/usr/share/doc/calculix-ccx-test/examples/
test``, 200 of them gzipped), unpacked to ``benchmarks/out/calculix_suite/`` (git-ignored). Nothing is
installed here: without the package the script says how to get it and exits 1. ``--quick`` runs about
20 decks chosen to cover every stage and every issue-20 fix (well under a minute); the full run all.

Per deck, each stage in turn (a stage that does not apply is *classified*, with the card or element
that stops it, and not counted as a failure):

1. **read**: ``read_inp`` (what ``dromo mesh info DECK.inp`` runs) on decks made only of solid
   elements (C3D4/6/8/8R/8I/10/15/20/20R); decks with beams, shells, plane, springs or fluid elements
   are classified by their element types.
2. **ccx + import**: ``ccx`` 2.20 runs the deck with ``*NODE FILE`` U and ``*NODE PRINT`` U (on a set of
   all nodes) added to every step; decks ccx does not finish are classified. The ``.frd`` is imported
   (``CalculixReader`` → archive, what ``dromo import calculix`` runs) and the archive's U (T for heat
   transfer) must equal an independent line-by-line parse of the ``.frd`` exactly. A refusal that names
   a card changing the ``.frd``'s node set (``*MODEL CHANGE``, ``*CYCLIC SYMMETRY MODEL``,
   ``*PRE-TENSION SECTION``) or a ``.frd`` without mesh (``*SUBSTRUCTURE GENERATE``) is classified.
3. **translate + solve**: ``translate_calculix_deck`` (``dromo case from-calculix``); a deck with any
   card it cannot translate (NLGEOM, contact, dynamics, point loads, ...) is classified by the first
   one. Translated decks run ``dromo solve`` (a subprocess, 1 rank); U is compared with ccx's
   ``*NODE PRINT`` (7 digits) at every time both have: max over time of ‖u − u_ccx‖ / ‖u_ccx‖ within
   1e-6 for linear-elastic decks, 1e-3 for inelastic ones (``*PLASTIC``, ``*CREEP``, ``*USER MATERIAL``).

Figures
-------
read_solid_fraction : solid-only decks read / solid-only decks (every solid type is one dromo has).
import_exact_fraction : decks whose import equals the .frd exactly / decks ccx solved (not classified).
solve_match_fraction : translated decks whose U matches ccx / translated decks.
crashes : tracebacks anywhere (an exception other than dromo's InputError, or a subprocess traceback).
n_decks, n_solid, n_ccx_solved, n_translated : the denominators.

The per-deck table (stage outcomes, reason, error) is written to ``benchmarks/out/calculix_suite.md``.
"""
import argparse
import glob
import gzip
import os
import re
import shutil
import subprocess
import sys
import time
import traceback

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import ROOT, emit  # noqa: E402

sys.path.insert(0, ROOT)             # this checkout's dromo (also for the `dromo solve` subprocesses)

CCX_TESTS = "/usr/share/doc/calculix-ccx-test/examples/test"
OUT = os.path.join(ROOT, "benchmarks", "out")
SOLID = {"C3D4", "C3D6", "C3D8", "C3D8R", "C3D8I", "C3D10", "C3D15", "C3D20", "C3D20R"}
INELASTIC = ("PLASTIC", "CREEP", "USER MATERIAL", "DEFORMATION PLASTICITY")
#: refusals of the import that name a card making ccx write another node set (or none)
NODE_SET_CARDS = ("*MODEL CHANGE", "*CYCLIC SYMMETRY MODEL", "*PRE-TENSION SECTION", "no node block")
QUICK = ["achtel2", "achtelc", "achteld", "beamd", "beamt", "beam10p", "beampsensfreq", "dloadlinI",
         "c3d15", "cubespring", "modelchel", "beamf", "beamhtbf", "beamcontact", "beamnlp", "pret1",
         "shell1", "truss", "spring1", "beamread"]
ALL_NODES = "DROMO_ALL"


class SubprocessCrash(Exception):
    """A traceback in a subprocess's output."""


class Row(dict):
    """One deck's outcomes: read, ccx, import, solve (``ok``, ``FAIL``, ``n/a``, ``CRASH``), the
    reason of the first classification or failure, and the solve error."""

    def __init__(self, name):
        super().__init__(deck=name, elements="", read="n/a", ccx="n/a", import_="n/a", solve="n/a",
                         reason="", error="")

    def classify(self, reason):
        self["reason"] = self["reason"] or reason


def unpack(names, folder):
    """The decks (plain .inp) in ``folder``: {name: path}."""
    os.makedirs(folder, exist_ok=True)
    out = {}
    for name in names:
        src = os.path.join(CCX_TESTS, name + ".inp")
        src = src if os.path.exists(src) else src + ".gz"
        dst = os.path.join(folder, name + ".inp")
        with (gzip.open(src, "rb") if src.endswith(".gz") else open(src, "rb")) as fi, open(dst, "wb") as fo:
            shutil.copyfileobj(fi, fo)
        out[name] = dst
    return out


def element_types(path):
    text = open(path, errors="replace").read()
    return sorted({t.upper() for t in re.findall(r"^\s*\*ELEMENT\b[^\n]*?TYPE\s*=\s*([A-Za-z0-9]+)",
                                                 text, re.M | re.I)})


def ccx_deck(src, dst, node_ids):
    """The deck with a set of all nodes and U written to the .frd and the .dat in every step."""
    text = open(src, errors="replace").read()
    ids = [",".join(map(str, c)) for c in np.array_split(node_ids, max(1, -(-len(node_ids) // 16)))]
    nset = f"*NSET, NSET={ALL_NODES}\n" + "\n".join(ids) + "\n"
    m = re.search(r"^\s*\*\s*STEP\b", text, re.M | re.I)
    if m is None:
        return False
    text = text[:m.start()] + nset + text[m.start():]
    text = re.sub(r"^(\s*\*\s*END\s*STEP)", f"*NODE FILE\nU\n*NODE PRINT, NSET={ALL_NODES}\nU\n\\1",
                  text, flags=re.M | re.I)
    with open(dst, "w") as f:
        f.write(text)
    return True


def run_ccx(folder, name, timeout):
    env = dict(os.environ, OMP_NUM_THREADS="1", CCX_NPROC_EQUATION_SOLVER="1")
    try:
        p = subprocess.run(["ccx", "-i", name], cwd=folder, capture_output=True, text=True,
                           timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return f"ccx did not finish in {timeout} s"
    frd = os.path.join(folder, name + ".frd")
    errors = [l.strip() for l in p.stdout.splitlines() if "*ERROR" in l]
    if p.returncode != 0 or errors or not os.path.exists(frd) or \
            not open(frd, "rb").read()[-8:].strip().endswith(b"9999"):
        return "ccx fails: " + (errors[0] if errors else f"exit status {p.returncode}")[:100]
    return None


def frd_blocks(path, names=("DISP", "NDTEMP")):
    """{block name: [{node id: values}]} parsed line by line (fixed 12-character fields)."""
    out, cur = {}, None
    with open(path, errors="replace") as f:
        for line in f:
            if line.startswith(" -4"):
                name = line[5:13].strip()
                cur = {} if name in names else None
                if cur is not None:
                    out.setdefault(name, []).append(cur)
            elif cur is not None and line.startswith(" -1"):
                body = line.rstrip("\n")
                cur[int(body[3:13])] = [float(body[k:k + 12]) for k in range(13, len(body), 12)]
            elif line.startswith(" -3"):
                cur = None
    return out


def check_import(deck, frd, folder):
    """(ok, message): the archive's U (or T) equals the .frd's values exactly."""
    import h5py
    from mpi4py import MPI

    from dromo.io.adapters import import_results
    from dromo.io.adapters.calculix import CalculixReader
    out = os.path.join(folder, "import.h5")
    import_results(CalculixReader(deck, frd), out, MPI.COMM_WORLD)
    ref = frd_blocks(frd)
    block, field = ("DISP", "U") if "DISP" in ref else ("NDTEMP", "T")
    with h5py.File(out, "r") as f:
        ids = f["mesh/node_ids"][...]
        vals = f[f"fields/{field}/values"][...] if f"fields/{field}" in f else np.zeros((0, 0, 0))
    blocks = ref.get(block, [])
    if len(blocks) != len(vals):
        return False, f"{len(vals)} {field} steps imported, the .frd has {len(blocks)} {block} blocks"
    worst = 0.0
    for k, b in enumerate(blocks):
        exp = np.array([b[i][:vals.shape[2]] for i in ids])
        worst = max(worst, float(np.abs(vals[k] - exp).max(initial=0.0)))
    return worst == 0.0, f"{field}: {len(blocks)} steps, max difference {worst:g}"


def dat_displacements(path):
    """{time: {node id: (ux, uy, uz)}} of the ``*NODE PRINT`` blocks of the set of all nodes."""
    out, cur = {}, None
    head = re.compile(rf"\s*displacements \(vx,vy,vz\) for set {ALL_NODES} and time\s+(\S+)", re.I)
    with open(path, errors="replace") as f:
        for line in f:
            m = head.match(line)
            if m:
                cur = out.setdefault(float(m.group(1)), {})
                continue
            parts = line.split()
            if cur is not None and len(parts) == 4 and parts[0].isdigit():
                cur[int(parts[0])] = [float(v) for v in parts[1:]]
            elif cur is not None and parts and not parts[0].isdigit():
                cur = None
    return out


def solve_and_compare(row, deck, dat, folder, timeout):
    """Translate, solve, compare with ccx; returns the relative error (or raises RuntimeError)."""
    import h5py

    from dromo.io.adapters.calculix_case import translate_calculix_deck
    tr = translate_calculix_deck(deck)
    if tr.warnings:
        row.classify(f"not translated ({len(tr.warnings)}): " + tr.warnings[0].split(": ", 1)[1][:90])
        return None
    case = os.path.join(folder, "case.toml")
    tr.write(case)
    res = os.path.join(folder, "dromo.h5")
    env = dict(os.environ, DROMO_LOG_LEVEL="WARNING", OMP_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join([ROOT] + [p for p in [os.environ.get("PYTHONPATH")] if p]))
    try:
        p = subprocess.run([sys.executable, "-m", "dromo.cli.main", "solve", case, "-o", res],
                           capture_output=True, text=True, timeout=timeout, env=env, cwd=folder)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"dromo solve did not finish in {timeout} s") from None
    if "Traceback" in p.stderr:
        raise SubprocessCrash("dromo solve: " + p.stderr.strip().splitlines()[-1][:150])
    if p.returncode != 0:
        raise RuntimeError("dromo solve: " + (p.stderr.strip().splitlines() or ["?"])[-1][:120])
    ref = dat_displacements(dat)
    with h5py.File(res, "r") as f:
        ids = f["mesh/node_ids"][...]
        times, U = f["fields/U/time"][...], f["fields/U/values"][...]
    worst, n = 0.0, 0
    for t, u_ref in ref.items():
        k = np.flatnonzero(np.isclose(times, t, rtol=1e-6, atol=1e-12))
        exp = np.array([u_ref[i] for i in ids])
        if k.size and np.linalg.norm(exp) > 0:
            worst = max(worst, float(np.linalg.norm(U[k[0]] - exp) / np.linalg.norm(exp)))
            n += 1
    if not n:
        raise RuntimeError(f"no common time with ccx (ccx {sorted(ref)[:3]}, dromo {times[:3]})")
    return worst


def run_deck(name, path, folder, timeout, counts):
    """All stages of one deck; returns its Row."""
    from dromo.errors import InputError
    from dromo.mesh.inp import read_deck
    row = Row(name)
    types = element_types(path)
    row["elements"] = " ".join(types)
    if not types:
        row.classify("no *ELEMENT card (the mesh comes from elsewhere)")
        return row
    if not set(types) <= SOLID:
        row.classify("elements dromo lacks: " + " ".join(sorted(set(types) - SOLID)))
        return row
    counts["solid"] += 1
    stage = "read"
    try:
        deck = read_deck(path)
        row["read"] = "ok"
        counts["read"] += 1
        work = os.path.join(folder, name)
        shutil.rmtree(work, ignore_errors=True)
        os.makedirs(work)
        job = os.path.join(work, name + ".inp")
        if not ccx_deck(path, job, deck.mesh.node_ids):
            row.classify("no *STEP")
            return row
        stage = "ccx"
        why = run_ccx(work, name, timeout)
        if why:
            row["ccx"] = "n/a"
            row.classify(why)
            return row
        row["ccx"] = "ok"
        stage = "import_"
        try:
            ok, msg = check_import(path, os.path.join(work, name + ".frd"), work)
        except InputError as exc:
            card = next((c for c in NODE_SET_CARDS if c in str(exc)), None)
            if card is None:
                raise
            why = "the .frd has no mesh" if card == "no node block" else \
                f"{card}: ccx writes another node set than the deck's"
            row.classify(f"import refused ({why}): " + str(exc).split(": ", 1)[-1][-90:])
            return row
        counts["ccx_solved"] += 1
        row["import_"] = "ok" if ok else "FAIL"
        counts["import_exact"] += ok
        if not ok:
            row["error"] = msg
        stage = "solve"
        kind = "inelastic" if any(c.keyword in INELASTIC for c in deck.cards) else "linear"
        err = solve_and_compare(row, path, os.path.join(work, name + ".dat"), work, 20 * timeout)
        if err is not None:
            counts["translated"] += 1
            tol = 1e-3 if kind == "inelastic" else 1e-6
            row["solve"] = "ok" if err <= tol else "FAIL"
            counts["match"] += row["solve"] == "ok"
            row["error"] = f"U vs ccx ({kind}): {err:.2e} (tolerance {tol:g})"
    except (InputError, RuntimeError) as exc:
        row[stage] = "FAIL"
        row["error"] = str(exc).replace("\n", " ")[:200]
        if stage == "solve":
            counts["translated"] += 1
    except Exception as exc:                # a traceback: what the figure `crashes` counts
        row[stage] = "CRASH"
        row["error"] = f"{type(exc).__name__}: {exc}"[:200]
        counts["crashes"] += 1
        traceback.print_exc()
        if stage == "solve":
            counts["translated"] += 1
    return row


def write_table(rows, path, figures):
    cols = ["deck", "elements", "read", "ccx", "import_", "solve", "reason", "error"]
    lines = ["# CalculiX test suite: per-deck outcomes", "",
             "Figures: " + ", ".join(f"`{k}` = {v:.4g}" for k, v in figures.items()), "",
             "| " + " | ".join(c.rstrip("_") for c in cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        lines.append("| " + " | ".join(str(r[c]).replace("|", "/") for c in cols) + " |")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help=f"{len(QUICK)} decks instead of all")
    ap.add_argument("--decks", nargs="*", help="these decks only (names without .inp)")
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds per ccx run")
    args = ap.parse_args()
    if not os.path.isdir(CCX_TESTS) or shutil.which("ccx") is None:
        sys.exit("calculix_suite: CalculiX's test decks or ccx are missing: install them with "
                 "`apt-get install calculix-ccx calculix-ccx-test` (launch/setup.sh does)")
    os.environ.setdefault("DROMO_LOG_LEVEL", "ERROR")
    from dromo.parallel.log import configure_logging
    configure_logging(os.environ["DROMO_LOG_LEVEL"])
    every = sorted({os.path.basename(p).split(".inp")[0] for p in glob.glob(os.path.join(CCX_TESTS, "*.inp*"))})
    names = args.decks or (QUICK if args.quick else every)
    scratch = os.path.join(OUT, "calculix_suite")
    decks = unpack(names, os.path.join(scratch, "decks"))
    counts = dict.fromkeys(["solid", "read", "ccx_solved", "import_exact", "translated", "match",
                            "crashes"], 0)
    rows, t0 = [], time.time()
    for k, name in enumerate(names):
        rows.append(run_deck(name, decks[name], os.path.join(scratch, "runs"), args.timeout, counts))
        r = rows[-1]
        sys.stderr.write(f"[{k + 1}/{len(names)} {time.time() - t0:.0f} s] {name}: read {r['read']}, "
                         f"import {r['import_']}, solve {r['solve']} {r['reason'] or r['error']}\n")
    frac = lambda a, b: counts[a] / counts[b] if counts[b] else 1.0  # noqa: E731
    figures = {"read_solid_fraction": frac("read", "solid"),
               "import_exact_fraction": frac("import_exact", "ccx_solved"),
               "solve_match_fraction": frac("match", "translated"),
               "crashes": counts["crashes"], "n_decks": len(names), "n_solid": counts["solid"],
               "n_ccx_solved": counts["ccx_solved"], "n_translated": counts["translated"],
               "seconds": round(time.time() - t0, 1)}
    write_table(rows, os.path.join(OUT, "calculix_suite.md"), figures)
    emit("calculix_suite", figures, {"read_solid_fraction": [">=", 1.0], "import_exact_fraction": [">=", 1.0],
                                     "solve_match_fraction": [">=", 0.9], "crashes": ["<=", 0]})


if __name__ == "__main__":
    main()
