"""The nonintrusive path: a reduced model trained on CalculiX results predicts another CalculiX run.

The user's workflow, with nothing rewritten by hand: two ccx runs of an ANISO_PLAS bar deck (a sine
amplitude on the imposed end displacement, two magnitudes) are imported with ``dromo import calculix
--case``, which also writes the equivalent dromo case file; ``dromo offline`` trains on the two archives;
the online case of another amplitude is that case file with its amplitude table changed; ``dromo online``
predicts it and ``dromo compare`` measures it against a third ccx run of that amplitude: u within 1 %,
p within 3 % (the model's own law is dromo's ANISO_PLAS, which matches ccx to about 1e-3).
"""
import json
import os
import re
import shutil
import subprocess

import pytest

from .._mpi import dromo_cmd, run_mpi, serial_only
from ..hf import test_hf_calculix as hfc

pytestmark = [pytest.mark.calculix,
              pytest.mark.skipif(shutil.which("ccx") is None, reason="CalculiX (ccx) not installed")]


def _deck(folder, u_end):
    """The ANISO_PLAS bar deck of tests/hf/test_hf_calculix.py with end displacement ``u_end`` and the
    outputs an import needs (U in the .frd, S and SDV at the integration points in the .dat)."""
    os.makedirs(folder, exist_ok=True)
    path = hfc.write_deck(folder, hfc._mesh())
    text = open(path).read()
    text = text.replace(f"XMAX,1,1,{hfc.U_END}", f"XMAX,1,1,{u_end}")
    text = text.replace("*NODE PRINT, NSET=NALL\nU\n*EL PRINT, ELSET=ALL\nSDV",
                        "*NODE FILE\nU\n*EL PRINT, ELSET=ALL\nS, SDV")
    assert f"XMAX,1,1,{u_end}" in text and "*NODE FILE" in text
    with open(path, "w") as f:
        f.write(text)
    p = subprocess.run(["ccx", "-i", "job"], cwd=folder, capture_output=True, text=True, timeout=300,
                       env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert p.returncode == 0, p.stdout[-2000:]
    return path


def _import(folder, name):
    deck = os.path.join(folder, "job.inp")
    out = os.path.join(folder, "..", f"{name}.h5")
    case = os.path.join(folder, "..", f"{name}.toml")
    p = run_mpi(2, dromo_cmd() + ["import", "calculix", deck, os.path.join(folder, "job.frd"), "--dat",
                                  os.path.join(folder, "job.dat"), "-o", out, "--case", case], timeout=300)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-3000:]
    return os.path.abspath(out), os.path.abspath(case)


@serial_only
def test_rom_trained_on_calculix_predicts_another_calculix_run(tmp_path):
    d = str(tmp_path)
    runs = {}
    for name, u_end in (("a", 0.010), ("b", 0.014), ("ref", 0.012)):
        _deck(os.path.join(d, name), u_end)
        runs[name] = _import(os.path.join(d, name), name)
    with open(os.path.join(d, "train.toml"), "w") as f:
        for name in ("a", "b"):
            f.write(f'[[run]]\ncase = "{name}.toml"\narchive = "{name}.h5"\n')
        f.write('[pod]\ntol = 1e-6\n[ecm]\ntol = 1e-5\n[dual]\nfields = ["S", "p"]\ntol = 1e-6\n')
    p = run_mpi(2, dromo_cmd() + ["offline", os.path.join(d, "train.toml"), "-o", os.path.join(d, "rom.h5")],
                timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    # the online case: the translated case of run a with its amplitude table scaled to the new magnitude
    text = open(runs["a"][1]).read()
    scale = 0.012 / 0.010
    m = re.search(r"\[amplitudes\](.*?)(\n\[|\Z)", text, flags=re.S)
    assert m, text[:2000]

    def scaled(block):
        return re.sub(r"\[\s*([-0-9.eE+]+)\s*,\s*([-0-9.eE+]+)\s*\]",
                      lambda mm: f"[{mm.group(1)}, {float(mm.group(2)) * scale!r}]", block)
    online = text[:m.start(1)] + scaled(m.group(1)) + text[m.end(1):]
    assert online != text
    case = os.path.join(d, "online.toml")
    with open(case, "w") as f:
        f.write(online)
    out = os.path.join(d, "rom_ref.h5")
    p = run_mpi(1, dromo_cmd() + ["online", os.path.join(d, "rom.h5"), case, "-o", out, "--reconstruct", "U", "p"],
                timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    # ccx writes no step at t = 0: that one is skipped
    p = run_mpi(1, dromo_cmd() + ["compare", out, runs["ref"][0], "--fields", "U", "p", "--skip-outside",
                                  "--json", os.path.join(d, "cmp.json")])
    assert p.returncode == 0, p.stderr[-3000:]
    with open(os.path.join(d, "cmp.json")) as f:
        figs = json.load(f)
    figs = figs.get("fields", figs)
    assert figs["U"]["max_rel_error"] <= 1e-2, figs["U"]["max_rel_error"]
    assert figs["p"]["max_rel_error"] <= 3e-2, figs["p"]["max_rel_error"]
