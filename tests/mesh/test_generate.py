"""Serial tests of dromo.mesh.generate.box_mesh and the MeshData face tables."""
import numpy as np
import pytest

from dromo.errors import InputError
from dromo.mesh.generate import box_mesh
from dromo.mesh.meshdata import (CORNERS, EDGES, FACES, CellBlock, MeshData, cell_faces,
                                 corner_jacobians, locate_facets)

ELEMENTS = ["hex8", "hex20", "tet4", "tet10"]


def face_normal(points, facets):
    """Right-hand-rule normals (not normalized) of tri/quad facets given by their corner columns."""
    p = points[facets]
    if facets.shape[1] == 3:
        return np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0])
    return np.cross(p[:, 2] - p[:, 0], p[:, 3] - p[:, 1])


def face_keys(facets, nc):
    return {tuple(r) for r in np.sort(facets[:, :nc], axis=1).tolist()}


def n_edges(nx, ny, nz):
    return nx * (ny + 1) * (nz + 1) + (nx + 1) * ny * (nz + 1) + (nx + 1) * (ny + 1) * nz


@pytest.mark.parametrize("element", ELEMENTS)
def test_counts(element):
    nx, ny, nz = 3, 2, 4
    m = box_mesh(nx, ny, nz, (3.0, 1.0, 2.0), element=element).validate()
    ncorner = (nx + 1) * (ny + 1) * (nz + 1)
    nhex = nx * ny * nz
    expect_nodes = {
        "hex8": ncorner,
        "hex20": ncorner + n_edges(nx, ny, nz),
        "tet4": ncorner,
        # grid edges + one diagonal per grid quad + one body diagonal per hex
        "tet10": ncorner + n_edges(nx, ny, nz)
        + (nx * ny * (nz + 1) + nx * (ny + 1) * nz + (nx + 1) * ny * nz) + nhex,
    }[element]
    assert m.n_nodes == expect_nodes
    assert m.n_cells == nhex * (6 if element.startswith("tet") else 1)
    assert m.cell_types.tolist() == [element] * m.n_cells
    assert np.array_equal(m.element_sets["all"], np.arange(m.n_cells))
    assert np.array_equal(m.node_ids, np.arange(1, m.n_nodes + 1))
    assert np.array_equal(m.blocks[0].ids, np.arange(1, m.n_cells + 1))
    assert set(m.node_sets) == set(m.facet_sets) == {"xmin", "xmax", "ymin", "ymax", "zmin", "zmax"}


@pytest.mark.parametrize("element", ELEMENTS)
@pytest.mark.parametrize("distort", [0.0, 0.3])
def test_conforming_positive_outward(element, distort):
    L = np.array([2.0, 1.0, 1.5])
    m = box_mesh(3, 3, 2, L, element=element, distort=distort, seed=3)
    b = m.blocks[0]
    # positive corner Jacobians; for tets the volume sums to the box volume
    J = corner_jacobians(m.points, b.cells, b.type)
    assert (J > 0).all()
    if element.startswith("tet"):
        p = m.points[b.cells[:, :4]]
        vol = np.linalg.det(np.stack([p[:, 1] - p[:, 0], p[:, 2] - p[:, 0], p[:, 3] - p[:, 0]], 1)) / 6
        assert (vol > 0).all()
        assert vol.sum() == pytest.approx(L.prod(), rel=1e-12)
    # conformity: every face shared by at most two cells; count-1 faces are exactly the boundary
    faces = cell_faces(m)
    (ft, (nodes, cell, face)), = faces.items()
    nc = CORNERS[ft]
    keys = np.sort(nodes[:, :nc], axis=1)
    uniq, counts = np.unique(keys, axis=0, return_counts=True)
    assert counts.max() == 2
    boundary = {tuple(r) for r in uniq[counts == 1].tolist()}
    nb = 2 * (3 * 3 + 3 * 2 + 3 * 2) * (2 if element.startswith("tet") else 1)
    assert len(boundary) == nb
    union = set()
    for name, d in m.facet_sets.items():
        assert list(d) == [ft]
        union |= face_keys(d[ft], nc)
    assert union == boundary
    # faces point out of their cell
    centroid = m.points[b.cells[:, :CORNERS[b.type]]].mean(axis=1)
    n = face_normal(m.points, nodes[:, :nc])
    fc = m.points[nodes[:, :nc]].mean(axis=1)
    assert (np.einsum("ij,ij->i", n, fc - centroid[cell]) > 0).all()
    # facet sets: outward along the axis, all nodes on the plane, node sets = nodes on the plane
    for name, (ax, hi) in {"xmin": (0, 0), "xmax": (0, 1), "ymin": (1, 0), "ymax": (1, 1),
                           "zmin": (2, 0), "zmax": (2, 1)}.items():
        f = m.facet_sets[name][ft]
        nrm = face_normal(m.points, f[:, :nc])
        sign = 1 if hi else -1
        assert (sign * nrm[:, ax] > 0).all()
        assert np.allclose(nrm[:, [a for a in range(3) if a != ax]], 0, atol=1e-12)
        plane = L[ax] if hi else 0.0
        assert np.allclose(m.points[f, ax], plane)
        on = np.flatnonzero(np.isclose(m.points[:, ax], plane))
        assert np.array_equal(m.node_sets[name], on)
    # mid-edge nodes at the edge midpoints
    if element in EDGES:
        e = EDGES[element]
        mid = m.points[b.cells[:, CORNERS[element]:]]
        ends = 0.5 * (m.points[b.cells[:, e[:, 0]]] + m.points[b.cells[:, e[:, 1]]])
        assert np.allclose(mid, ends, atol=1e-14)


