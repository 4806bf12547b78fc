"""C sources shipped with dromo, compiled with the system C compiler on first use and loaded with ctypes.

:func:`compiled_library` ``("materials/umat_driver.c")`` compiles ``dromo/materials/umat_driver.c`` once into
``$DROMO_CACHE`` (default ``~/.cache/dromo``) as ``umat_driver-<sha1 of the sources>.so`` (a changed source
gets a new name, never a stale library; ``extra`` sources go into the same library and into the name),
writing to a temporary name and renaming it, so that ranks compiling at the same time never load half a
file. Without a compiler (``$CC``, ``gcc`` or ``cc``) or when the compilation fails, it returns None and
logs one warning: the callers keep their numpy or Python path.
``DROMO_NO_CC=1`` forces that path (tests compare the two).
"""
import ctypes
import hashlib
import os
import shutil
import subprocess
import tempfile

#: the dromo package folder: sources are named relative to it
_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: (sources) -> loaded library, or False when it could not be built
_LIBS = {}


def cache_dir():
    """Where compiled libraries go: ``$DROMO_CACHE`` or ``~/.cache/dromo``."""
    return os.environ.get("DROMO_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "dromo"))


def compiled_library(source, flags=("-O2",), what="compiled kernel", extra=()):
    """The ``ctypes.CDLL`` of ``dromo/<source>`` (and ``dromo/<extra>``: one library; compiled on first use), or
    None.

    ``flags``: compiler flags besides ``-shared -fPIC`` (and ``-lm``); ``what`` names the fallback in the
    warning."""
    if os.environ.get("DROMO_NO_CC"):
        return None
    key = (source, *extra)
    lib = _LIBS.get(key)
    if lib is not None:
        return lib or None
    srcs = [os.path.join(_PACKAGE, s) for s in key]
    h = hashlib.sha1()
    for src in srcs:
        with open(src, "rb") as fh:
            h.update(fh.read())
    h.update(" ".join(flags).encode())
    stem = os.path.splitext(os.path.basename(source))[0]
    lib_path = os.path.join(cache_dir(), f"{stem}-{h.hexdigest()[:12]}.so")
    if not os.path.isfile(lib_path):
        err = _compile(srcs, lib_path, flags)
        if err:
            _LIBS[key] = False
            from ..parallel.log import get_logger
            get_logger(__name__).warning("%s (%s) not built (%s): slower fallback", what, source, err)
            return None
    _LIBS[key] = ctypes.CDLL(lib_path)
    return _LIBS[key]


def _compile(srcs, lib_path, flags):
    """Compile the sources ``srcs`` into ``lib_path`` atomically; an error message, or None on success."""
    cc = os.environ.get("CC") or shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        return "no C compiler"
    try:
        os.makedirs(os.path.dirname(lib_path), exist_ok=True)
        fd, tmp = tempfile.mkstemp(suffix=".so", dir=os.path.dirname(lib_path))
        os.close(fd)
    except OSError as exc:
        return f"cache folder: {exc}"
    try:
        subprocess.run([cc, *flags, "-shared", "-fPIC", "-o", tmp, *srcs, "-lm"], check=True,
                       capture_output=True, text=True)
        os.replace(tmp, lib_path)           # atomic: concurrent ranks may compile at once
        return None
    except subprocess.CalledProcessError as exc:
        return (exc.stderr or str(exc)).strip().splitlines()[-1] if (exc.stderr or "").strip() else str(exc)
    except OSError as exc:
        return str(exc)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
