"""dromo's exception hierarchy.

Every error a user can cause derives from :class:`DromoError`; its message names the file, the field,
the element or the rank involved, so that the command line can print it and exit non-zero.
"""


class DromoError(RuntimeError):
    """Base class of dromo's errors (exit status 1 at the command line)."""


class InputError(DromoError, ValueError):
    """Bad input: a file, a field, a parameter or a mesh item that cannot be used as given."""


class ConvergenceError(DromoError):
    """An iterative method (Newton, a local law integration, a Krylov solve) did not converge."""


class CollectiveError(DromoError):
    """Raised on every rank when one or more ranks failed inside a collective section.

    Attributes
    ----------
    failures : list of (rank, type name, message)
    """

    def __init__(self, failures):
        self.failures = list(failures)
        text = "; ".join(f"rank {r}: {m}" for r, _t, m in self.failures)
        super().__init__(text)


class CollectiveInputError(CollectiveError, InputError):
    """A :class:`CollectiveError` where at least one rank failed on bad input."""
