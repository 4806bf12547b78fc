"""Meshes: the serial MeshData container, readers (``readers``: the meshio bridge and ``read_mesh``;
``inp``: the Abaqus/CalculiX deck parser and writer), generators, element library, quadrature,
partitioning, and the DistributedMesh."""
