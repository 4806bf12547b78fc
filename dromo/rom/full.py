"""The O(mesh) side of a reduced model, distributed over the ranks: :class:`FullOperators`.

A :class:`~dromo.rom.model.ReducedModel` holds, replicated, what the online stage needs (O(points ×
modes)). Reconstructing full fields and enriching the model need the distributed operators as well:

* the displacement modes Ψ, a :class:`~dromo.reduction.pod.PODBasis` of owned nodal rows
  ``(3 n_owned_nodes, k)`` (PETSc order, node-major ``x, y, z``), Euclidean inner product;
* the liftings ``L`` ``(3 n_owned_nodes, n_L)`` of the imposed displacements;
* per dual field F a :class:`~dromo.reduction.hyperreduce.DualOperator`: its POD basis on the local
  integration points (rows ``ip · nc + component``, quadrature inner product), QDEIM points, Gappy-POD.

They are written by :meth:`FullOperators.write` into the archive's ``/fields`` (``rom_U``, ``rom_lifting``,
``dual_<F>``, natural numbering) and read back at any rank count by :meth:`FullOperators.read`.
A displacement is ``u = Σ a_i L_i + Ψ γ``; the strains at the integration points follow from the
mode strains ``ε(ψ_j)`` and ``ε(L_i)`` (Mandel, ``(n_ip_local, 6, ·)``), computed once when first asked.
The quadrature weights of the local integration points
are kept too (:attr:`FullOperators.weights`): an enrichment needs them every time.
"""
import numpy as np

__all__ = ["FullOperators"]


