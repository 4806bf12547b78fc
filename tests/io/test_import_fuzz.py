"""Fuzz test of the three CalculiX readers (deck ``.inp``, ``.frd``, ``.dat``): seeded mutations of a
solved deck, each bounded in time. For every mutation the import either refuses with one clear
:class:`InputError` line naming the mutated file and leaves no output, or succeeds with an archive
equal to the one of the unmutated input; never another exception, never a hang.

The mutations are the damage a file can take without becoming another valid file: lines deleted,
duplicated or swapped, the file cut at any byte, a stray byte inside a number, a number replaced by
NaN/Inf/overflow. (Changing one digit of a value, or deleting one set entry of a deck, gives a valid
file with other data: no reader can tell.) Property-based with ``hypothesis`` (Debian's
``python3-hypothesis``): it draws the kind of damage and the seed that places it, derandomized (the
same cases every run, no example database), and shrinks a failure to the smallest seed that shows it;
the number of examples per file bounds the test well under a minute.
"""
import os
import re
import shutil
import signal

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from mpi4py import MPI

from dromo.errors import InputError
from dromo.io.adapters import import_results
from dromo.io.adapters.calculix import CalculixReader

from .._mpi import serial_only
from .ccx_cases import needs_ccx, run_ccx, write_case

pytestmark = [pytest.mark.calculix, needs_ccx, serial_only]

SECONDS_PER_CASE = 20
#: attributes that name the source files or the run, not the data
PROVENANCE = {"created", "n_ranks_written", "source", "source_deck", "source_frd", "source_dat",
              "provenance", "frd_components", "dat_components"}
STRAY = [b"x", b"#", b"?", b"/", b"\x00", b"\xff"]
NONFINITE_FRD = [b"         nan", b"        -inf", b" 1.0000E+400"]
NONFINITE_DAT = [b"nan", b"-inf", b"1.000000E+400"]


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    d = tmp_path_factory.mktemp("fuzz")
    deck = write_case(str(d / "c"), "hex8", cells=(2, 1, 1), n_inc=4)
    frd, dat = run_ccx(deck)
    ref = str(d / "ref.h5")
    _import(ref, deck, frd, dat)
    return d, deck, frd, dat, _snapshot(ref)


def _import(out, deck, frd, dat):
    return import_results(CalculixReader(deck, frd, dat=dat), out, MPI.COMM_WORLD)


def _snapshot(path):
    items = {}
    with h5py.File(path, "r") as h:
        def visit(name, obj):
            attrs = {k: np.asarray(v) for k, v in obj.attrs.items() if k not in PROVENANCE}
            items[name] = (obj[...] if isinstance(obj, h5py.Dataset) else None, attrs)
        h.visititems(visit)
    return items


def _same(a, b):
    if set(a) != set(b):
        return f"objects differ: {sorted(set(a) ^ set(b))[:5]}"
    for k, (d, attrs) in a.items():
        d2, attrs2 = b[k]
        if (d is None) != (d2 is None) or (d is not None and not (
                d.shape == d2.shape and d.dtype == d2.dtype and np.array_equal(d, d2, equal_nan=d.dtype.kind == "f"))):
            return f"{k} differs"
        if set(attrs) != set(attrs2) or any(not np.array_equal(attrs[n], attrs2[n]) for n in attrs):
            return f"attributes of {k} differ"
    return ""


# ------------------------------------------------------------------------------ mutations

def _data_line(L, rng, prefix):
    idx = [i for i, l in enumerate(L) if prefix(l)]
    return int(rng.choice(idx))


def mutate_lines(data, rng, kind, is_data, nonfinite, value_field):
    """One mutation of the bytes ``data``: (new bytes, description)."""
    if kind == "truncate":
        k = int(rng.integers(1, len(data)))
        return data[:k], f"cut at byte {k}"
    L = data.split(b"\n")
    n = len(L) - 1 if L[-1] == b"" else len(L)
    i = int(rng.integers(0, n))
    if kind == "delete":
        return b"\n".join(L[:i] + L[i + 1:]), f"line {i + 1} deleted"
    if kind == "duplicate":
        return b"\n".join(L[:i + 1] + L[i:]), f"line {i + 1} duplicated"
    if kind == "swap":
        i = min(i, n - 2)
        L[i], L[i + 1] = L[i + 1], L[i]
        return b"\n".join(L), f"lines {i + 1} and {i + 2} swapped"
    i = _data_line(L, rng, is_data)
    line = L[i]
    if kind == "nonfinite":
        a, b = value_field(line, rng)
        L[i] = line[:a] + nonfinite[int(rng.integers(len(nonfinite)))].rjust(b - a) + line[b:]
        return b"\n".join(L), f"line {i + 1}: a value made non-finite"
    if kind == "stray":
        digits = [k for k, c in enumerate(line) if chr(c).isdigit()]
        k = int(rng.choice(digits))
        L[i] = line[:k] + STRAY[int(rng.integers(len(STRAY)))] + line[k + 1:]
        return b"\n".join(L), f"line {i + 1}: stray byte at column {k + 1}"
    if kind == "keyword":
        i = _data_line(L, rng, lambda l: l.startswith(b"*") and not l.startswith(b"**"))
        end = L[i].find(b",") if b"," in L[i] else len(L[i])
        k = int(rng.integers(2, end))
        L[i] = L[i][:k] + STRAY[int(rng.integers(len(STRAY)))] + L[i][k + 1:]
        return b"\n".join(L), f"line {i + 1}: keyword {L[i][:end].decode(errors='replace')!r}"
    if kind == "anybyte":
        i = int(rng.integers(0, n))
        k = int(rng.integers(0, max(1, len(L[i]))))
        L[i] = L[i][:k] + STRAY[int(rng.integers(len(STRAY)))] + L[i][k + 1:]
        return b"\n".join(L), f"line {i + 1}: byte {k + 1} replaced"
    raise ValueError(kind)


