"""XDMF sidecar of a dromo archive, so ParaView (Xdmf3 reader) opens the mesh and its time series.

``ARCHIVE.h5`` gets ``ARCHIVE.xdmf`` beside it: a temporal collection with one step per time of the
longest nodal/cell field series, each step a spatial collection of one uniform grid per cell block, the
heavy data referenced in the HDF5 file by hyperslab (nothing is copied). Nodal fields appear as
point data (3 components → Vector, otherwise one scalar per component); cell fields as cell data.
Integration-point fields are not shown (ParaView has no integration-point data); ``dromo`` writes
their cell means as separate ``cell`` fields when asked.
"""
import os
from xml.sax.saxutils import quoteattr

from mpi4py import MPI

_TOPOLOGY = {"tet4": "Tetrahedron", "tet10": "Tetrahedron_10", "hex8": "Hexahedron",
             "hex20": "Hexahedron_20", "wedge6": "Wedge",
             "wedge15": "Wedge_15"}


def _item(h5name, path, shape, dtype="Float", precision=8):
    dims = " ".join(map(str, shape))
    return (f'<DataItem Dimensions="{dims}" NumberType="{dtype}" Precision="{precision}" Format="HDF">'
            f"{h5name}:{path}</DataItem>")


def _slab(h5name, path, full_shape, step, comp=None):
    """Hyperslab of step ``step`` (and one component ``comp``) of a (F, N, C) dataset."""
    F, N, C = full_shape
    if comp is None:
        start, count, out = f"{step} 0 0", f"1 {N} {C}", f"{N} {C}"
    else:
        start, count, out = f"{step} 0 {comp}", f"1 {N} 1", f"{N}"
    return (f'<DataItem ItemType="HyperSlab" Dimensions="{out}">'
            f'<DataItem Dimensions="3 3" Format="XML">{start} 1 1 1 {count}</DataItem>'
            + _item(h5name, path, full_shape) + "</DataItem>")


def write_xdmf(archive_path, comm=None):
    """Write ``<archive>.xdmf`` next to the archive (rank 0 only; collective call)."""
    comm = comm or MPI.COMM_WORLD
    if comm.rank == 0:
        _write(archive_path)
    comm.Barrier()


def _write(archive_path):
    import h5py
    h5name = os.path.basename(archive_path)
    out = os.path.splitext(archive_path)[0] + ".xdmf"
    with h5py.File(archive_path, "r") as f:
        if "mesh" not in f:
            return
        mesh = f["mesh"]
        n_nodes = mesh["points"].shape[0]
        blocks = []
        for key in sorted(mesh["cells"], key=lambda s: int(s.split("_", 1)[0])):
            bg = mesh["cells"][key]
            blocks.append((key, str(bg.attrs["type"]), bg["connectivity"].shape, int(bg.attrs["first_cell"])))
        fields = []
        for name, g in (f["fields"].items() if "fields" in f else []):
            loc = str(g.attrs["location"])
            if loc in ("node", "cell"):
                fields.append((name, loc, g["values"].shape, [str(c) for c in g.attrs["components"]],
                               g["time"][...]))
    n_steps = max([fs[2][0] for fs in fields], default=0)
    times = next((fs[4] for fs in fields if fs[2][0] == n_steps), [])

    def grid(step):
        parts = []
        for key, ctype, cshape, first in blocks:
            if ctype not in _TOPOLOGY:
                continue
            xs = [f'<Grid Name={quoteattr(key)} GridType="Uniform">',
                  f'<Topology TopologyType="{_TOPOLOGY[ctype]}" NumberOfElements="{cshape[0]}">'
                  + _item(h5name, f"/mesh/cells/{key}/connectivity", cshape, "Int") + "</Topology>",
                  '<Geometry GeometryType="XYZ">' + _item(h5name, "/mesh/points", (n_nodes, 3)) + "</Geometry>"]
            for name, loc, shape, comps, _t in fields if step is not None else []:
                if step >= shape[0]:
                    continue
                path = f"/fields/{name}/values"
                if loc == "node" and shape[2] == 3:
                    xs.append(f'<Attribute Name={quoteattr(name)} AttributeType="Vector" Center="Node">'
                              + _slab(h5name, path, shape, step) + "</Attribute>")
                    continue
                for c, cname in enumerate(comps):
                    label = name if shape[2] == 1 else f"{name}_{cname}"
                    if loc == "cell":
                        F, N, C = shape
                        inner = (f'<DataItem ItemType="HyperSlab" Dimensions="{cshape[0]}">'
                                 f'<DataItem Dimensions="3 3" Format="XML">{step} {first} {c} 1 1 1 '
                                 f'1 {cshape[0]} 1</DataItem>' + _item(h5name, path, shape) + "</DataItem>")
                        xs.append(f'<Attribute Name={quoteattr(label)} AttributeType="Scalar" Center="Cell">'
                                  + inner + "</Attribute>")
                    else:
                        xs.append(f'<Attribute Name={quoteattr(label)} AttributeType="Scalar" Center="Node">'
                                  + _slab(h5name, path, shape, step, c) + "</Attribute>")
            xs.append("</Grid>")
            parts.append("\n".join(xs))
        return parts

    lines = ['<?xml version="1.0" ?>', '<Xdmf Version="3.0">', "<Domain>"]
    if n_steps == 0:
        lines.append('<Grid Name="mesh" GridType="Collection" CollectionType="Spatial">')
        lines += grid(None)
        lines.append("</Grid>")
    else:
        lines.append('<Grid Name="series" GridType="Collection" CollectionType="Temporal">')
        for s in range(n_steps):
            lines.append('<Grid Name="step" GridType="Collection" CollectionType="Spatial">')
            lines.append(f'<Time Value="{float(times[s]) if len(times) > s else float(s)!r}"/>')
            lines += grid(s)
            lines.append("</Grid>")
        lines.append("</Grid>")
    lines += ["</Domain>", "</Xdmf>"]
    tmp = out + ".tmp"
    with open(tmp, "w") as fh:
        fh.write("\n".join(lines) + "\n")
    os.replace(tmp, out)
