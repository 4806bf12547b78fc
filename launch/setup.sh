#!/usr/bin/env bash
# The single source of dromo's install steps, used by `make setup`, `.ci/run` and docker/Dockerfile.
# Idempotent: installs the Debian packages that are missing, creates .venv/ on /usr/bin/python3 with
# the system site packages (Debian's PETSc/SLEPc/mpi4py/parallel h5py/numpy), installs dromo editable
# with its test extras, keeps pip from replacing Debian's numpy, and writes a hook into the venv so that
# petsc4py/slepc4py import without launch/env.sh.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$here"

# What dromo needs to run (`setup.sh --runtime` installs only these: the container's runtime stage).
RUNTIME_PACKAGES=(
  python3-petsc4py python3-slepc4py python3-mpi4py python3-h5py-mpi python3-numpy python3-scipy
  python3-venv python3-matplotlib openmpi-bin libopenblas0-pthread
  # A `umat` law: dromo compiles its C driver with gcc at run time (string.h: libc6-dev, which gcc only
  # recommends); a user's Fortran UMAT library loads libgfortran5. CalculiX makes the snapshots it imports.
  gcc libc6-dev libgfortran5 calculix-ccx
  # The gmsh wheel (built-in cases are meshed at run time) links libGL, libXrender, libGLU, libXcursor and
  # libXinerama, none of them in a minimal Debian 12 (debootstrap --variant=minbase; found by .ci/minroot).
  libgl1 libxrender1 libglu1-mesa libxcursor1 libxinerama1
  # ROM dictionaries for UQ (dromo dictionary / dromo uq): the classifier from the random field's parameters to
  # a local ROM (k-NN / logistic regression, cross-validation) is scikit-learn, Debian's 1.2.1.
  python3-sklearn
)
# What the tests and benchmarks need on top.
TEST_PACKAGES=(
  python3-pytest python3-pytest-mpi python3-hypothesis calculix-ccx-test gfortran make python3-dolfinx
  # benchmarks/hf_solver.py measures ccx with /usr/bin/time.
  time
  # A one-node SLURM for tests/cli/test_slurm.py (11 small packages, 4 MB; its services stay off without a
  # /etc/slurm/slurm.conf: the test runs its own daemons).
  slurm-wlm munge
)
# `setup.sh --runtime`: the run-time packages and dromo without its test extras (docker/Dockerfile's
# runtime stage); a later plain `setup.sh` adds the rest.
profile=full
APT_PACKAGES=("${RUNTIME_PACKAGES[@]}" "${TEST_PACKAGES[@]}")
EXTRAS="[test]"
if [ "${1:-}" = --runtime ]; then
  profile=runtime
  APT_PACKAGES=("${RUNTIME_PACKAGES[@]}")
  EXTRAS=""
fi

# `setup.sh --list-packages` prints the full list and stops (.ci/minroot keys its cached root on it).
if [ "${1:-}" = --list-packages ]; then
  printf '%s\n' "${APT_PACKAGES[@]}"
  exit 0
fi

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "[setup] installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if [ ! -x .venv/bin/python ]; then
  echo "[setup] creating .venv on /usr/bin/python3 with system site packages"
  /usr/bin/python3 -m venv --system-site-packages .venv
fi

# Pin numpy (and the other Debian scientific packages) to the versions Debian installed.
constraints=.venv/constraints.txt
.venv/bin/python - > "$constraints" <<'PY'
import importlib.metadata as md
for name in ("numpy", "scipy", "h5py", "mpi4py", "petsc4py", "slepc4py"):
    try:
        print(f"{name}=={md.version(name)}")
    except md.PackageNotFoundError:
        pass
PY

stamp=.venv/.dromo-installed
[ "$profile" = runtime ] && stamp=.venv/.dromo-installed-runtime
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "[setup] installing dromo (editable)${EXTRAS:+ with test extras}"
  .venv/bin/python -m pip install -q --no-cache-dir --disable-pip-version-check -c "$constraints" -e ".$EXTRAS"
  touch "$stamp"
fi
# Debian's petsc4py/slepc4py are importable only with PETSC_DIR/SLEPC_DIR set when python starts: a hook in
# the venv sets them (resolved now), so .venv/bin/python and .venv/bin/dromo work from any shell, under
# mpirun, cron or a batch job, without sourcing launch/env.sh.
.venv/bin/python -c 'from dromo._env import write_venv_hook as w; d = w(); print("[setup] venv hook:", d or "none (PETSC_DIR/SLEPC_DIR from the environment)")'
echo "[setup] ready: $(.venv/bin/python -c 'import dromo; print("dromo", dromo.__version__)')"