class FullOperators:
    """The distributed operators of a reduced model (module docstring). ``dm``: the DistributedMesh;
    ``u_basis`` (PODBasis), ``liftings`` ``(3 n_owned_nodes, n_L)`` or None, ``duals`` {F: DualOperator}."""

    def __init__(self, dm, u_basis, liftings, duals, provenance=None):
        self.dm = dm
        self.u_basis = u_basis
        self.liftings = liftings if liftings is not None else np.zeros((3 * dm.n_owned_nodes, 0))
        self.duals = duals
        self.provenance = dict(provenance or {})
        self._E = self._EL = None
        self._w = None

    # ------------------------------------------------------------------ archive
    def write(self, ar, prefix="", written=None):
        """Write the operators into ``/fields`` of an open, writable archive (field names prefixed by
        ``prefix``: several models in one archive). Collective.

        ``written``: a dict shared by the models written into one archive; a dual basis that another model
        holds too (the same object: a dictionary's shared dual bases) is then stored once, the other
        names being links to it (:meth:`~dromo.io.archive.Archive.link_field`)."""
        from ..reduction.pod import write_basis
        from .model import LIFTING, U_MODES
        dm = self.dm
        prov = {k: (v if isinstance(v, (int, float, str)) else repr(v)) for k, v in self.provenance.items()}
        write_basis(ar, self.u_basis, prefix + U_MODES, location="node", n_components=3, components=["x", "y", "z"],
                    provenance=prov, redistributor=dm.redistributor("node"))
        nl = self.liftings.shape[1]
        if nl:
            owned = self.liftings.reshape(dm.n_owned_nodes, 3, nl)
            block = dm.redistributor("node").owned_to_natural(np.ascontiguousarray(owned))   # (blk, 3, nl)
            ar.write_field(prefix + LIFTING, "node", np.moveaxis(block, -1, 0), times=np.arange(nl, dtype=float),
                           components=["x", "y", "z"], description="liftings of the imposed displacements")
        for f, d in self.duals.items():
            name = f"{prefix}dual_{f}"
            if written is not None and id(d.basis) in written:
                ar.link_field(name, written[id(d.basis)][0])
                continue
            write_basis(ar, d.basis, name, location="ip", n_components=d.n_components,
                        components=d.components, provenance=prov, redistributor=dm.redistributor("ip"))
            if written is not None:
                written[id(d.basis)] = (name, d.basis)                # the basis kept alive: its id stays its own

    @classmethod
    def read(cls, rom, dm, prefix="", bases=None):
        """The operators of the model ``rom`` (loaded from its archive ``rom.path``, field names prefixed by
        ``prefix``) on the distributed mesh ``dm`` of its mesh. Collective.

        ``bases``: a dict shared by the reads of the models of one archive: a dual basis stored once for
        several of them (links) is then read once."""
        from ..fem.operators import ip_weights
        from ..io.archive import Archive
        from ..reduction.eim import GappyPOD, PointSelection
        from ..reduction.hyperreduce import DualOperator
        from ..reduction.pod import read_basis
        from ..reduction.sources import read_block
        from .model import LIFTING, U_MODES
        comm = dm.comm
        w = ip_weights(dm)
        with Archive.open(rom.path, comm) as ar:
            ub = read_basis(ar, prefix + U_MODES, comm, redistributor=dm.redistributor("node"))
            L = None
            if rom.n_liftings:
                src = ar.field_source(prefix + LIFTING, redistributor=dm.redistributor("node"))
                L = read_block(src, 0, src.n_snapshots)
            duals = {}
            for f, d in rom.duals.items():
                nc = len(d.components) or d.fit.nc
                name = ar.field_target(f"{prefix}dual_{f}")
                b = None if bases is None else bases.get(name)
                if b is None:
                    b = read_basis(ar, name, comm, inner=np.repeat(w, d.fit.nc), redistributor=dm.redistributor("ip"))
                    if bases is not None:
                        bases[name] = b
                gp = GappyPOD(b.modes, dm.ip_natural, None, comm, d.fit.nc, fit=d.fit)
                # the QDEIM points are among the fit's points, whose owners the Gappy-POD looked up (-1: unknown)
                qids, ranks = np.asarray(d.qdeim_ids, np.int64), np.asarray(gp.point_ranks, np.int64)
                owners = np.full(qids.size, -1, np.int64)
                if ranks.size:
                    pos = np.minimum(np.searchsorted(d.fit.point_ids, qids), ranks.size - 1)
                    hit = d.fit.point_ids[pos] == qids
                    owners[hit] = ranks[pos[hit]]
                sel = PointSelection(np.zeros(0, np.int64), qids, owners, d.fit.nc, "qdeim")
                duals[f] = DualOperator(f, b, sel, gp, d.fit.nc, list(d.components) or [str(i) for i in range(nc)])
        out = cls(dm, ub, L, duals, provenance={"rom": rom.path})
        out._w = w
        return out

    # ------------------------------------------------------------------ fields
    @property
    def modes(self):
        """Ψ, ``(3 n_owned_nodes, k)``."""
        return self.u_basis.modes

    @property
    def mode_strains(self):
        """``ε(ψ_j)`` at the local integration points, ``(n_ip_local, 6, k)``."""
        if self._E is None:
            from ..fem.points import mode_strains
            self._E = mode_strains(self.dm, self.modes)
        return self._E

    @property
    def lifting_strains(self):
        """``ε(L_i)`` at the local integration points, ``(n_ip_local, 6, n_L)``."""
        if self._EL is None:
            from ..fem.points import mode_strains
            self._EL = mode_strains(self.dm, self.liftings)
        return self._EL

    @property
    def weights(self):
        """Quadrature weights ``w_q detJ`` of the local integration points, ``(n_ip_local,)``, computed once."""
        if self._w is None:
            from ..fem.operators import ip_weights
            self._w = ip_weights(self.dm)
        return self._w

    def displacement(self, gamma, a):
        """``u = L a + Ψ γ`` on the owned nodes, ``(n_owned_nodes, 3)``."""
        u = self.modes @ np.asarray(gamma, dtype=float)
        if self.liftings.shape[1]:
            u = u + self.liftings @ np.asarray(a, dtype=float)
        return u.reshape(-1, 3)

    def strains(self, gamma, a):
        """Strains of ``u = L a + Ψ γ`` at the local integration points, ``(n_ip_local, 6)``; for ``γ``
        ``(k, s)`` and ``a`` ``(n_L, s)`` (several states in one product), ``(n_ip_local, 6, s)``."""
        n = self.dm.n_ip_local
        gamma = np.asarray(gamma, dtype=float)
        eps = self.mode_strains.reshape(n * 6, -1) @ gamma
        if self.liftings.shape[1]:
            eps += self.lifting_strains.reshape(n * 6, -1) @ np.asarray(a, dtype=float)
        return eps.reshape((n, 6) + gamma.shape[1:])

    def natural_blocks(self, fields):
        """The modes of ``fields`` (``U`` and dual fields) on this rank's natural block, as the archive
        stores them: ``{"U": (Ψ (n_blk · 3, k), L (n_blk · 3, n_L)), F: (n_blk · nc, k_F)}``. Collective."""
        dm = self.dm
        out = {}
        for f in fields:
            if f == "U":
                rd = dm.redistributor("node")
                k, nl = self.modes.shape[1], self.liftings.shape[1]
                psi = rd.owned_to_natural(np.ascontiguousarray(self.modes.reshape(dm.n_owned_nodes, 3 * k)))
                lift = rd.owned_to_natural(np.ascontiguousarray(self.liftings.reshape(dm.n_owned_nodes, 3 * nl)))
                out["U"] = (psi.reshape(-1, k), lift.reshape(-1, nl))
            else:
                d = self.duals[f]
                k = d.basis.modes.shape[1]
                blk = dm.redistributor("ip").owned_to_natural(
                    np.ascontiguousarray(d.basis.modes.reshape(dm.n_ip_local, d.n_components * k)))
                out[f] = blk.reshape(-1, k)
        return out
