"""``benchmarks/summary.py`` (``make bench``): it runs benchmarks (here the quick materials one, seconds), keeps
their JSON lines, and writes a summary with the machine, every target against its figure, and plot links; a
benchmark that fails is reported as such and makes the run fail."""
import json
import os
import subprocess
import sys

from ._mpi import ROOT, mpi_env, serial_only

pytestmark = serial_only
SCRIPT = os.path.join(ROOT, "benchmarks", "summary.py")


def _summary(args, out):
    return subprocess.run([sys.executable, SCRIPT, "--out", str(out)] + args, capture_output=True, text=True,
                          timeout=600, env=mpi_env({"PYTHONPATH": ROOT}))


def test_summary_of_a_quick_benchmark_run(tmp_path):
    out = tmp_path / "out"
    p = _summary(["--run", "--quick", "--only", "materials"], out)
    assert p.returncode == 0, p.stderr[-3000:]
    d = json.loads((out / "materials.json").read_text())
    runs = json.loads((out / "runs.json").read_text())
    assert runs["materials"]["status"] == "ok" and runs["materials"]["quick"] is True
    text = (out / "summary.md").read_text()
    uname = subprocess.run(["uname", "-a"], capture_output=True, text=True).stdout.strip()
    assert f"`{uname}`" in text and f"CPUs: {os.cpu_count()}" in text and "versions run: quick" in text
    rows = {ln.split("|")[1].strip(): [c.strip() for c in ln.strip().strip("|").split("|")]
            for ln in text.splitlines() if ln.startswith("| us_per_point")}
    assert d["targets"] and set(d["targets"]) <= set(rows)
    ops = {"<=": float.__le__, ">=": float.__ge__, "<": float.__lt__, ">": float.__gt__}
    for k, (op, target) in d["targets"].items():
        name, value, tgt, verdict = rows[k]
        assert float(value) == float(f"{d['figures'][k]:.4g}")
        met = ops[op](float(d["figures"][k]), float(target))
        assert verdict == ("met" if met else "**missed**")
    n_met = sum(r[3] == "met" for r in rows.values() if r[0] in d["targets"])
    assert f"| [materials](#materials) | ok | {n_met}/{len(d['targets'])} |" in text
    # plots the benchmark left in the folder are linked; re-summarizing needs no run
    (out / "materials_points.png").write_bytes(b"\x89PNG\r\n")
    p = _summary([], out)
    assert p.returncode == 0, p.stderr
    assert "[materials_points.png](materials_points.png)" in (out / "summary.md").read_text()


def test_a_failing_benchmark_is_reported_and_fails_the_run(tmp_path):
    out = tmp_path / "out"
    p = _summary(["--run", "--only", "no_such_benchmark"], out)
    assert p.returncode == 1
    text = (out / "summary.md").read_text()
    assert "| [no_such_benchmark](#no_such_benchmark) | failed (exit status 2) | – |" in text
