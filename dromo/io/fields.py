"""The vocabulary of the fields in a dromo archive: names, locations and component orders, in one place.

Producers (the reference solver, the import adapters) write these names; consumers (POD, hyper-reduction,
the online ROM) read them. External codes' names and orders are converted at the adapters.

=====================  ==========  ========  ===============================================================
name                   location    comps     meaning
=====================  ==========  ========  ===============================================================
``U``                  node        3         displacement, components :data:`VECTOR_COMPONENTS`
``S``                  ip          6         Cauchy stress, Mandel (:data:`MANDEL_COMPONENTS`)
``E``                  ip          6         total strain, Mandel
``T``                  ip          1         temperature (nodal ``T`` from some adapters)
``p``                  ip          1         cumulated plastic strain (an internal variable; the other ones
                                             keep the law's names: ``eps_p``, ``alpha_1`` …)
=====================  ==========  ========  ===============================================================

Symmetric tensors are Mandel 6-vectors: order ``xx, yy, zz, xy, xz, yz``, shear components × √2, so that
``a : b == a @ b`` (converters in :mod:`dromo.materials.tensors`).
"""

__all__ = ["DISPLACEMENT", "STRESS", "STRAIN", "TEMPERATURE", "CUMULATED_PLASTIC_STRAIN", "LOCATIONS",
           "MANDEL_COMPONENTS", "VECTOR_COMPONENTS"]

#: displacement (node, 3)
DISPLACEMENT = "U"
#: Cauchy stress (ip, 6 Mandel)
STRESS = "S"
#: total strain (ip, 6 Mandel)
STRAIN = "E"
#: temperature (ip, 1)
TEMPERATURE = "T"
#: cumulated plastic strain (ip, 1)
CUMULATED_PLASTIC_STRAIN = "p"

#: where a field's items live: mesh nodes, integration points, cells, or one global item
LOCATIONS = ("node", "ip", "cell", "global")
#: component names of a symmetric tensor (Mandel order)
MANDEL_COMPONENTS = ("xx", "yy", "zz", "xy", "xz", "yz")
#: component names of a 3-vector (displacement)
VECTOR_COMPONENTS = ("x", "y", "z")
