"""The parallel high-fidelity reference solver (quasi-static, small strain, elastoviscoplastic).

``Problem`` (case), loads (``Displacement``, ``Pressure``, ``Gravity``, ``Centrifugal``, ``Temperature``,
``Amplitude``), ``TimeStepping``, ``run`` (time stepping, output, checkpoint/restart), ``hf_increment``
(one increment from any state: the hook of the adaptive ROM) and its ``TangentSolver``, ``march``
(the time loop every solver shares), ``State``, ``load_case`` (TOML), ``PointProblem`` (a case at a few
integration points: ``Problem.restrict``).
"""
from .loads import Amplitude, Centrifugal, Displacement, Gravity, Pressure, Temperature
from .march import march
from .newton import TangentSolver, hf_increment
from .points import PointProblem
from .problem import Problem, TimeStepping
from .solver import run
from .state import State, initial_state, internal_field

__all__ = ["Amplitude", "Centrifugal", "Displacement", "Gravity", "Pressure", "Temperature", "hf_increment",
           "TangentSolver", "march", "PointProblem", "Problem", "TimeStepping", "run", "State", "initial_state", "internal_field", "load_case"]


def load_case(path, comm=None):
    """Read a TOML case file into a :class:`Problem` (see :mod:`dromo.hf.case_file`)."""
    from .case_file import load_case as _load
    return _load(path, comm)
