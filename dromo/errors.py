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


class LawError(DromoError):
    """A constitutive law returned non-finite values (NaN/Inf stress, tangent or internal variables) at a
    point: a defect of the law or of its parameters, not a step to cut."""


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


class ForeignExit(InputError):
    """A third-party library called ``sys.exit`` (or raised ``SystemExit``) inside :func:`no_exit`."""


class no_exit:  # noqa: N801 - used as a context manager, like contextlib's
    """Call a third-party library so that it cannot end the process.

    Some readers print their error and call ``sys.exit`` (meshio: ``XDMF reader: Only supports one grid
    right now.``). Under MPI that ends one rank while the others wait in the next collective call for
    ever. Inside ``with no_exit("mesh.xdmf: cannot read as xdmf mesh", hint="..."):`` a ``SystemExit``
    becomes a :class:`ForeignExit` (an :class:`InputError`) whose message is ``what``, the text the
    library printed just before exiting (captured from ``sys.stdout``/``sys.stderr`` during the call; printed
    as usual when the call returns or raises anything else) and the ``hint`` (what the user can do).
    """

    def __init__(self, what, hint=""):
        self.what, self.hint = what, hint

    def __enter__(self):
        import contextlib
        import io
        self._buffer = io.StringIO()
        self._stack = contextlib.ExitStack()
        self._stack.enter_context(contextlib.redirect_stdout(self._buffer))
        self._stack.enter_context(contextlib.redirect_stderr(self._buffer))
        return self

    def __exit__(self, exc_type, exc, tb):
        import sys
        self._stack.close()
        printed = self._buffer.getvalue()
        if exc_type is not None and issubclass(exc_type, SystemExit):
            said = " / ".join(line.strip() for line in printed.splitlines() if line.strip())[:400]
            said = said or f"exit status {exc.code}"
            hint = f" ({self.hint})" if self.hint else ""
            raise ForeignExit(f"{self.what}: {said} [the library called sys.exit({exc.code!r}), caught "
                              f"by dromo]{hint}") from None
        if printed:                     # not an exit: what the library printed is shown as usual
            sys.stderr.write(printed)
        return False
