"""Every key a case file accepts is documented in one place (docs/case-file.md, generated from the schema),
unknown keys are errors naming the key, and ``aniso_plas`` takes its constants by name."""
import dataclasses
import os

import numpy as np
import pytest

from dromo.errors import InputError
from dromo.hf import case_file
from dromo.hf.problem import TimeStepping
from dromo.materials import make_law
from dromo.materials.aniso_plas import NAMES

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONST = [200000., 80000., 200000., 80000., 80000., 200000., 60000., 60000., 60000., 100., 1000., 10000.,
         1e-6, 3., 0.]


def test_docs_page_is_the_generated_reference():
    with open(os.path.join(ROOT, "docs", "case-file.md")) as f:
        assert f.read() == case_file.reference(), "regenerate: python -m dromo.hf.case_file > docs/case-file.md"


def test_every_time_key_is_documented():
    fields = {f.name for f in dataclasses.fields(TimeStepping)}
    assert set(case_file.TIME) == fields
    text = case_file.reference()
    assert "- `fixed`: true: fixed increments" in text
    for law in ("elastic", "von_mises", "aniso_plas", "umat"):
        assert f"### type = {law}" in text
    for k in NAMES:
        assert f"- `{k}`:" in text


def _case(tmp_path, extra_top="", material='type = "elastic"\nE = 2e5\nnu = 0.3', time="end = 1.0"):
    p = tmp_path / "case.toml"
    p.write_text(f'{extra_top}\n[mesh]\nfile = "m.inp"\n[materials.steel]\n{material}\n[sections]\nall = "steel"\n'
                 f'[time]\n{time}\n')
    return str(p)


@pytest.mark.parametrize("kw", [
    dict(extra_top="nmae = 'x'"),
    dict(time="end = 1.0\nfixd = true"),
    dict(extra_top='[[displacement]]\nset = "xmin"\nx = 0.0\nvalu = 1.0'),
    dict(extra_top='[output]\ncheckpoint_evry = 3'),
])
def test_unknown_case_keys_are_errors_naming_the_key(tmp_path, kw):
    bad = [w for w in ("nmae", "fixd", "valu", "checkpoint_evry") if w in str(kw)][0]
    with pytest.raises(InputError, match=bad):
        case_file.read_case(_case(tmp_path, **kw))
    assert case_file.read_case(_case(tmp_path, time="end = 1.0\nfixed = true"))["time"].fixed


@pytest.mark.parametrize("law,bad", [
    ({"type": "elastic", "E": 2e5, "nu": 0.3, "youngs": 1.0}, "youngs"),
    ({"type": "von_mises", "E": 2e5, "nu": 0.3, "R0": 100.0, "kinematic": [{"C": 1e4, "DD": 1.0}]}, "DD"),
    ({"type": "von_mises", "E": 2e5, "nu": 0.3, "R0": 100.0, "flow": {"type": "norton", "K": 10, "n": 3,
                                                                      "N": 2}}, "'N'"),
    ({"type": "aniso_plas", "constants": CONST, "R0": 1.0}, "R0"),
    ({"type": "umat", "library": "x.so", "nstatv": 1, "prop": [1.0]}, "prop"),
])
def test_unknown_material_parameters_are_errors_naming_them(law, bad):
    with pytest.raises(InputError, match=bad):
        make_law(law)


def test_aniso_plas_named_constants_equal_the_list():
    by_list = make_law({"type": "aniso_plas", "constants": CONST})
    by_name = make_law(dict({"type": "aniso_plas"}, **dict(zip(NAMES, CONST))))
    eps = np.array([[0.004, -0.001, -0.001, 0.002, 0.0, 0.001]])
    a = by_list.update(np.zeros((1, 6)), eps, by_list.initial_state(1), np.zeros(1), np.zeros(1), 1.0, 1.0)
    b = by_name.update(np.zeros((1, 6)), eps, by_name.initial_state(1), np.zeros(1), np.zeros(1), 1.0, 1.0)
    assert np.array_equal(a.stress, b.stress) and np.array_equal(a.state, b.state) and a.state[0, 0] > 0
    # a temperature table per constant, by name
    tab = dict(zip(NAMES, CONST), r0={"T": [0.0, 100.0], "values": [100.0, 50.0]})
    assert not make_law(dict({"type": "aniso_plas"}, **tab)).p["r0"].constant
    with pytest.raises(InputError, match=r"missing constant\(s\) \['m'\]"):
        make_law(dict({"type": "aniso_plas"}, **dict(zip(NAMES[:14], CONST))))
    with pytest.raises(InputError, match="either by name or as 'constants'"):
        make_law({"type": "aniso_plas", "constants": CONST, "r0": 1.0})
