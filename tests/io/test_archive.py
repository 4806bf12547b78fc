"""The dromo archive: collective writes, any-rank-count reads, atomicity, XDMF, clear errors."""
import os
import sys
import textwrap
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from mpi4py import MPI

from dromo.errors import DromoError, InputError
from dromo.io.archive import Archive
from dromo.mesh.distributed import DistributedMesh
from dromo.mesh.generate import box_mesh

from .._mpi import run_mpi, serial_only


def _nodal(x, t):
    return np.stack([np.sin(x[:, 0] + t), x[:, 1] * t, np.cos(x[:, 2] * t)], 1)


def write_case(path, comm, mesh=None, steps=3):
    """Mesh + a nodal series + an ip series, values defined by natural coordinates."""
    from dromo.fem.operators import ip_coordinates
    mesh = mesh or box_mesh(3, 2, 2, element="hex20", distort=0.1)
    dm = DistributedMesh(mesh, comm)
    rn, ri = dm.redistributor("node"), dm.redistributor("ip")
    xn = dm.points[:dm.n_owned_nodes]
    xi = ip_coordinates(dm)
    with Archive.create(path, comm, attrs={"case": "test"}) as ar:
        ar.write_mesh(mesh)
        ar.create_field("U", "node", 3, components=["x", "y", "z"], units="mm", n_parameters=1)
        ar.create_field("p", "ip", 1, units="-")
        for k in range(steps):
            t = 0.5 * (k + 1)
            ar.append_step("U", rn.owned_to_natural(_nodal(xn, t)), t, [10.0 * k])
            ar.append_step("p", ri.owned_to_natural(xi[:, :1] * t), t)
    return mesh


def check_case(path, comm, steps=3):
    with Archive.open(path, comm) as ar:
        mesh = ar.read_mesh()
        info = ar.field_info("U")
        assert info["n_steps"] == steps and info["units"] == "mm" and info["components"] == ["x", "y", "z"]
        assert np.allclose(info["time"], 0.5 * np.arange(1, steps + 1))
        assert np.allclose(info["parameters"][:, 0], 10.0 * np.arange(steps))
        dm = DistributedMesh(mesh, comm)
        src = ar.field_source("U", dm.redistributor("node"))
        block = src.read(0, steps).reshape(dm.n_owned_nodes, 3, steps)
        for k in range(steps):
            assert np.array_equal(block[:, :, k], _nodal(dm.points[:dm.n_owned_nodes], 0.5 * (k + 1)))
        from dromo.fem.operators import ip_coordinates
        p = ar.field_source("p", dm.redistributor("ip")).read(1, 2)[:, 0]
        assert np.array_equal(p, ip_coordinates(dm)[:, 0] * 1.0)
        assert "field U, step 1, time 1" in src.label(1)
    return mesh


@pytest.mark.mpi
def test_write_and_read_back(shared_tmp, comm):
    path = shared_tmp / "a.h5"
    mesh = write_case(str(path), comm)
    back = check_case(str(path), comm)
    assert back.equals(mesh)
    assert (shared_tmp / "a.xdmf").exists()
    assert not [f for f in os.listdir(shared_tmp) if ".tmp-" in f]


@serial_only
def test_archive_written_at_3_ranks_reads_at_1_and_2(tmp_path):
    path = tmp_path / "three.h5"
    script = tmp_path / "w.py"
    script.write_text(textwrap.dedent(f"""
        import sys; sys.path.insert(0, {os.path.dirname(os.path.dirname(os.path.dirname(__file__)))!r})
        from mpi4py import MPI
        from tests.io.test_archive import write_case, check_case
        write_case({str(path)!r}, MPI.COMM_WORLD)
        check_case({str(path)!r}, MPI.COMM_WORLD)
        """))
    p = run_mpi(3, [sys.executable, str(script)])
    assert p.returncode == 0, p.stderr[-3000:]
    check_case(str(path), MPI.COMM_WORLD)              # 1 rank, in this process
    script.write_text(script.read_text().replace("write_case(", "(lambda *a: None)("))
    p = run_mpi(2, [sys.executable, str(script)])
    assert p.returncode == 0, p.stderr[-3000:]
    # and the bytes of the data are those a 1-rank write produces
    write_case(str(tmp_path / "one.h5"), MPI.COMM_WORLD)
    import h5py
    with h5py.File(path, "r") as a, h5py.File(tmp_path / "one.h5", "r") as b:
        for name in ("fields/U/values", "fields/p/values", "mesh/points"):
            assert np.array_equal(a[name][...], b[name][...])
        assert a.attrs["n_ranks_written"] == 3


