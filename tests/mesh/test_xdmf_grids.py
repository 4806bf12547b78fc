"""XDMF files of several grids as dolfinx writes them (issue 25), written by hand with inline XML data:
the mesh grid, facet and cell meshtags (sets NAME_VALUE), a temporal collection of point and cell data."""
import numpy as np
import pytest

from dromo.errors import InputError
from dromo.mesh.generate import box_mesh
from dromo.mesh.readers import read_mesh
from dromo.mesh.xdmf_grids import XdmfGrids


def _item(a, kind="Float"):
    a = np.asarray(a)
    text = " ".join(str(v) for v in a.ravel())
    return f'<DataItem Dimensions="{" ".join(map(str, a.shape))}" NumberType="{kind}" Format="XML">{text}</DataItem>'


def _tags_grid(name, topology, npe, values, ttype):
    return (f'<Grid Name="{name}" GridType="Uniform"><xi:include xpointer="xpointer(/Xdmf/Domain/Grid/Geometry)"/>'
            f'<Topology TopologyType="{ttype}" NumberOfElements="{len(topology)}" NodesPerElement="{npe}">'
            f'{_item(topology, "Int")}</Topology><Attribute Name="{name}" AttributeType="Scalar" Center="Cell">'
            f'{_item(np.asarray(values)[:, None], "Int")}</Attribute></Grid>')


def write_dolfinx_like(path, mesh, tagged=None, times=(1.0, 2.0)):
    """``tagged``: (cells (k, 4), values (k,)) of the cell meshtags (default: the last 3 cells, nodes in
    another order, tags 1, 1, 2)."""
    cells = mesh.blocks[0].cells
    tagged = tagged or (cells[::-1][:3, [1, 0, 3, 2]], [1, 1, 2])
    x0 = [f for _t, f in _faces_at(mesh, 0.0)]
    steps = "".join(
        '<Grid Name="u" GridType="Uniform"><xi:include xpointer="xpointer(/Xdmf/Domain/Grid[@GridType=\'Uniform\']'
        f'[1]/*[self::Topology or self::Geometry])"/><Time Value="{t}"/>'
        f'<Attribute Name="u" AttributeType="Vector" Center="Node">{_item(t * mesh.points)}</Attribute>'
        f'<Attribute Name="c" AttributeType="Scalar" Center="Cell">{_item(t * np.arange(len(cells)))}</Attribute>'
        '</Grid>' for t in times)
    text = ('<?xml version="1.0"?><Xdmf Version="3.0" xmlns:xi="http://www.w3.org/2001/XInclude"><Domain>'
            f'<Grid Name="mesh" GridType="Uniform"><Topology TopologyType="Tetrahedron" '
            f'NumberOfElements="{len(cells)}" NodesPerElement="4">{_item(cells, "Int")}</Topology>'
            f'<Geometry GeometryType="XYZ">{_item(mesh.points)}</Geometry></Grid>'
            + _tags_grid("facets", np.concatenate(x0), 3, [7] * sum(len(f) for f in x0), "Triangle")
            + _tags_grid("cells", tagged[0], 4, tagged[1], "Tetrahedron")
            + f'<Grid Name="u" GridType="Collection" CollectionType="Temporal">{steps}</Grid></Domain></Xdmf>')
    with open(path, "w") as f:
        f.write(text)


def _faces_at(mesh, x):
    from dromo.mesh.select import boundary_facets
    return [(t, f[np.all(mesh.points[f, 0] == x, axis=1)]) for t, f in boundary_facets(mesh).items()]


def test_mesh_meshtags_and_time_series(tmp_path):
    mesh = box_mesh(2, 1, 1, element="tet4")
    path = str(tmp_path / "u.xdmf")
    write_dolfinx_like(path, mesh)
    got = read_mesh(path)
    assert np.array_equal(got.points, mesh.points) and np.array_equal(got.blocks[0].cells, mesh.blocks[0].cells)
    assert sum(len(f) for f in got.facet_sets["facets_7"].values()) == 2
    assert np.all(got.points[got.node_sets["facets_7"], 0] == 0)
    n = mesh.n_cells
    assert got.element_sets["cells_1"].tolist() == [n - 2, n - 1] and got.element_sets["cells_2"].tolist() == [n - 3]
    with XdmfGrids(path) as x:
        assert x.times() == [1.0, 2.0]
        points, cells, pd, cd = x.step(1)
        assert np.array_equal(pd["u"], 2.0 * mesh.points) and np.array_equal(cd["c"][0], 2.0 * np.arange(n))


def test_a_tagged_cell_that_is_not_in_the_mesh_is_named(tmp_path):
    mesh = box_mesh(1, 1, 1, element="tet4")
    path = str(tmp_path / "u.xdmf")
    write_dolfinx_like(path, mesh, tagged=(np.vstack([mesh.blocks[0].cells[:1], [[0, 1, 2, 7]]]), [1, 9]))
    with pytest.raises(InputError, match=r"u\.xdmf: meshtags grid 'cells': tagged cell with nodes \[0, 1, 2, 7\] "
                                         r"is not a cell of the mesh"):
        read_mesh(path)
