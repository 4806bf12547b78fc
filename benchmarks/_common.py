"""Shared helpers of the benchmark scripts: MPI sub-runs, peak memory, the JSON line."""
import json
import os
import resource
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def peak_rss_mb():
    """Peak resident memory of this process [MB] (Linux ru_maxrss is in kB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def proc_status_bytes(key):
    """A ``/proc/self/status`` entry in bytes (``VmRSS``, ``VmHWM`` ...; the kernel gives kB); 0 if absent."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    return 0


def run_ranks(n, script, args, timeout=3600):
    """Run ``script args`` under ``launch/mpirun.sh -n n`` and return the last JSON line it printed."""
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    cmd = [os.path.join(ROOT, "launch", "mpirun.sh"), "-n", str(n), sys.executable, script] + list(args)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    lines = [l for l in p.stdout.splitlines() if l.startswith("{")]
    if p.returncode != 0 or not lines:
        sys.stderr.write(p.stdout[-2000:] + p.stderr[-4000:])
        raise SystemExit(f"{os.path.basename(script)} failed at {n} ranks (rc={p.returncode})")
    return json.loads(lines[-1])


def emit(name, figures, targets):
    """Print the benchmark's one JSON line (also kept in ``benchmarks/out/NAME.json``, git-ignored)."""
    line = json.dumps({"benchmark": name, "figures": figures, "targets": targets})
    print(line, flush=True)
    try:
        out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "out")
        os.makedirs(out, exist_ok=True)
        with open(os.path.join(out, f"{name}.json"), "w") as f:
            f.write(line + "\n")
    except OSError:
        pass