@pytest.mark.mpi
def test_failed_write_leaves_nothing(shared_tmp, comm):
    path = shared_tmp / "broken.h5"
    with pytest.raises(DromoError):
        with Archive.create(str(path), comm) as ar:
            ar.write_mesh(box_mesh(2, 2, 2))
            ar.create_field("U", "node", 3)
            from dromo.parallel import collective
            with collective(comm):
                if comm.rank == comm.size - 1:
                    raise InputError("simulated failure while computing a step")
    comm.Barrier()
    assert not path.exists()
    assert not [f for f in os.listdir(shared_tmp) if f.startswith("broken")]


@pytest.mark.mpi
def test_bad_archives_give_clear_errors(shared_tmp, comm):
    with pytest.raises(InputError, match="no such archive"):
        Archive.open(str(shared_tmp / "missing.h5"), comm)
    junk = shared_tmp / "junk.h5"
    if comm.rank == 0:
        junk.write_bytes(b"not an hdf5 file at all")
    comm.Barrier()
    with pytest.raises(InputError, match="junk.h5"):
        Archive.open(str(junk), comm)
    path = shared_tmp / "ok.h5"
    write_case(str(path), comm, steps=1)
    with Archive.open(str(path), comm) as ar:
        with pytest.raises(InputError, match="no field 'S'"):
            ar.field_info("S")
        mesh = box_mesh(2, 2, 2)          # a different mesh: sizes do not match the stored field
        dm = DistributedMesh(mesh, comm)
        with pytest.raises(InputError, match="items"):
            ar.field_source("U", dm.redistributor("node"))


@serial_only
def test_xdmf_sidecar_references_existing_datasets(tmp_path):
    path = tmp_path / "x.h5"
    write_case(str(path), MPI.COMM_WORLD)
    tree = ET.parse(tmp_path / "x.xdmf")
    import h5py
    times = [float(t.get("Value")) for t in tree.iter("Time")]
    assert times == [0.5, 1.0, 1.5]
    with h5py.File(path, "r") as f:
        for item in tree.iter("DataItem"):
            if item.get("Format") == "HDF":
                fname, dset = item.text.split(":")
                assert fname == "x.h5" and dset in f
                assert tuple(int(d) for d in item.get("Dimensions").split()) == f[dset].shape
    names = {a.get("Name") for a in tree.iter("Attribute")}
    assert "U" in names


@pytest.mark.mpi
def test_fields_with_fewer_items_than_ranks(shared_tmp, comm):
    """A rank with no item of a field still takes part in the collective writes and reads."""
    path = str(shared_tmp / "tiny.h5")
    with Archive.create(path, comm) as ar:
        ar.write_mesh(box_mesh(1, 1, 1))
        ar.create_field("g", "global", 2)
        from dromo.parallel import partition_range
        s, e = partition_range(1, comm)
        for k in range(3):
            ar.append_step("g", np.full((e - s, 2), float(k)), k)
        ar.write_field("two", "global", np.ones((4, e - s, 1)), times=np.arange(4.0))
    with Archive.open(path, comm) as ar:
        block = ar.read_steps("g", slice(0, 3))
        assert block.shape == (3, e - s, 2)
        if e > s:
            assert np.array_equal(block[:, 0, 0], [0.0, 1.0, 2.0])
        assert ar.field_info("two")["n_steps"] == 4


