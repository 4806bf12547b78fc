"""The parallel high-fidelity reference solver (quasi-static, small strain, elastoviscoplastic).

``Problem`` (case), loads (``Displacement``, ``Pressure``, ``Gravity``, ``Centrifugal``, ``Temperature``,
``Amplitude``), ``TimeStepping``, ``run`` (time stepping, output, checkpoint/restart), ``hf_increment``
(one increment from any state: the hook of the adaptive ROM), ``State``, ``load_case`` (TOML).
"""
from .loads import Amplitude, Centrifugal, Displacement, Gravity, Pressure, Temperature
from .newton import hf_increment
from .problem import Problem, TimeStepping
from .solver import run
from .state import State, initial_state, internal_field

__all__ = ["Amplitude", "Centrifugal", "Displacement", "Gravity", "Pressure", "Temperature", "hf_increment",
           "Problem", "TimeStepping", "run", "State", "initial_state", "internal_field", "load_case"]


def load_case(path, comm=None):
    """Read a TOML case file into a :class:`Problem` (see :mod:`dromo.hf.case_file`)."""
    from .case_file import load_case as _load
    return _load(path, comm)
