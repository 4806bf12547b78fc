"""VTK XML as dolfinx writes it, without dolfinx (issue 25): VTU version 2.2, Lagrange cells (type 71), a
``.pvtu`` of pieces with ghost cells and ghost points in their own local orders, ``vtkGhostType`` both as
point and cell data. The merged mesh is the mesh (up to numbering), the values those of the owners."""
import os

import numpy as np
import pytest

from dromo.errors import InputError
from dromo.mesh.generate import box_mesh
from dromo.mesh.matching import match_mesh, merge_points, smallest_edge
from dromo.mesh.readers import read_mesh
from dromo.mesh.vtk_xml import read_vtk_xml


def _array(name, a, kind="Float64", nc=None):
    attrs = f' type="{kind}"' + (f' Name="{name}"' if name else "") + (f' NumberOfComponents="{nc}"' if nc else "")
    return f'<DataArray{attrs} format="ascii">' + " ".join(repr(float(v)) if kind == "Float64" else str(int(v))
                                                           for v in np.ravel(a)) + "</DataArray>\n"


def write_vtu(path, points, cells, vtk_type, point_data, cell_ghost=None, point_ghost=None, cell_data=None):
    """An ascii VTU 2.2 file as dolfinx's VTKFile writes it (Lagrange type, ghosts, original ids)."""
    n, m = len(points), len(cells)
    pd = _array("vtkOriginalPointIds", np.arange(n), "Int64") + \
        _array("vtkGhostType", np.zeros(n) if point_ghost is None else point_ghost, "UInt8")
    pd += "".join(_array(k, v, nc=3 if np.ndim(v) > 1 else None) for k, v in point_data.items())
    cd = _array("vtkGhostType", np.zeros(m) if cell_ghost is None else cell_ghost, "UInt8")
    cd += "".join(_array(k, v) for k, v in (cell_data or {}).items())
    with open(path, "w") as f:
        f.write('<?xml version="1.0"?>\n<VTKFile type="UnstructuredGrid" version="2.2">\n<UnstructuredGrid>\n'
                f'<Piece NumberOfPoints="{n}" NumberOfCells="{m}">\n<Points>{_array(None, points, nc=3)}</Points>\n'
                f'<Cells>{_array("connectivity", cells, "Int32")}'
                f'{_array("offsets", np.cumsum([len(c) for c in cells]), "Int32")}'
                f'{_array("types", np.full(m, vtk_type), "Int8")}</Cells>\n'
                f'<CellData>{cd}</CellData>\n<PointData>{pd}</PointData>\n</Piece>\n</UnstructuredGrid>\n</VTKFile>\n')


def _u(x):
    return np.stack([x[:, 0] ** 2, x[:, 1] - x[:, 2], np.sin(x[:, 0])], axis=1)


