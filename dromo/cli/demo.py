"""``dromo demo``: the offline pipeline on a built-in case, end to end, under ``mpirun``.

Until the nonlinear reference solver and the online ROM land, the demo runs the parts that exist:

1. a built-in case: a tet10 cantilever (10 × 1 × 1, clamped at x = 0, E = 210 GPa-like units MPa/mm),
   loaded by a unit pressure on its top face and a shear traction at the free end whose mix is the
   parameter θ (a family of load cases),
2. the distributed mesh (PTScotch partition), assembly of the elastic stiffness and loads, and CG+GAMG
   solves, one per parameter value,
3. the snapshots written collectively into a dromo archive (``snapshots.h5`` + ``snapshots.xdmf`` for
   ParaView) with the mesh, the displacements and the strain at the integration points,
4. a distributed POD of the displacements (method of snapshots) written to ``basis.h5``, and the
   projection error of held-out load cases (PNG of the singular values if matplotlib is there).
"""
import os
import time

import numpy as np
from mpi4py import MPI


def run(args):
    from ..fem import linear
    from ..fem.operators import pressure_load, stiffness_matrix, strain_at_ips
    from ..io.archive import Archive
    from ..materials.tensors import isotropic_stiffness
    from ..mesh.distributed import DistributedMesh
    from ..mesh.generate import box_mesh
    from ..parallel import get_logger, progress
    from ..reduction.pod import pod, write_basis
    comm = MPI.COMM_WORLD
    log = get_logger("dromo.demo")
    out = args.out
    if comm.rank == 0:
        os.makedirs(out, exist_ok=True)
    comm.Barrier()
    t0 = time.perf_counter()
    n = args.size
    mesh = box_mesh(10 * n, n, n, lengths=(10.0, 1.0, 1.0), element="tet10")
    dm = DistributedMesh(mesh, comm)
    log.info("demo case: tet10 cantilever, %d dofs on %d ranks", dm.n_dofs_global, comm.size)
    K = stiffness_matrix(dm, isotropic_stiffness(210e3, 0.3))
    f_top = pressure_load(dm, "zmax", 1.0)
    f_end = pressure_load(dm, "xmax", 1.0)
    clamp = linear.owned_dofs_of_nodes(dm, dm.node_set("xmin"))
    thetas = np.linspace(0.0, np.pi, args.snapshots)
    rn, ri = dm.redistributor("node"), dm.redistributor("ip")
    train = []
    path = os.path.join(out, "snapshots.h5")
    with Archive.create(path, comm, attrs={"provenance": "dromo demo (linear elastic cantilever)"}) as ar:
        ar.write_mesh(mesh)
        ar.create_field("U", "node", 3, components=["x", "y", "z"], units="mm", n_parameters=1,
                        description="displacement")
        ar.create_field("E", "ip", 6, components=["xx", "yy", "zz", "xy", "xz", "yz"], units="-",
                        n_parameters=1, description="strain (Mandel)")
        for k, th in enumerate(progress(thetas, desc="load cases")):
            f = f_top.copy()
            f.scale(np.cos(th))
            f.axpy(np.sin(th) * 10.0, f_end)
            u = linear.solve(dm, K, f, clamp, None, rtol=1e-10)
            u_loc = dm.to_local(u)
            ar.append_step("U", rn.owned_to_natural(u_loc[:dm.n_owned_nodes]), float(k), [th])
            ar.append_step("E", ri.owned_to_natural(strain_at_ips(dm, u_loc)), float(k), [th])
            train.append(u_loc[:dm.n_owned_nodes].reshape(-1))
    U = np.stack(train, axis=1)
    basis = pod(U[:, ::2], comm=comm, tol=args.tol)
    held_out = U[:, 1::2]
    err = basis.projection_error(held_out)
    with Archive.create(os.path.join(out, "basis.h5"), comm) as ar:
        ar.write_mesh(mesh)
        write_basis(ar, basis, "U_basis", location="node", n_components=3, components=["x", "y", "z"],
                    units="mm", redistributor=rn)
    if comm.rank == 0:
        sv = basis.singular_values
        print(f"dromo demo: {dm.n_dofs_global} dofs, {comm.size} ranks, {len(thetas)} load cases, "
              f"{time.perf_counter() - t0:.1f} s")
        print(f"  partition: edge cut {dm.quality['edge_cut']}, imbalance {dm.quality['imbalance']:.3f}")
        print("  singular values / s1: " + " ".join(f"{s / sv[0]:.2e}" for s in sv[:8]))
        print(f"  POD modes kept at tol {args.tol:g}: {basis.n_kept}; "
              f"max relative projection error of held-out cases: {np.max(err):.2e}")
        print(f"  wrote {path} (+ .xdmf for ParaView) and {os.path.join(out, 'basis.h5')}")
    return 0


def register(sub):
    p = sub.add_parser("demo", help="run the offline pipeline on a built-in case")
    p.add_argument("--out", default="demo-output", help="output folder (default demo-output)")
    p.add_argument("--size", type=int, default=3, help="cells across the beam section (default 3)")
    p.add_argument("--snapshots", type=int, default=12, help="number of load cases (default 12)")
    p.add_argument("--tol", type=float, default=1e-6, help="POD energy tolerance (default 1e-6)")
    p.set_defaults(func=run)
