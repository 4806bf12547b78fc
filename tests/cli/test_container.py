"""`make container` for real: the debian:bookworm base made locally when podman lacks it (debootstrap + podman
import), the runtime stage built with `podman build --isolation chroot`, then run once by
docker/check_image.sh (dromo info at 1 and 2 ranks, gmsh, a 2-rank solve, the UMAT driver's compile).

Too long for the default suite (about 9 min from nothing on 2 cores, downloads ~300 MB): runs only with
DROMO_TEST_CONTAINER=1 (and root); DROMO_TEST_CONTAINER=test also builds the test stage, which runs
`make test` inside the image as a build step."""
import os
import subprocess

import pytest

from .._mpi import ROOT, serial_only

WANT = os.environ.get("DROMO_TEST_CONTAINER", "")
pytestmark = [
    serial_only,
    pytest.mark.skipif(WANT not in ("1", "test"), reason="a full image build (about 9 min, ~300 MB of downloads): "
                                                         "set DROMO_TEST_CONTAINER=1 to run it"),
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (podman's storage, debootstrap)"),
]
IMAGE = "localhost/dromo:test-container"


def _make(target):
    p = subprocess.run(["make", "-C", ROOT, target], capture_output=True, text=True, timeout=3 * 3600,
                       env=dict(os.environ, DROMO_IMAGE=IMAGE))
    assert p.returncode == 0, p.stdout[-4000:] + p.stderr[-4000:]
    return p.stdout


@pytest.mark.timeout(3 * 3600)          # the suite's default (600 s) is shorter than a build
def test_make_container_builds_a_lean_runtime_image_that_runs():
    out = _make("container")
    assert "[check-image] passed" in out and "image checks passed" in out, out[-4000:]
    size = int(subprocess.run(["podman", "--storage-driver", os.environ.get("PODMAN_STORAGE_DRIVER", "vfs"), "image",
                               "inspect", "--format", "{{.Size}}", IMAGE],
                              capture_output=True, text=True, check=True).stdout)
    # lean: 1.7 GB measured; the image of the full set-up (test packages, FEniCSx, compilers' headers) was 3.5 GB
    assert size < 2.2e9, size


@pytest.mark.skipif(WANT != "test", reason="the test stage runs the whole suite: set DROMO_TEST_CONTAINER=test")
@pytest.mark.timeout(6 * 3600)
def test_make_container_test_runs_the_suite_in_the_image():
    _make("container-test")