def write_pieces(folder, mesh, n_pieces=2, seed=0):
    """``mesh`` as ``n_pieces`` .vtu pieces + a .pvtu: cells split in contiguous ranges, each piece holding
    its cells and, as ghosts, the other cells that share a node with them; points in a shuffled local
    order, a point a ghost where its owner (the lowest piece of its owned cells) is another piece."""
    rng = np.random.default_rng(seed)
    cells = mesh.blocks[0].cells
    part = np.minimum(np.arange(len(cells)) * n_pieces // len(cells), n_pieces - 1)
    owner = np.full(mesh.n_nodes, n_pieces)
    for p in range(n_pieces):
        owner[np.unique(cells[part == p])] = np.minimum(owner[np.unique(cells[part == p])], p)
    names = []
    for p in range(n_pieces):
        mine = np.zeros(mesh.n_nodes, bool)
        mine[cells[part == p].ravel()] = True
        keep = (part == p) | mine[cells].any(axis=1)
        keep_cells = np.flatnonzero(keep)
        nodes = rng.permutation(np.unique(cells[keep_cells]))
        local = np.full(mesh.n_nodes, -1)
        local[nodes] = np.arange(len(nodes))
        order = np.concatenate([keep_cells[part[keep_cells] == p], keep_cells[part[keep_cells] != p]])
        names.append(f"s_p{p}.vtu")
        write_vtu(os.path.join(folder, names[-1]), mesh.points[nodes], local[cells[order]],
                  71, {"Displacement": _u(mesh.points[nodes])}, cell_ghost=(part[order] != p).astype(int),
                  point_ghost=(owner[nodes] != p).astype(int), cell_data={"rank": part[order]})
    path = os.path.join(folder, "s.pvtu")
    with open(path, "w") as f:
        f.write('<?xml version="1.0"?>\n<VTKFile type="PUnstructuredGrid" version="1.0">\n'
                '<PUnstructuredGrid GhostLevel="1">\n' + "".join(f'<Piece Source="{n}"/>\n' for n in names)
                + "</PUnstructuredGrid>\n</VTKFile>\n")
    return path


@pytest.mark.parametrize("element,pieces", [("tet10", 2), ("tet4", 3), ("tet10", 1)])
def test_pieces_with_ghosts_merge_into_the_mesh(tmp_path, element, pieces):
    mesh = box_mesh(3, 2, 1, element=element, distort=0.2)
    path = write_pieces(str(tmp_path), mesh, pieces)
    m = read_vtk_xml(path)
    assert [c.type for c in m.cells] == [{"tet4": "tetra", "tet10": "tetra10"}[element]]
    assert set(m.point_data) == {"Displacement"} and set(m.cell_data) == {"rank"}
    assert len(m.points) == mesh.n_nodes and len(m.cells[0].data) == mesh.n_cells
    rows, cell_rows = match_mesh(mesh, m.points, [(element, m.cells[0].data)], path)
    assert np.array_equal(m.point_data["Displacement"][rows], _u(mesh.points))
    part = np.minimum(np.arange(mesh.n_cells) * pieces // mesh.n_cells, pieces - 1)
    got = m.cell_data["rank"][0] if cell_rows is None else m.cell_data["rank"][0][cell_rows]
    assert np.array_equal(got, part)
    # the same files give the same numbering; read_mesh reads a .pvtu
    assert np.array_equal(read_vtk_xml(path).points, m.points)
    assert read_mesh(path).n_cells == mesh.n_cells


def test_lagrange_orders_dromo_lacks_are_named(tmp_path):
    pts = np.random.default_rng(1).random((20, 3))
    path = str(tmp_path / "p3.vtu")
    write_vtu(path, pts, np.arange(20).reshape(1, 20), 71, {"u": pts})
    with pytest.raises(InputError, match=r"p3\.vtu: piece 1: cell 1 has VTK type 71 \(Lagrange tetrahedron\) "
                                         r"with 20 nodes; dromo has tet4, tet10"):
        read_vtk_xml(path)


def test_damaged_vtu_names_the_file_and_array(tmp_path):
    mesh = box_mesh(1, 1, 1, element="tet4")
    path = str(tmp_path / "d.vtu")
    write_vtu(path, mesh.points, mesh.blocks[0].cells, 71, {"U": mesh.points[:-1]})
    with pytest.raises(InputError, match=r"d\.vtu: piece 1: DataArray 'U' has 7 tuples, expected 8"):
        read_vtk_xml(path)
    (tmp_path / "t.vtu").write_text("<VTKFile type='UnstructuredGrid'><UnstructuredGrid><Piece")
    with pytest.raises(InputError, match=r"t\.vtu: not a valid VTK XML file"):
        read_vtk_xml(str(tmp_path / "t.vtu"))


def test_merge_points_and_smallest_edge():
    x = np.array([[0, 0, 0], [1, 0, 0], [1e-9, 0, 0], [2, 0, 0], [1, 1e-10, 0]], float)
    index, first = merge_points(x, 1e-6)
    assert index.tolist() == [0, 1, 0, 2, 1] and first.tolist() == [0, 1, 3]
    assert smallest_edge(x, [np.array([[0, 1, 3]])]) == 1.0


def test_match_mesh_says_how_meshes_differ():
    mesh = box_mesh(2, 1, 1, element="tet4")
    other = box_mesh(2, 1, 1, element="tet4", lengths=(1, 1, 1.5))
    with pytest.raises(InputError, match=r"s\.vtu: not the mesh .*: 6 of its 12 nodes have no written point "
                                         r"within .*bounding boxes"):
        match_mesh(mesh, other.points, [("tet4", other.blocks[0].cells)], "s.vtu")
    coarse = box_mesh(1, 1, 1, element="tet4")
    with pytest.raises(InputError, match=r"8 nodes in 6 volume cells, the mesh has 12 nodes in 12 cells"):
        match_mesh(mesh, coarse.points, [("tet4", coarse.blocks[0].cells)], "s.vtu")
    flipped = mesh.blocks[0].cells.copy()
    flipped[0] = [0, 1, 2, 11]
    with pytest.raises(InputError, match=r"same nodes, but its tet4 cell 1 .* is not among the written cells"):
        match_mesh(mesh, mesh.points, [("tet4", flipped)], "s.vtu")
