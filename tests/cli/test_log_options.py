"""`--quiet` / `--verbose` / `--log-level` are the same options for every dromo command, accepted before or
after the command's name, and do the same thing: --quiet leaves no info or progress lines on stderr (the
command's result on stdout stays), --verbose adds debug lines. Real runs of every command on a small bar."""
import os

import pytest

from dromo.cli.main import SUBCOMMANDS, build_parser, command_parsers
from .._mpi import dromo_cmd, run_mpi, serial_only
from ..hf.test_hf_cli import _write_case
from ..rom import rom_cases as rc

pytestmark = serial_only

FLAGS = {"-q", "--quiet", "-v", "--verbose", "--log-level"}

#: (command, arguments, ranks, logs info lines by default): in this order, each run making what the next read
RUNS = [
    ("mesh", ["mesh", "box", "--element", "hex8", "--cells", "2", "1", "1", "-o", "box.h5"], 1, False),
    ("mesh", ["mesh", "info", "box.h5"], 1, True),
    ("solve", ["solve", "case.toml", "-o", "r.h5"], 2, True),
    ("pod", ["pod", "r.h5", "--field", "U", "--tol", "1e-6", "-o", "b.h5"], 1, True),
    ("hyperreduce", ["hyperreduce", "r.h5", "--basis", "b.h5", "--tol", "1e-4", "-o", "h.h5"], 1, True),
    ("offline", ["offline", "train.toml", "-o", "rom.h5"], 1, True),
    ("online", ["online", "rom.h5", "case.toml", "-o", "on.h5"], 1, True),
    ("adapt", ["adapt", "rom.h5", "case.toml", "--tol", "0.01", "-o", "ad.h5"], 1, True),
    ("calibrate", ["calibrate", "rom.h5", "--run", "case.toml", "r.h5", "--field", "S"], 1, True),
    ("compare", ["compare", "on.h5", "r.h5"], 1, False),
    ("import", ["import", "meshio", "r.xdmf", "r.xdmf", "-o", "imp.h5"], 1, False),   # an input error: cheap
    ("case", ["case", "list"], 1, False),
    ("info", ["info"], 1, False),
    ("demo", ["demo", "--out", "/proc/no-such-folder"], 1, True),     # stage 1 logged, then an error: cheap
    ("dictionary", ["dictionary", "no-such.toml", "-o", "d.h5"], 1, False),           # input errors: cheap
    ("uq", ["uq", "no-such.h5", "case.toml", "--draws", "2", "-o", "u.h5"], 1, False),
]


def test_every_command_and_subcommand_takes_the_log_options():
    parsers = command_parsers(build_parser())
    assert {path[0] for path, _p in parsers if path} == {m.rsplit(".", 1)[1].replace("importer", "import")
                                                        for m in SUBCOMMANDS}
    assert len(parsers) > len(SUBCOMMANDS)                          # nested ones: mesh box, case write, ...
    for path, p in parsers:
        assert FLAGS <= set(p._option_string_actions), path
    assert {name for name, *_ in RUNS} == {path[0] for path, _p in parsers if path}


@pytest.mark.parametrize("argv, level", [
    (["info"], None),
    (["--quiet", "info"], "WARNING"),
    (["info", "-q"], "WARNING"),
    (["-v", "mesh", "info", "x.h5"], "DEBUG"),
    (["mesh", "--verbose", "info", "x.h5"], "DEBUG"),
    (["-q", "mesh", "info", "x.h5", "-v"], "DEBUG"),                  # the last one given wins
    (["--verbose", "pod", "s.h5", "--field", "U", "--tol", "1e-6", "-o", "b.h5", "--quiet"], "WARNING"),
    (["--log-level", "error", "case", "list"], "ERROR"),
])
def test_position_of_the_options(argv, level):
    assert getattr(build_parser().parse_args(argv), "log_level", None) == level


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("log_options"))
    _write_case(d)
    rc.write_training(d, [("case.toml", "r.h5")])
    return d


def _lines(text, tag):
    return [line for line in text.splitlines() if line.startswith(tag)]


@pytest.mark.parametrize("i", range(len(RUNS)), ids=[" ".join(r[1][:2]) for r in RUNS])
def test_quiet_and_verbose_on_a_real_run_of_every_command(folder, i):
    """--verbose (before the name) shows the dispatcher's debug line and the info lines; --quiet (after the
    arguments, and against DROMO_LOG_LEVEL=DEBUG) none of them: on stderr only warnings and errors."""
    name, args, n, logs_info = RUNS[i]
    loud = run_mpi(n, dromo_cmd() + ["--verbose"] + args, cwd=folder)
    assert f"] dromo {name} on {n} rank(s)" in _lines(loud.stderr, "[dromo D")[0], loud.stderr
    assert bool(_lines(loud.stderr, "[dromo I")) == logs_info, loud.stderr
    quiet = run_mpi(n, dromo_cmd() + args + ["--quiet"], cwd=folder, env={"DROMO_LOG_LEVEL": "DEBUG"})
    assert quiet.returncode == loud.returncode, quiet.stderr
    assert not _lines(quiet.stderr, "[dromo I") and not _lines(quiet.stderr, "[dromo D"), quiet.stderr
    # what the command prints as its result (stdout) does not depend on the level (timings may differ)
    assert len(quiet.stdout.splitlines()) == len(loud.stdout.splitlines()), (quiet.stdout, loud.stdout)
    if name in ("import", "demo", "dictionary", "uq"):
        assert quiet.returncode == 1 and "error" in quiet.stderr