def test_distortion_moves_interior_only():
    a = box_mesh(3, 3, 3, element="hex8")
    b = box_mesh(3, 3, 3, element="hex8", distort=0.2, seed=1)
    moved = ~np.all(np.isclose(a.points, b.points), axis=1)
    inner = np.all((a.points > 1e-9) & (a.points < 1 - 1e-9), axis=1)
    assert moved.any() and not (moved & ~inner).any()
    c = box_mesh(3, 3, 3, element="hex8", distort=0.2, seed=1)
    assert np.array_equal(b.points, c.points)


def test_mid_size_tet10_quick():
    m = box_mesh(12, 12, 12, element="tet10")
    assert m.n_nodes == 25 ** 3 + 0  # uniform refinement of the corner grid: (2n+1)^3 nodes
    assert len(np.unique(m.blocks[0].cells)) == m.n_nodes


def test_box_mesh_bad_args():
    with pytest.raises(InputError, match="unknown element"):
        box_mesh(1, 1, 1, element="pyr5")
    with pytest.raises(InputError, match=">= 1"):
        box_mesh(0, 1, 1)
    with pytest.raises(InputError, match="lengths"):
        box_mesh(1, 1, 1, lengths=(1, -1, 1))


def test_wedge_faces_outward():
    p = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 0, 1], [0, 1, 1.0]])
    m = MeshData(p, [CellBlock("wedge6", np.arange(6)[None])])
    assert (corner_jacobians(p, m.blocks[0].cells, "wedge6") > 0).all()
    c = p.mean(axis=0)
    for ft, idx in FACES["wedge6"]:
        q = p[idx]
        n = face_normal(p, idx[None])[0]
        assert n @ (q.mean(axis=0) - c) > 0
    cell, face = locate_facets(m, np.array([[3, 4, 5], [5, 4, 3]]))
    assert cell.tolist() == [0, 0] and face.tolist() == [1, 1]


def test_meshdata_helpers_and_validate():
    m = box_mesh(2, 1, 1, element="tet4")
    m2 = MeshData(m.points, [CellBlock("tet4", m.blocks[0].cells[:5]),
                             CellBlock("tet4", m.blocks[0].cells[5:], rule="full")])
    assert m2.cell_offsets.tolist() == [0, 5, 12]
    b, loc = m2.locate_cells([0, 4, 5, 11])
    assert b.tolist() == [0, 0, 1, 1] and loc.tolist() == [0, 4, 0, 6]
    assert np.array_equal(m2.block_cells(1), np.arange(5, 12))
    bad = MeshData(m.points.copy(), [CellBlock("tet4", m.blocks[0].cells)], source="x.msh")
    bad.points[3, 1] = np.nan
    with pytest.raises(InputError, match=r"x\.msh.*node 4.*non-finite"):
        bad.validate()
    bad = MeshData(m.points, [CellBlock("tet4", m.blocks[0].cells + 100)], source="y.vtu")
    with pytest.raises(InputError, match=r"y\.vtu.*element 1 .*out of range"):
        bad.validate()
    bad = MeshData(m.points, [CellBlock("pyramid5", m.blocks[0].cells)], source="z")
    with pytest.raises(InputError, match="unknown cell type 'pyramid5'"):
        bad.validate()
    bad = MeshData(m.points, m.blocks, element_sets={"E": [0, 10 ** 6]}, source="z")
    with pytest.raises(InputError, match="element set 'E'"):
        bad.validate()