@pytest.mark.mpi
@pytest.mark.parametrize("n_items", [1, 11])
def test_natural_arrays_attributes_groups_and_truncation(shared_tmp, comm, n_items):
    """write_natural/read_natural (any rank count, ranks without items included), attributes on groups,
    require_group/has/delete, truncate_steps of every field."""
    from dromo.parallel import partition_range
    path = str(shared_tmp / "natural.h5")
    full = np.arange(n_items * 4, dtype=float).reshape(n_items, 2, 2)
    s, e = partition_range(n_items, comm)
    with Archive.create(path, comm) as ar:
        ar.write_mesh(box_mesh(1, 1, 1))
        ar.write_natural("checkpoint/u", full[s:e], n_items)
        ar.write_natural("checkpoint/u", full[s:e] + 1.0, n_items)           # replaced
        assert ar.require_group("rom/points") == "rom/points" and ar.has("rom/points")
        ar.set_attrs("checkpoint", {"time": 1.5, "increment": 3, "name": "x", "n_state": [2, 7]})
        ar.set_attrs("rom/dual/S", {"n_components": 6})                     # created as a group
        ar.write_array("scratch/a", np.ones(2))
        ar.delete("scratch")
        assert not ar.has("scratch")
        for name in ("U", "p"):
            ar.create_field(name, "global", 1, n_items=1)
            for k in range(4):
                ar.append_step(name, np.full((len(range(*partition_range(1, comm))), 1), k), float(k))
        ar.truncate_steps(2)
        assert [ar.field_info(f)["n_steps"] for f in ("U", "p")] == [2, 2]
    for c in (comm, MPI.COMM_SELF):
        with Archive.open(path, c) as ar:
            a, b = partition_range(n_items, c)
            assert np.array_equal(ar.read_natural("checkpoint/u", n_items), full[a:b] + 1.0)
            attrs = ar.get_attrs("checkpoint")
            assert attrs["time"] == 1.5 and type(attrs["increment"]) is int and attrs["name"] == "x"
            assert list(attrs["n_state"]) == [2, 7]
            assert ar.get_attrs("rom/dual/S") == {"n_components": 6}
            assert np.array_equal(ar.field_info("U")["time"], [0.0, 1.0])
            with pytest.raises(DromoError, match="expected 3"):
                ar.read_natural("checkpoint/u", 3)
            with pytest.raises(DromoError, match="no group or dataset"):
                ar.get_attrs("nothing")


@pytest.mark.mpi
def test_series_never_write_fill_values_and_regrow_after_truncation(shared_tmp, comm):
    """A field's values are allocated without fill values (parallel HDF5 would otherwise write zeros into
    every new step's chunks before the step itself: most of an import's time at 2 ranks); a truncated
    series grown again reads back exactly the steps written, never stale ones."""
    import h5py
    from dromo.parallel import partition_range
    path = str(shared_tmp / "nofill.h5")
    n = 70_000                                          # more than one chunk of items (65 536)
    s, e = partition_range(n, comm)
    rows = np.arange(s, e, dtype=float)[:, None] * np.ones((1, 6))
    with Archive.create(path, comm) as ar:
        ar.create_field("S", "global", 6, n_items=n)
        for k in range(3):
            ar.append_step("S", rows + 100.0 * k, float(k))
        assert ar.h5["fields/S/values"].id.get_create_plist().get_fill_time() == h5py.h5d.FILL_TIME_NEVER
        ar.truncate_steps(1)
        ar.append_step("S", rows - 1.0, 5.0)
    with Archive.open(path, comm) as ar:
        v = ar.read_steps("S", [0, 1])
        assert np.array_equal(ar.field_info("S")["time"], [0.0, 5.0])
    assert np.array_equal(v[0], rows) and np.array_equal(v[1], rows - 1.0)
