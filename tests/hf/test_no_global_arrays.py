"""After the distributed set-up no rank holds an array over the whole mesh (issue 22).

Every ndarray reachable from a :class:`DistributedMesh` and from a hf :class:`Problem` built on it (their
attributes, recursively through dromo objects, lists, tuples and dicts) is listed on every rank and its
length compared with the same array of the same problem built on one rank (``COMM_SELF``, where every
array is global). At 3 ranks each must be at most 0.6 of its serial length (O(N/P + halo), not O(N)).
Arrays smaller in serial than half the number of nodes are left out: block tables, rank ranges, and the
data of surface sets (a rank may own a whole face of the box, e.g. all the fixed dofs of ``xmin``).
"""
import numpy as np
import pytest
from mpi4py import MPI

from dromo.hf import Displacement, Pressure, Problem
from dromo.mesh.distributed import DistributedMesh
from dromo.mesh.generate import box_mesh

LAW = {"type": "elastic", "E": 200e3, "nu": 0.3}


def arrays(obj, path="", seen=None):
    """{path: ndarray} of every array reachable from ``obj`` through dromo objects and containers."""
    seen = set() if seen is None else seen
    if id(obj) in seen:
        return {}
    seen.add(id(obj))
    if isinstance(obj, np.ndarray):
        return {path: obj}
    out = {}
    if isinstance(obj, dict):
        items = ((f"[{k!r}]", v) for k, v in obj.items())
    elif isinstance(obj, (list, tuple)):
        items = ((f"[{i}]", v) for i, v in enumerate(obj))
    elif type(obj).__module__.startswith("dromo") and hasattr(obj, "__dict__"):
        items = ((f".{k}", v) for k, v in vars(obj).items() if k != "comm")
    else:
        return out
    for k, v in items:
        out.update(arrays(v, path + k, seen))
    return out


def _build(comm):
    mesh = box_mesh(16, 16, 13, element="tet4")                       # 19 968 cells, 3 978 nodes
    dm = DistributedMesh(mesh, comm)
    del mesh
    pb = Problem(dm, {"all": LAW}, [Displacement("xmin", {"x": 0, "y": 0, "z": 0}),
                                    Pressure("xmax", 1.0)], comm=comm)
    for loc in ("node", "ip", "cell"):
        dm.redistributor(loc)
    return dm, pb


@pytest.mark.mpi(min_size=3)
def test_every_array_is_a_share_of_the_mesh(comm):
    dm, pb = _build(comm)
    assert dm._global_mesh is None                                     # nothing used the fallback
    held = arrays(pb, "problem")
    ref = arrays(_build(MPI.COMM_SELF)[1], "problem")
    assert any(".stripes.points" in p for p in held) and any("ip_material" in p for p in held)
    too_big = []
    for path, a in held.items():
        r = ref.get(path)
        if r is None or r.size < 0.5 * dm.n_nodes_global:
            continue
        if a.size > 0.6 * r.size:
            too_big.append(f"{path}: {a.shape} at {comm.size} ranks, {r.shape} on one")
    too_big = sorted(set(sum(comm.allgather(too_big), [])))
    assert not too_big, "\n".join(too_big)
    # and the listing is not vacuous: the big serial arrays were all compared
    compared = [p for p, r in ref.items() if r.size >= 0.5 * dm.n_nodes_global and p in held]
    assert len(compared) >= 10, compared
