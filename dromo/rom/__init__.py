"""The reduced-order model: offline build, online reduced Newton, results.

* :class:`ReducedModel` (:mod:`dromo.rom.model`) — owns the ROM archive; ``ReducedModel.load(path, comm)``,
  ``rom.solve(case)``, ``rom.reconstruct(result, fields=..., output=...)``;
* :func:`build` (:mod:`dromo.rom.offline`) — training runs → model (liftings, POD, ECM, Gappy-POD, reduced
  loads); :func:`load_training` (:mod:`dromo.rom.training`) reads a ``train.toml``;
* :func:`solve` (:mod:`dromo.rom.online`) — the reduced Newton solver over a case's time span;
* :func:`write_result` (:mod:`dromo.rom.result`) — the online result archive, with full fields on demand.
"""
from .model import ReducedModel
from .offline import build, hyperreduce
from .online import ReducedResult, solve
from .result import write_result
from .training import load_training

__all__ = ["ReducedModel", "build", "hyperreduce", "solve", "ReducedResult", "write_result", "load_training"]
