# dromo: the two commands a newcomer needs are `make demo` and `make test` (each sets up first).
SHELL := /bin/bash
PY := .venv/bin/python
MPI := launch/mpirun.sh
ENV := source launch/env.sh &&
PYTEST := -m pytest -p no:cacheprovider --with-mpi
# Upper bound for one MPI pytest run, so that a hang fails instead of blocking CI.
MPI_TIMEOUT ?= 1800

.PHONY: setup demo test test-serial test-mpi2 test-mpi3 bench bench-quick test-minroot container container-test container-archive clean

setup:
	bash launch/setup.sh

demo: setup
	$(ENV) $(MPI) -n 2 $(PY) -m dromo.cli.main demo --out demo-output

test: setup
	$(MAKE) test-serial test-mpi2 test-mpi3 bench-quick

test-serial:
	$(ENV) $(PY) $(PYTEST) tests

test-mpi2:
	$(ENV) timeout $(MPI_TIMEOUT) $(MPI) -n 2 $(PY) $(PYTEST) -m mpi tests

test-mpi3:
	$(ENV) timeout $(MPI_TIMEOUT) $(MPI) -n 3 $(PY) $(PYTEST) -m mpi tests

# every full benchmark (hours), then benchmarks/out/summary.md (figures against targets, machine, plots)
bench: setup
	$(ENV) $(PY) benchmarks/summary.py --run

# every benchmark's --quick version (minutes), then benchmarks/out/summary.md
bench-quick:
	$(ENV) $(PY) benchmarks/summary.py --run --quick

# The set-up on a minimal Debian 12 (debootstrap + chroot, as root; skipped with the reason elsewhere). Run by
# CI after `make test`, not by `make test`: it downloads a Debian root and the set-up's packages (~1 GB).
test-minroot:
	bash .ci/minroot

# The container image without a registry (docker/build.sh: debian:bookworm made locally with debootstrap +
# podman import when missing, podman build --isolation chroot, vfs storage; root; installs podman if missing).
# container: the runtime stage -> localhost/dromo:latest, run once by docker/check_image.sh (~9 min from nothing).
# container-test: the test stage, which runs `make test` as a build step (the runtime stage + `make test`).
# container-archive: the runtime stage saved as a docker-archive (build/dromo-image.tar; for apptainer build).
container:
	bash docker/build.sh runtime

container-test:
	bash docker/build.sh test

container-archive:
	bash docker/build.sh archive

clean:
	rm -rf demo-output .pytest-mpi
