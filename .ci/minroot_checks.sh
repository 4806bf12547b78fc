#!/usr/bin/env bash
# Runs inside the minimal Debian 12 root that .ci/minroot builds (as root, from a copy of the checkout).
#
# What it runs, and why not the whole suite: `make test` takes 6-8 min on 2 cores and already runs on the
# CI machine; what differs in a minimal root is only which system libraries and programs exist. A missing
# one shows where it is first loaded or called, so the checks below load and call each of them once:
#   * the README's set-up and first command, verbatim: `make demo` (set-up, then the demo on 2 MPI ranks);
#   * every dromo module and every test module imported (`pytest --collect-only`): shared libraries of
#     the wheels and Debian packages (the gmsh wheel needs libGLU, libXcursor, libXinerama, ...);
#   * a built-in case meshed by gmsh, then solved briefly by `dromo solve` under mpirun at 2 ranks;
#   * the programs tests and benchmarks call: ccx (the CalculiX-marked tests), gcc and ffcx's compiler
#     chain (the FEniCSx import tests, which JIT-compile forms), /usr/bin/time and ccx again through
#     `benchmarks/hf_solver.py --quick`. These tests must pass, not skip: a skip is a missing program.
set -euo pipefail
cd /opt/dromo
step() { echo "[minroot] $* (at ${SECONDS} s)"; }

step "apt-get install make (a minimal system has none; the README says so)"
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends make >/dev/null

step "make setup"
make setup
# The root as it is now (apt-get done) is what .ci/minroot caches for the next run.
touch /var/tmp/minroot-setup-done

step "make demo"
make demo

step "/usr/bin/time"
/usr/bin/time -f "max rss %M kB" true

step "import every dromo module"
.venv/bin/python - <<'PY'
import importlib, pkgutil, dromo
names = [m.name for m in pkgutil.walk_packages(dromo.__path__, "dromo.")]
for name in names:
    importlib.import_module(name)
print(f"{len(names)} modules imported")
PY

step "collect every test module"
.venv/bin/python -m pytest -p no:cacheprovider --collect-only -q tests | tail -1

step "gmsh: a built-in case meshed, then 2 increments of dromo solve at 2 ranks"
rm -rf /tmp/plate && .venv/bin/dromo case write holed_plate /tmp/plate
sed -i 's/^end = .*/end = 0.5/' /tmp/plate/case.toml
launch/mpirun.sh -n 2 .venv/bin/dromo solve /tmp/plate/case.toml -o /tmp/plate/result.h5

step "tests that call ccx, gcc and dolfinx (none may skip)"
out=$(.venv/bin/python -m pytest -p no:cacheprovider --with-mpi -q -rs \
        tests/io/test_import_fenicsx.py tests/materials/test_materials_umat.py tests/hf/test_hf_calculix.py 2>&1) ||
  { echo "$out"; exit 1; }
echo "$out" | tail -3
if echo "$out" | grep -q "skipped"; then echo "$out" | grep -i skip; exit 1; fi

step "benchmarks/hf_solver.py --quick (/usr/bin/time, ccx)"
.venv/bin/python benchmarks/hf_solver.py --quick | cut -c1-200

step "all checks passed"
