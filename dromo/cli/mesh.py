"""``dromo mesh``: inspect, partition and convert meshes.

* ``dromo mesh info MESH``        read (.msh, .inp, .vtu, .xdmf, or a dromo archive), partition over the
                                   MPI ranks, print sizes, sets and the partition quality
* ``dromo mesh convert MESH -o A.h5``  write the mesh into a dromo archive (+ XDMF for ParaView)
* ``dromo mesh box --element tet10 --cells 8 4 4 [--lengths Lx Ly Lz] -o OUT``  generate a box mesh
                                   (OUT: a dromo archive ``.h5`` or an Abaqus/CalculiX deck ``.inp``)
"""
import json

from mpi4py import MPI


def load_mesh(path, comm):
    """The mesh of a file or of a dromo archive as :class:`~dromo.mesh.stripes.MeshStripes` (collective): an
    archive is read rank-striped; a mesh file is parsed on rank 0 and sent in pieces
    (:func:`~dromo.mesh.file_stripes.read_file_stripes`)."""
    if str(path).endswith((".h5", ".hdf5")):
        from ..io.archive import Archive
        with Archive.open(path, comm) as ar:
            return ar.read_mesh_stripes()
    from ..mesh.file_stripes import read_file_stripes
    return read_file_stripes(path, comm)


def _info(args):
    from ..mesh.distributed import DistributedMesh
    comm = MPI.COMM_WORLD
    mesh = load_mesh(args.mesh, comm)
    dm = DistributedMesh(mesh, comm, args.partitioner)
    ghosts = comm.gather(dm.n_ghost_nodes)
    if comm.rank == 0:
        report = {"mesh": mesh.summary(), "ranks": comm.size, "dofs": dm.n_dofs_global,
                  "integration_points": dm.n_ip_global, "partitioner": args.partitioner,
                  "edge_cut": dm.quality["edge_cut"], "dual_graph_edges": dm.quality["edges"],
                  "imbalance": round(dm.quality["imbalance"], 4),
                  "cells_per_rank": dm.quality["cells_per_part"], "ghost_nodes_per_rank": ghosts}
        print(json.dumps(report, indent=1) if args.json else
              "\n".join(f"{k}: {v}" for k, v in report.items()))
    return 0


def _convert(args):
    from ..io.archive import Archive
    comm = MPI.COMM_WORLD
    mesh = load_mesh(args.mesh, comm)
    with Archive.create(args.output, comm, attrs={"provenance": f"dromo mesh convert {args.mesh}"}) as ar:
        ar.write_mesh(mesh)
    if comm.rank == 0:
        print(f"wrote {args.output}")
    return 0


def _box(args):
    from ..mesh.generate import box_mesh
    comm = MPI.COMM_WORLD
    mesh = box_mesh(*args.cells, lengths=args.lengths, element=args.element, distort=args.distort)
    if args.output.endswith(".inp"):
        if comm.rank == 0:
            from ..mesh.inp import write_inp
            write_inp(mesh, args.output)
    else:
        from ..io.archive import Archive
        with Archive.create(args.output, comm, attrs={"provenance": "dromo mesh box"}) as ar:
            ar.write_mesh(mesh)
    if comm.rank == 0:
        print(f"wrote {args.output}: {mesh.summary()}")
    return 0


def register(sub):
    p = sub.add_parser("mesh", help="inspect, partition, convert or generate meshes")
    s = p.add_subparsers(dest="mesh_command", metavar="ACTION")
    s.required = True
    i = s.add_parser("info", help="sizes, sets and partition quality over the MPI ranks")
    i.add_argument("mesh")
    i.add_argument("--partitioner", default="ptscotch", help="PETSc MatPartitioning type or 'natural'")
    i.add_argument("--json", action="store_true", help="print one JSON document")
    i.set_defaults(func=_info)
    c = s.add_parser("convert", help="write a mesh file into a dromo archive (+ XDMF)")
    c.add_argument("mesh")
    c.add_argument("-o", "--output", required=True)
    c.set_defaults(func=_convert)
    b = s.add_parser("box", help="generate a structured box mesh")
    b.add_argument("--element", default="hex8",
                   choices=["tet4", "tet10", "hex8", "hex20", "wedge6", "wedge15"])
    b.add_argument("--cells", type=int, nargs=3, default=[4, 4, 4], metavar=("NX", "NY", "NZ"))
    b.add_argument("--lengths", type=float, nargs=3, default=[1.0, 1.0, 1.0], metavar=("LX", "LY", "LZ"))
    b.add_argument("--distort", type=float, default=0.0)
    b.add_argument("-o", "--output", required=True, help="OUT.h5 (dromo archive) or OUT.inp")
    b.set_defaults(func=_box)
