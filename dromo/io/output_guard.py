"""What keeps an output valid when writing fails: free space checked before each write, stale temporaries
of killed runs removed, a file whose writes failed left open until the process ends (status 74).

Used by :class:`~dromo.io.archive.Archive` (every write goes through a temporary ``PATH.tmp-HOST-PID``
renamed on success). Why a broken file is never closed: see :func:`leave_open`.
"""
import atexit
import glob
import os
import re
import socket
import sys

from ..errors import DromoError
from ..parallel.errors import raise_collectively
from ..parallel.log import get_logger

log = get_logger("dromo.io.archive")

#: bytes required on top of the data of every write: HDF5 metadata (object headers, B-trees, the
#: superblock and the final flush at close)
SPACE_MARGIN = 1 << 20
#: bound (seconds) a rank whose write failed waits for the others before aborting the job (status 74)
WAIT_SECONDS = float(os.environ.get("DROMO_IO_WAIT_SECONDS", "5"))
#: exit status of a job aborted on a failed write (EX_IOERR of sysexits.h; the command line uses it too)
EXIT_OUTPUT = 74


class OutputError(DromoError):
    """An archive cannot be written: full disk, quota, read-only or vanished folder, I/O error."""


def human_size(n):
    """A byte count for people: ``3.4 MB (3400000 bytes)``."""
    n = int(n)
    for unit, f in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if abs(n) >= f:
            return f"{n / f:.1f} {unit} ({n} bytes)"
    return f"{n} bytes"


def free_bytes(path):
    """Bytes available to this user on the file system holding ``path`` (a file or a folder)."""
    d = path if os.path.isdir(path) else os.path.dirname(os.path.abspath(path))
    st = os.statvfs(d)
    return st.f_bavail * st.f_frsize


def temp_name(path):
    """The temporary name of ``path`` for this process: ``PATH.tmp-HOST-PID`` (rank 0 decides)."""
    host = re.sub(r"[^A-Za-z0-9_.]", "_", socket.gethostname()) or "host"
    return f"{path}.tmp-{host}-{os.getpid()}"


def pid_alive(pid):
    """Whether process ``pid`` of this host still runs. A zombie (a killed rank whose parent, mpirun, is
    gone and whose new parent has not reaped it yet: PID 1 of a container may never do so) is dead."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return True


def remove_stale_temporaries(path):
    """Remove ``PATH.tmp-HOST-PID`` (and the older ``PATH.tmp-PID``) files left by killed runs (local).

    Only temporaries of *this* host whose process no longer exists are removed (each with a warning); a
    run still alive keeps its temporary, and one of another host is reported but kept (its process cannot
    be checked from here). Returns the list of removed files.
    """
    host = re.sub(r"[^A-Za-z0-9_.]", "_", socket.gethostname()) or "host"
    removed = []
    for tmp in sorted(glob.glob(glob.escape(path) + ".tmp-*")):
        m = re.fullmatch(r"(?:(?P<host>.+)-)?(?P<pid>\d+)", tmp[len(path) + 5:])
        if m is None:
            continue
        pid = int(m.group("pid"))
        if m.group("host") not in (None, host):
            log.warning("%s: temporary %s belongs to host %s; left alone (remove it if that run is over)",
                        path, tmp, m.group("host"))
            continue
        if pid == os.getpid() or pid_alive(pid):
            continue
        try:
            size = os.path.getsize(tmp)
            os.remove(tmp)
        except OSError as exc:
            log.warning("%s: cannot remove stale temporary %s (%s)", path, tmp, exc)
            continue
        log.warning("removed %s (%s), the temporary of an earlier run (process %d) that did not finish",
                    tmp, human_size(size), pid)
        removed.append(tmp)
    return removed


def ensure_space(final, tmp, nbytes, what, comm):
    """Raise OutputError on every rank unless ``nbytes`` + SPACE_MARGIN are free next to ``tmp``."""
    need = int(nbytes) + SPACE_MARGIN
    msg = None
    if comm.rank == 0 and os.environ.get("DROMO_SPACE_CHECK", "1") != "0":
        folder = os.path.dirname(os.path.abspath(tmp))
        try:
            free = free_bytes(folder)
        except OSError as exc:
            msg = f"{final}: cannot write {what}: output folder {folder} is not usable ({exc})"
        else:
            if free < need:
                msg = (f"{final}: not enough space to write {what}: {human_size(need)} needed (with "
                       f"{human_size(SPACE_MARGIN)} for HDF5 metadata), {human_size(free)} free in {folder}")
    raise_collectively(OutputError(msg) if msg else None, comm)


def prepare_output(path, tmp, nbytes, what, comm):
    """Before writing ``path`` through ``tmp`` (collective): the folder exists and is writable, stale
    temporaries of ``path`` are removed, and ``nbytes`` (+ margin) are free."""
    exc = None
    if comm.rank == 0:
        d = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(d):
            exc = OutputError(f"{path}: output folder {d} does not exist")
        elif not os.access(d, os.W_OK | os.X_OK):
            exc = OutputError(f"{path}: output folder {d} is not writable")
        else:
            remove_stale_temporaries(path)
    raise_collectively(exc, comm)
    ensure_space(path, tmp, nbytes, what, comm)


_leaked = []          # h5py Files left open after a failed write (see leave_open)


def _exit_without_closing():
    """atexit: end the process (status 74) before h5py's own atexit tries to close a broken file."""
    if _leaked:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(EXIT_OUTPUT)


def leave_open(h5):
    """Leave an h5py File whose writes failed open until the process ends, which is then ended by
    :func:`os._exit` with status :data:`EXIT_OUTPUT` (EX_IOERR).

    Closing it is not an option with this h5py/HDF5 (3.7/1.10, MPI-IO): when HDF5 cannot flush the file's
    metadata (ENOSPC, EDQUOT, EROFS), ``File.close`` loops on ``H5Idec_ref`` while the file id stays
    valid (both ranks spin at 100 % CPU, holding the GIL, forever: what the issue saw), even after the
    temporary is truncated to give the space back; and h5py's own close at interpreter exit spins or
    segfaults the same way. The temporary file is removed before this is called. The handler registered
    here runs before h5py's (atexit is last in, first out), after the error has been printed.
    """
    if not _leaked:
        atexit.register(_exit_without_closing)
    _leaked.append(h5)