def _frd_value(line, rng):
    k = int(rng.integers(0, (len(line) - 13) // 12))
    return 13 + 12 * k, 25 + 12 * k


def _dat_value(line, rng):
    spans = [m.span() for m in re.finditer(rb"\S+", line)][2:]
    return spans[int(rng.integers(len(spans)))]


def _deck_value(line, rng):
    parts = line.split(b",")
    k = int(rng.integers(1, len(parts)))
    a = len(b",".join(parts[:k])) + 1
    return a, a + len(parts[k])


FILES = {
    "frd": dict(kinds=["delete", "duplicate", "swap", "truncate", "nonfinite", "stray", "anybyte"], n=300,
                is_data=lambda l: l.startswith(b" -1"), nonfinite=NONFINITE_FRD, value=_frd_value),
    "dat": dict(kinds=["delete", "duplicate", "swap", "truncate", "nonfinite", "stray", "anybyte"], n=300,
                is_data=lambda l: l[:10].strip().isdigit(), nonfinite=NONFINITE_DAT, value=_dat_value),
    # the deck: only what cannot give another valid deck (a stray byte in a node or element line,
    # a coordinate made non-finite)
    "inp": dict(kinds=["nonfinite", "stray"], n=100, nonfinite=[b"nan", b"inf", b"1e400"],
                is_data=lambda l: l[:1].isdigit() and l.count(b",") in (3, 8), value=_deck_value),
}


FILES["keyword"] = dict(FILES["inp"], kinds=["keyword"], n=12)


class _Timeout(Exception):
    pass


def _alarm(_sig, _frame):
    raise _Timeout()


@pytest.mark.parametrize("target", ["frd", "dat", "inp", "keyword"])
def test_mutations_refused_or_equal(case, tmp_path, target):
    d, deck, frd, dat, ref = case
    spec = FILES[target]
    target = "inp" if target == "keyword" else target
    src = {"frd": frd, "dat": dat, "inp": os.path.join(os.path.dirname(deck), "mesh.inp")}[target]
    original = open(src, "rb").read()
    name = {"frd": "m.frd", "dat": "m.dat", "inp": "mesh.inp"}[target]
    outcomes = {"refused": 0, "equal": 0, "n": 0}

    @settings(max_examples=spec["n"], deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
    @given(kind=st.sampled_from(spec["kinds"]), seed=st.integers(0, 2 ** 32 - 1))
    def mutation_is_refused_or_harmless(kind, seed):
        data, what = mutate_lines(original, np.random.default_rng(seed), kind, spec["is_data"], spec["nonfinite"],
                                  spec["value"])
        outcomes["n"] += 1
        folder = tmp_path / f"m{outcomes['n']}"
        folder.mkdir()
        shutil.copy(deck, folder / "job.inp")
        shutil.copy(os.path.join(os.path.dirname(deck), "mesh.inp"), folder / "mesh.inp")
        (folder / name).write_bytes(data)
        paths = {"frd": frd, "dat": dat, target: str(folder / name)}
        out = folder / "out.h5"
        old = signal.signal(signal.SIGALRM, _alarm)
        signal.alarm(SECONDS_PER_CASE)
        try:
            _import(str(out), str(folder / "job.inp"), paths["frd"], paths["dat"])
        except InputError as exc:
            msg = str(exc)
            outcomes["refused"] += 1
            # the deck's parser names the top deck for values it checks after reading
            named = name in msg or (target == "inp" and "job.inp" in msg)
            assert "\n" not in msg and named, f"{what}: unclear message {msg!r}"
            left = [f for f in os.listdir(folder) if f.startswith("out")]
            assert not left, f"{what}: refused but left {left}"
        except _Timeout:
            raise AssertionError(f"{what}: no answer within {SECONDS_PER_CASE} s") from None
        else:
            outcomes["equal"] += 1
            diff = _same(_snapshot(str(out)), ref)
            assert not diff, f"{what}: imported, but {diff}"
        finally:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, old)

    mutation_is_refused_or_harmless()
    assert outcomes["refused"] > 0
