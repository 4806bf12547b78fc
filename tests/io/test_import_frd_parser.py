"""The .frd parser on hand-written files (no ccx needed): exact number decoding, slow path, errors."""
import numpy as np
import pytest

from dromo.errors import InputError
from dromo.io.adapters.calculix import FrdFile, _decode_e12


def test_decode_e12_is_exact():
    rng = np.random.default_rng(3)
    v = (rng.standard_normal(20000) * 10.0 ** rng.integers(-40, 38, 20000)).astype(np.float32)
    v[::7], v[::11], v[::13], v[::17], v[::19] = 0.0, -0.0, np.nan, np.inf, -np.inf
    text = "".join("%12.5E" % x for x in v).encode()
    d = np.frombuffer(text, dtype=np.uint8).reshape(-1, 12)
    got = _decode_e12(d)
    ref = np.array([float(s) for s in d.view("S12").ravel()])
    same = (got.view(np.int64) == ref.view(np.int64)) | (np.isnan(got) & np.isnan(ref))
    assert same.all()
    bad = d.copy()
    bad[3, 4] = ord("x")
    with pytest.raises(ValueError):
        _decode_e12(bad)


HEAD = ("    1C\n"
        "    2C                             3                                     1\n"
        " -1         1 0.00000E+00 0.00000E+00 0.00000E+00\n"
        " -1         2 1.00000E+00 0.00000E+00 0.00000E+00\n"
        " -1         7 0.00000E+00 1.00000E+00 0.00000E+00\n"
        " -3\n"
        "    3C                             1                                     1\n"
        " -1         1    7    0    1\n"
        " -2         1         2         7\n"
        " -3\n")


def _block(time, rows, inc=1):
    s = (f"    1PSTEP                         {inc}           {inc}           1\n"
         f"  100CL  101{time:12.5E}           {len(rows)}                     0    {inc}           1\n"
         " -4  DISP        4    1\n -5  D1          1    2    1    0\n -5  D2          1    2    2    0\n"
         " -5  D3          1    2    3    0\n -5  ALL         1    2    0    0    1ALL\n")
    return s + "".join(rows) + " -3\n"


def _rec(i, v):
    return f" -1{i:10d}" + "".join(f"{x:12.5E}" for x in v) + "\n"


def test_fast_and_slow_paths(tmp_path):
    rows = [_rec(7, [1.5, -2e-30, 3.0]), _rec(1, [4.0, 5.0, 6.0]), _rec(2, [-1.0, 0.0, 1e5])]
    slow = rows[:1] + [rows[1].rstrip("\n") + "   \n"] + rows[2:]        # trailing blanks: not fixed-width
    p = tmp_path / "r.frd"
    p.write_text(HEAD + _block(0.5, rows) + _block(1.0, slow, 2) + " 9999\n")
    f = FrdFile(str(p))
    assert f.node_ids.tolist() == [1, 2, 7]
    assert [b.uniform for b in f.blocks] == [True, False]
    assert [b.time for b in f.blocks] == [0.5, 1.0] and len(f.increments) == 2
    for b in f.blocks:
        (ids, vals), = list(f.read_block(b))
        assert ids.tolist() == [7, 1, 2]
        assert np.array_equal(vals, [[1.5, -2e-30, 3.0], [4.0, 5.0, 6.0], [-1.0, 0.0, 1e5]])


def test_errors_name_file_and_line(tmp_path):
    rows = [_rec(7, [1.5, 2.0, 3.0]), _rec(1, [4.0, 5.0, 6.0]), _rec(2, [1.0, 0.0, 1e5])]
    p = tmp_path / "e.frd"
    p.write_text(HEAD + _block(0.5, rows))                 # no 9999 end record
    with pytest.raises(InputError, match=r"e.frd:\d+: .*9999"):
        FrdFile(str(p))
    bad = rows[:1] + [rows[1][:20] + "?" + rows[1][21:]] + rows[2:]
    p.write_text(HEAD + _block(0.5, bad) + " 9999\n")
    f = FrdFile(str(p))
    with pytest.raises(InputError, match="e.frd:19: block DISP"):
        list(f.read_block(f.blocks[0]))
    p.write_text(HEAD + _block(0.5, rows[:2]).replace("           2   ", "           3   ", 1) + " 9999\n")
    with pytest.raises(InputError, match="e.frd:12: block DISP .* declares 3 records"):
        FrdFile(str(p))
