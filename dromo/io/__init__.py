"""Input/output: the dromo archive (HDF5, collective), its XDMF sidecar, and adapters for external codes."""
from .archive import Archive

__all__ = ["Archive"]
