"""Meshes: the serial MeshData container, readers, generators, element library, quadrature,
partitioning, and the DistributedMesh."""
