"""A real one-node SLURM for the tests: munged, slurmctld and slurmd of Debian's ``slurm-wlm`` and ``munge``,
started in the foreground from a configuration written into a scratch folder, and stopped by their PIDs.

Everything lives in that folder (munge key and socket, state, spool, logs) and on free TCP ports, so it
neither needs nor touches a system SLURM or munge, and two test runs on one machine do not meet. Clients
find it through ``SLURM_CONF`` (:meth:`Cluster.env`). Needs root (slurmd starts jobs as their user).
"""
import os
import shutil
import socket
import subprocess
import time

from .._mpi import mpi_env

DAEMONS = ("munged", "slurmctld", "slurmd")
CLIENTS = ("sbatch", "scontrol", "squeue", "scancel", "srun")
NODE = "dromo-node"
FINAL = ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED", "BOOT_FAIL")


def unavailable():
    """Why a one-node SLURM cannot run here, or None."""
    if os.geteuid() != 0:
        return "needs root (slurmd runs jobs as their user)"
    missing = [p for p in DAEMONS + CLIENTS if shutil.which(p, path=os.environ["PATH"] + ":/usr/sbin") is None]
    if missing:
        return f"SLURM not installed (missing {' '.join(missing)}; Debian: apt-get install slurm-wlm munge)"
    return None


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    def __init__(self, folder, cpus=2):
        self.dir = folder
        self.procs = {}
        os.makedirs(folder, mode=0o700, exist_ok=True)
        for d in ("state", "spool", "munge"):
            os.makedirs(os.path.join(folder, d), mode=0o700, exist_ok=True)
        self.munge_socket = os.path.join(folder, "munge", "socket")
        self.conf = os.path.join(folder, "slurm.conf")
        host = socket.gethostname().split(".")[0]          # slurmctld only starts on the host it is told
        with open(self.conf, "w") as f:
            f.write(f"""\
ClusterName=dromotest
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={_free_port()}
SlurmdPort={_free_port()}
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={self.munge_socket}
SlurmUser=root
SlurmdUser=root
StateSaveLocation={folder}/state
SlurmdSpoolDir={folder}/spool
SlurmctldPidFile={folder}/slurmctld.pid
SlurmdPidFile={folder}/slurmd.pid
SlurmctldLogFile={folder}/slurmctld.log
SlurmdLogFile={folder}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
# Debian's default: no MPI plugin unless the job asks for one (the job scripts must cope with it).
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
# The main scheduling pass every 5 s instead of 60 (it is what marks a job whose dependency failed).
SchedulerParameters=sched_interval=5
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
# The node has {cpus} CPUs whatever this machine has (a 1-core CI machine still runs 2 tasks).
SlurmdParameters=config_overrides
NodeName={NODE} NodeAddr=127.0.0.1 CPUs={cpus} State=UNKNOWN
PartitionName=debug Nodes={NODE} Default=YES MaxTime=INFINITE State=UP
""")

    def env(self, **extra):
        """This process's environment for clients and jobs (sbatch exports it to the job), without its MPI
        singleton's variables or an enclosing allocation's, with ``SLURM_CONF`` pointing here."""
        env = mpi_env(dict(SLURM_CONF=self.conf, **extra))
        for v in [v for v in env if v.startswith(("SLURM_", "SBATCH_", "SRUN_")) and v != "SLURM_CONF"]:
            del env[v]
        return env

    def _start(self, name, cmd):
        log = open(os.path.join(self.dir, f"{name}.out"), "w")
        self.procs[name] = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=self.env(),
                                            start_new_session=True)

    def start(self, timeout=60):
        key = os.path.join(self.dir, "munge", "munge.key")
        with open(key, "wb") as f:
            f.write(os.urandom(1024))
        os.chmod(key, 0o400)
        m = os.path.join(self.dir, "munge")
        self._start("munged", ["munged", "-F", "--force", f"--key-file={key}", f"--socket={self.munge_socket}",
                               f"--pid-file={m}/munged.pid", f"--log-file={m}/munged.log",
                               f"--seed-file={m}/munged.seed"])
        self._wait(lambda: os.path.exists(self.munge_socket), timeout, "munged")
        self._start("slurmctld", ["slurmctld", "-D", "-i", "-f", self.conf])
        self._start("slurmd", ["slurmd", "-D", "-N", NODE, "-f", self.conf])
        self._wait(self._node_idle, timeout, "slurmd (node idle)")

    def _node_idle(self):
        p = self.run(["sinfo", "-h", "-n", NODE, "-o", "%t"], check=False)
        return p.returncode == 0 and p.stdout.strip() == "idle"

    def _wait(self, ready, timeout, what):
        end = time.monotonic() + timeout
        while not ready():
            dead = [n for n, p in self.procs.items() if p.poll() is not None]
            if dead or time.monotonic() > end:
                raise RuntimeError(f"{what} not ready ({'exited: ' + ' '.join(dead) if dead else 'timeout'}):\n"
                                   + self.logs())
            time.sleep(0.3)

    def logs(self):
        out = []
        for name in ("munged.out", "munge/munged.log", "slurmctld.log", "slurmd.log"):
            path = os.path.join(self.dir, name)
            if os.path.exists(path):
                with open(path, errors="replace") as f:
                    out.append(f"--- {name}\n" + "".join(f.readlines()[-30:]))
        return "\n".join(out)

    def run(self, cmd, check=True, timeout=60, **kw):
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=kw.pop("env", self.env()), **kw)
        if check and p.returncode != 0:
            raise RuntimeError(f"{cmd}: {p.returncode}\n{p.stdout}\n{p.stderr}")
        return p

    def job(self, job_id):
        """``scontrol show job`` as a dict (JobState, ExitCode, Reason, WorkDir, StdOut, ...)."""
        out = self.run(["scontrol", "-o", "show", "job", str(job_id)]).stdout
        return dict(item.split("=", 1) for item in out.split() if "=" in item)

    def wait_job(self, job_id, until=lambda info: info["JobState"] in FINAL, timeout=300):
        """The job's state once ``until(state)`` holds, or after ``timeout`` seconds (default: it ended)."""
        end = time.monotonic() + timeout
        while True:
            info = self.job(job_id)
            if until(info) or time.monotonic() > end:
                return info
            time.sleep(0.5)

    def stop(self):
        """Stop the daemons by the PIDs this object started, slurmd first; SIGKILL after 15 s."""
        for name in ("slurmd", "slurmctld", "munged"):
            p = self.procs.pop(name, None)
            if p is None or p.poll() is not None:
                continue
            p.terminate()
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
