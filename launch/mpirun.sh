#!/usr/bin/env bash
# dromo's MPI launcher: `launch/mpirun.sh -n P COMMAND ...`.
# Adds --oversubscribe (ranks may exceed cores on small machines), the root flags, and the PETSc/BLAS
# environment of launch/env.sh. Everything after -n P is passed to mpirun unchanged.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=env.sh
. "$here/env.sh"
exec mpirun --oversubscribe "$@"
