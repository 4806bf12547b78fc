"""``make bench`` / ``make bench-quick``: run every benchmark and write ``benchmarks/out/summary.md``.

Each benchmark prints one JSON line ``{"benchmark", "figures", "targets"[, "notes"]}`` (targets:
``{figure: [op, value]}``, op one of ``>=``, ``>``, ``<=``, ``<``). With ``--run`` every benchmark script of
this folder runs in turn (its full version; ``--quick`` its quick one), its JSON line is kept in
``OUT/<name>.json`` together with its status and wall time (``OUT/runs.json``); a failed benchmark is
reported and the others still run. The summary (``OUT/summary.md``) says on which machine it ran
(``uname -a``, CPU count, Python, date, git commit), then per benchmark each figure that has a target
against it (met or missed), the other figures, the notes and links to the PNG plots it wrote in ``OUT``
(those named ``<name>*.png``).

    .venv/bin/python benchmarks/summary.py --run            # every full benchmark (hours), then the summary
    .venv/bin/python benchmarks/summary.py --run --quick    # their --quick versions (minutes)
    .venv/bin/python benchmarks/summary.py                  # the summary of the JSON files already in OUT
"""
import argparse
import datetime
import glob
import json
import os
import platform
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "out")
OPS = {">=": lambda a, b: a >= b, ">": lambda a, b: a > b, "<=": lambda a, b: a <= b, "<": lambda a, b: a < b}
SYMBOL = {">=": "≥", ">": ">", "<=": "≤", "<": "<"}


def benchmarks():
    """Names of the benchmark scripts of this folder (not the helpers ``_*.py`` nor this one)."""
    names = [os.path.splitext(os.path.basename(p))[0] for p in glob.glob(os.path.join(HERE, "[!_]*.py"))]
    return sorted(n for n in names if n != "summary")


def run_all(names, out, quick=False, timeout=None):
    """Run the benchmarks ``names`` one after the other; keep each JSON line in ``out/<name>.json`` and
    the status and wall time of every run in ``out/runs.json``. Returns that dict."""
    os.makedirs(out, exist_ok=True)
    runs = {}
    for name in names:
        path = os.path.join(out, f"{name}.json")
        if os.path.exists(path):
            os.remove(path)                                   # never report a stale result
        cmd = [sys.executable, os.path.join(HERE, f"{name}.py")] + (["--quick"] if quick else [])
        print(f"== benchmarks/{name}.py{' --quick' if quick else ''}", flush=True)
        tic = time.perf_counter()
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
            rc, stdout, stderr = p.returncode, p.stdout, p.stderr
        except subprocess.TimeoutExpired as e:
            rc, stdout, stderr = "timeout", e.stdout or "", f"timed out after {timeout} s"
        seconds = time.perf_counter() - tic
        lines = [ln for ln in (stdout if isinstance(stdout, str) else stdout.decode()).splitlines()
                 if ln.startswith('{"benchmark"')]
        status = "ok" if rc == 0 and lines else f"failed (exit status {rc})"
        if lines:
            with open(path, "w") as f:
                f.write(lines[-1] + "\n")
        else:
            sys.stderr.write(str(stderr)[-3000:])
        runs[name] = {"status": status, "seconds": seconds, "quick": quick}
        print((lines[-1] + "\n" if lines else "") + f"   {status}, {seconds:.0f} s", flush=True)
    with open(os.path.join(out, "runs.json"), "w") as f:
        json.dump(runs, f, indent=1)
    return runs


def machine():
    """Lines saying where the benchmarks ran."""
    try:
        uname = subprocess.run(["uname", "-a"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        uname = " ".join(platform.uname())
    try:
        commit = subprocess.run(["git", "-C", HERE, "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return [f"- machine: `{uname}`", f"- CPUs: {os.cpu_count()}", f"- Python {platform.python_version()}, "
            f"dromo commit {commit}, summary written {now}"]


def fmt(v):
    """A figure's value, short."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return f"`{json.dumps(v)}`" if not isinstance(v, str) else v
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def check(figures, targets):
    """``[(figure, value, op, target, met)]``; a figure the benchmark did not report is missed."""
    rows = []
    for k, (op, target) in targets.items():
        v = figures.get(k)
        met = isinstance(v, (int, float)) and not isinstance(v, bool) and OPS[op](v, target)
        rows.append((k, v, op, target, bool(met)))
    return rows


def write_summary(out=OUT, path=None):
    """Write ``out/summary.md`` (or ``path``) from the JSON files and ``runs.json`` of ``out``. Returns
    its text."""
    runs = {}
    if os.path.exists(os.path.join(out, "runs.json")):
        with open(os.path.join(out, "runs.json")) as f:
            runs = json.load(f)
    results = {}
    for p in sorted(glob.glob(os.path.join(out, "*.json"))):
        if os.path.basename(p) != "runs.json":
            with open(p) as f:
                d = json.loads(f.read().strip().splitlines()[-1])
            results[d.get("benchmark", os.path.splitext(os.path.basename(p))[0])] = d
    mode = {"quick" if r.get("quick") else "full" for r in runs.values()}
    lines = ["# dromo benchmarks: summary", ""] + machine() + [
        f"- versions run: {', '.join(sorted(mode)) if mode else 'unknown (JSON files found in the folder)'}", "",
        "| benchmark | status | targets met | wall time [s] |", "|---|---|---|---|"]
    for name in sorted(set(results) | set(runs)):
        r, d = runs.get(name, {}), results.get(name)
        rows = check(d["figures"], d.get("targets", {})) if d else []
        met = f"{sum(x[4] for x in rows)}/{len(rows)}" if d else "–"
        secs = f"{r['seconds']:.0f}" if "seconds" in r else "–"
        lines.append(f"| [{name}](#{name}) | {r.get('status', 'ok' if d else 'no result')} | {met} | {secs} |")
    for name, d in results.items():
        lines += ["", f"## {name}", "", "| figure | value | target | |", "|---|---|---|---|"]
        rows = check(d["figures"], d.get("targets", {}))
        lines += [f"| {k} | {fmt(v)} | {SYMBOL[op]} {fmt(t)} | {'met' if ok else '**missed**'} |"
                  for k, v, op, t, ok in rows]
        other = [f"{k} = {fmt(v)}" for k, v in d["figures"].items() if k not in d.get("targets", {})]
        if other:
            lines += ["", "Other figures: " + "; ".join(other) + "."]
        if d.get("notes"):
            lines += ["", f"Notes: {d['notes']}"]
        plots = sorted(os.path.basename(p) for p in glob.glob(os.path.join(out, f"{name}*.png")))
        lines += ["", "Plots: " + (", ".join(f"[{p}]({p})" for p in plots) if plots else "none.")]
    text = "\n".join(lines) + "\n"
    with open(path or os.path.join(out, "summary.md"), "w") as f:
        f.write(text)
    return text


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", action="store_true", help="run the benchmarks first")
    ap.add_argument("--quick", action="store_true", help="with --run: their --quick versions")
    ap.add_argument("--only", nargs="+", default=None, help="with --run: these benchmarks only")
    ap.add_argument("--timeout", type=float, default=None, help="with --run: seconds per benchmark")
    ap.add_argument("--out", default=OUT, help="folder of the JSON files and of summary.md (default benchmarks/out)")
    a = ap.parse_args()
    runs = run_all(a.only or benchmarks(), a.out, a.quick, a.timeout) if a.run else {}
    write_summary(a.out)
    print(f"wrote {os.path.join(a.out, 'summary.md')}")
    return 1 if any(r["status"] != "ok" for r in runs.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
