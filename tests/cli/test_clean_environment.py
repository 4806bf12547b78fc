"""The venv's ``python`` and ``dromo`` work from a clean environment: no ``launch/env.sh``, no ``PETSC_DIR``,
``SLEPC_DIR`` or ``PYTHONPATH`` (a fresh shell, cron, a batch job), serially and under ``mpirun``."""
import os
import re
import shutil
import subprocess
import sys

import pytest

from .._mpi import ROOT, serial_only

pytestmark = serial_only

BIN = os.path.dirname(sys.executable)          # the venv the tests run in (launch/setup.sh made it)


def clean_env():
    """What cron gives a job: a minimal PATH and HOME, nothing of launch/env.sh or of this process."""
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root"), "LANG": "C.UTF-8"}


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=clean_env(), **kw)


def test_python_imports_the_stack_without_the_environment_file():
    p = run([sys.executable, "-c", "import dromo, petsc4py, slepc4py\n"
             "from petsc4py import PETSc\nfrom slepc4py import SLEPc\nprint(PETSc.Sys.getVersion())"],
            cwd="/")
    assert p.returncode == 0, p.stderr[-2000:]


def test_console_script_runs_without_the_environment_file():
    p = run([os.path.join(BIN, "dromo"), "info"], cwd="/")
    assert p.returncode == 0, p.stderr[-2000:]
    assert "petsc" in p.stdout and "slepc" in p.stdout and "mpi world size  1" in p.stdout


@pytest.mark.skipif(shutil.which("mpirun", path=clean_env()["PATH"]) is None, reason="no mpirun")
def test_console_script_runs_under_plain_mpirun_without_the_environment_file():
    flags = ["--allow-run-as-root"] if os.geteuid() == 0 else []
    p = run(["mpirun", *flags, "--oversubscribe", "-n", "2", os.path.join(BIN, "dromo"), "info"], cwd="/")
    assert p.returncode == 0, p.stderr[-2000:]
    assert "mpi world size  2" in p.stdout and p.stdout.count("petsc ") == 1


def readme_info_lines():
    """The README's quick-start lines that run ``dromo info`` (first fenced bash block after set-up)."""
    with open(os.path.join(ROOT, "README.md")) as f:
        text = f.read()
    block = re.search(r"After set-up.*?```bash\n(.*?)```", text, re.S).group(1)
    return [line.split("#")[0].strip() for line in block.splitlines() if "dromo info" in line]


@pytest.mark.skipif(not os.path.exists(os.path.join(ROOT, ".venv", "bin", "dromo")), reason="no .venv")
def test_readme_quick_start_verbatim_in_a_fresh_shell():
    lines = readme_info_lines()
    assert any("-n 2" in line for line in lines) and any("mpirun" not in line for line in lines), lines
    for line in lines:
        p = run(["bash", "--noprofile", "--norc", "-c", line], cwd=ROOT)
        assert p.returncode == 0, (line, p.stderr[-2000:])
        assert "mpi world size" in p.stdout, (line, p.stdout)
