"""Issue 21: a case file is data. The expression evaluator refuses code, never hangs, keeps the old values."""
import os
import pickle
import time

import numpy as np
import pytest

from dromo.errors import DromoError, InputError
from dromo.expressions import MAX_CHARS, Expression
from dromo.hf.loads import Temperature

from .._mpi import dromo_cmd, run_mpi, serial_only
from .test_hf_cli import CASE, _write_case

ESCAPE = ("293.0 + 0.0*x if [1 for c in [x] for k in c.__class__.__mro__[-1].__subclasses__() if "
          "k.__name__ == '_wrap_close' for _ in [k.__init__.__globals__['system']('touch {path}')]] else "
          "293.0 + 0.0*x")
HANG = "293.0 + 0.0*x + 0*(9**9**9)"

# expression -> a fragment of the message naming the construct
ESCAPES = {
    "x.__class__": "attribute access",
    "(0).__class__.__mro__[-1].__subclasses__()": "attribute access",
    "x.real": "attribute access",
    "__import__('os').system('true')": "attribute access",
    "__import__('os')": "call of '__import__'",
    "eval('1')": "call of 'eval'",
    "getattr(x, 'real')": "call of 'getattr'",
    "__builtins__": "unknown name '__builtins__'",
    "(lambda: 1)()": "call of something other than a function name",
    "lambda: 1": "lambda",
    "[k for k in [x]]": "list comprehension",
    "sum(k for k in [x])": "call of 'sum'",
    "(k for k in [x])": "generator expression",
    "{k: 1 for k in [x]}": "dict comprehension",
    "{k for k in [x]}": "set comprehension",
    "f'{x}'": "f-string",
    "(y := 3) + x": "assignment expression",
    "exp(*[x])": "starred argument",
    "exp(x=1)": "keyword argument",
    "'293'": "str literal",
    "b'293'": "bytes literal",
    "x[0]": "subscript",
    "[x, y]": "list",
    "(x, y)": "tuple",
    "{}": "dict",
    "~x": "bit operator ~",
    "x | y": "bit operator |",
    "x @ y": "operator @",
    "x is y": "operator 'is'",
    "x in y": "operator 'in'",
    "1j * x": "complex literal",
    "None": "NoneType literal",
    "exp": "used without a call",
    "exp(x, y)": "takes 1 argument",
    "9**9**9 * x": "not finite",
    "10**400 + x": "not finite",
    "1e400 + x": "not finite",
    "x + " * 300 + "x": "levels deep",
    "-" * 3000 + "x": "too deeply nested",
    "x*" * (MAX_CHARS // 2) + "x": "characters",
    "import os": "syntax error",
    "x; y": "syntax error",
}


def _old_eval(text, x, t, a):
    """The evaluation of dromo <= 0.1 (trusted inputs only): the reference for 'same values as before'."""
    ns = {k: getattr(np, k) for k in ("exp", "sin", "cos", "tan", "sqrt", "abs", "tanh", "log", "minimum",
                                      "maximum", "where", "arctan2", "cosh", "sinh")}
    ns.update(pi=np.pi, x=x[:, 0], y=x[:, 1], z=x[:, 2], t=float(t), a=float(a))
    out = eval(text, {"__builtins__": {}}, ns)          # noqa: S307 - test reference on literal strings
    return np.broadcast_to(np.asarray(out, dtype=float), (len(x),))


def _valid_expressions():
    from dromo.hf.case_file import __doc__ as case_doc
    from dromo.hf.cases import blade
    import tomllib
    doc_expr = [ln.split("=", 1)[1].split("#")[0].strip().strip('"') for ln in case_doc.splitlines()
                if ln.strip().startswith("expression =")]
    cli_expr = tomllib.loads(CASE)["temperature"]["expression"]
    return [blade.temperature_expression(), cli_expr] + doc_expr + [
        "293", "293 + 40 * sin(pi * t / 2) * cos(y) - 3 * tan(0.1 * z)",
        "300 + sqrt(abs(x)) + log(1 + x**2) + tanh(y) + cosh(0.1 * z) - sinh(0.01 * x)",
        "293 + where(x > 1, 100, 0) + minimum(x, y) * maximum(y, z) + arctan2(y, x)",
        "293 + (50 if t > 0.5 else 10) * a", "293 + 7 % 3 + 7 // 2 + x / 4 - -y + +z",
        "293 + 2**-1 * x**2 + 2**3**2", "293 + (1 < 2 <= 3) * x + (t >= 1 and a != 0) * 5",
        "293 + (not t) * 3 + (x > 0) * (y < 1) * 20",
    ]


def test_valid_expressions_give_the_same_values_as_before():
    rng = np.random.default_rng(3)
    x = rng.uniform(-60.0, 120.0, (257, 3))
    exprs = _valid_expressions()
    assert len(exprs) >= 12 and "maximum(z, 0.0)" in exprs[0]
    for text in exprs:
        T = Temperature(expression=text)
        for t, a in ((0.0, 0.0), (0.3, 0.7), (2.5, 1.0)):
            ref = _old_eval(text, x, t, a)
            # to round-off: numpy's vectorized sin/cos may differ in the last bit with buffer alignment
            np.testing.assert_allclose(T.evaluate(x, t, a), ref, rtol=1e-14, atol=0, err_msg=text)


def test_the_issue_reproducers_are_refused_without_running(tmp_path):
    target = tmp_path / "FILE"
    with pytest.raises(InputError, match="case.toml \\[temperature\\] expression: list comprehension"):
        Temperature(expression=ESCAPE.format(path=target), source="case.toml")
    assert not target.exists()
    t0 = time.perf_counter()
    with pytest.raises(InputError, match="'9\\*\\*9\\*\\*9' is not finite \\(inf\\)"):
        Temperature(expression=HANG, source="case.toml")
    assert time.perf_counter() - t0 < 1.0
    # the power alone, with a variable, is inf at once: the non-finite check of evaluate reports it
    T = Temperature(expression="293.0 + 0.0*x*(9.0**x)")
    with pytest.raises(InputError, match="temperature: non-finite values at t = 0"):
        T.evaluate(np.full((4, 3), 1e9), 0.0, 1.0)
    assert time.perf_counter() - t0 < 1.0


@pytest.mark.parametrize("text", list(ESCAPES))
def test_known_escapes_are_refused_with_the_construct(text):
    t0 = time.perf_counter()
    with pytest.raises(InputError) as e:
        Temperature(expression=text, source="/some/case.toml")
    msg = str(e.value)
    assert msg.startswith("/some/case.toml [temperature]"), msg
    assert ESCAPES[text] in msg, msg
    assert time.perf_counter() - t0 < 1.0


def test_expression_api_and_pickling():
    e = Expression("u * 2 + where(v > 0, v, 0)", variables=("u", "v"), where="[load] value")
    assert np.array_equal(e(u=np.arange(3.0), v=np.array([-1.0, 2.0, 3.0])), [0.0, 4.0, 7.0])
    assert float(e(u=1, v=1)) == 3.0
    with pytest.raises(InputError, match="no value given for \\['v'\\]"):
        e(u=1.0)
    with pytest.raises(InputError, match="\\[load\\] value: unknown name 'x'"):
        Expression("x", variables=("u",), where="[load] value")
    e2 = pickle.loads(pickle.dumps(e))
    assert e2 == e and float(e2(u=1, v=1)) == 3.0
    T = pickle.loads(pickle.dumps(Temperature(expression="293 + x", source="c.toml")))
    assert np.array_equal(T.evaluate(np.ones((2, 3)), 0.0, 1.0), [294.0, 294.0])
    # a pickle is data too: a forged one is checked again when loaded
    class Forged:
        def __reduce__(self):
            return (Expression, ("u.__class__", ("u",), "archive"))
    with pytest.raises(InputError, match="archive: attribute access"):
        pickle.loads(pickle.dumps(Forged()))
    with pytest.raises(InputError, match="expected a string"):
        Temperature(expression=293)


def test_case_file_names_the_key_and_the_file(tmp_path):
    from dromo.hf.case_file import read_case
    case = _write_case(str(tmp_path), CASE.replace('"293.0 + 10 * t * x"', '"293 + x.real"'))
    with pytest.raises(InputError, match=f"{case} \\[temperature\\] expression: attribute access"):
        read_case(case)
    case = _write_case(str(tmp_path), CASE.replace('"293.0 + 10 * t * x"', "\"293 + exp(x=1)\""))
    with pytest.raises(InputError, match=f"{case} \\[temperature\\] expression: keyword argument"):
        read_case(case)
    spec = read_case(_write_case(str(tmp_path)))
    assert spec["temperature"].source == case


@pytest.mark.mpi
def test_non_finite_values_at_some_points_fail_on_every_rank(comm):
    from dromo.hf import Displacement, Problem, TimeStepping
    from dromo.mesh.generate import box_mesh
    mesh = box_mesh(4, 2, 2, lengths=(4.0, 1.0, 1.0), element="hex8")
    # sqrt(4 - t x) is finite everywhere (0 <= x <= 4) up to t = 1, not for x > 2 at t = 2
    pb = Problem(mesh, {"all": {"type": "elastic", "E": 200e3, "nu": 0.3}},
                 [Displacement("xmin", {"x": 0, "y": 0, "z": 0})],
                 temperature=Temperature(expression="293 + sqrt(4 - t * x)"),
                 time=TimeStepping(end=1.0, dt=0.5), comm=comm)
    assert np.isfinite(pb.temperature_at(1.0)).all()
    with pytest.raises(DromoError, match="non-finite values at t = 2"):
        pb.temperature_at(2.0)


@serial_only
@pytest.mark.parametrize("which", ["escape", "hang"])
def test_solve_refuses_the_reproducers_on_every_rank(tmp_path, which):
    target = tmp_path / "FILE"
    expr = ESCAPE.format(path=target) if which == "escape" else HANG
    case = _write_case(str(tmp_path), CASE.replace('"293.0 + 10 * t * x"', repr(expr)))
    out = str(tmp_path / "r.h5")
    t0 = time.perf_counter()
    p = run_mpi(2, dromo_cmd() + ["solve", case, "-o", out], timeout=120)
    assert p.returncode != 0
    assert f"{case} [temperature] expression" in p.stderr, p.stderr[-2000:]
    assert ("list comprehension" if which == "escape" else "not finite") in p.stderr
    assert time.perf_counter() - t0 < 60.0
    assert not target.exists() and not os.path.exists(out)


def test_expression_names_and_temperature_uses_time():
    assert Expression("293 + a * x * pi", ("x", "y", "z", "t", "a")).names == {"a", "x"}
    assert Expression("where(t > 1, 1, 2)", ("x", "t")).names == {"t"}
    assert not Temperature(value=300.0).uses_time
    assert not Temperature(expression="293 + 100 * a * exp(-x**2)").uses_time
    assert Temperature(expression="293 + 10 * t * x").uses_time
    assert Temperature(function=lambda x, t: 0 * x[:, 0] + 300).uses_time
    assert Temperature(file="T.h5").uses_time


def _amp(t):
    """A periodic amplitude (period 2, values repeating bit for bit on a grid of dt = 0.25)."""
    return float(np.interp(t % 2.0, [0.0, 1.0, 2.0], [0.0, 1.0, 0.0]))


def test_point_temperature_memo_equals_fresh_values_and_never_caches_time():
    """Memoized values (expression without t, with an offset) equal fresh evaluations bit for bit, are fresh
    arrays, kept per amplitude value (bounded); an expression in t, a function and a series are not memoized,
    and signed zeros of the amplitude are told apart."""
    from dromo.hf.points import PointTemperature
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, (7, 3))
    off = rng.uniform(0, 5, 7)
    spec = Temperature(expression="293 + 400 * a * exp(-(x**2 + y**2)) + 3 * z")
    pt = PointTemperature(7, spec=spec, coordinates=x, amplitude=_amp, offset=off)
    times = np.arange(0, 8.0, 0.25)
    for t in times:
        v = pt(t)
        fresh = spec.evaluate(x, t, _amp(t)) + _amp(t) * off
        assert np.array_equal(v, fresh)
        v += 1.0                                                # the caller's array: the memo is unchanged
    assert len(pt._memo) == len({_amp(t) for t in times}) == 5
    assert np.array_equal(pt(0.25), spec.evaluate(x, 0.25, 0.25) + 0.25 * off)
    small = PointTemperature(7, spec=spec, coordinates=x, amplitude=lambda t: t)
    small.MEMO = 3
    for t in times:
        assert np.array_equal(small(t), spec.evaluate(x, t, t))
    assert len(small._memo) == 3
    # the time in the expression: never memoized, every call a fresh evaluation at its own t
    spec_t = Temperature(expression="293 + a * 10 * t * x")
    pt_t = PointTemperature(7, spec=spec_t, coordinates=x, amplitude=_amp)
    assert pt_t._memo is None
    assert not np.array_equal(pt_t(0.5), pt_t(2.5))               # same a, other t
    assert np.array_equal(pt_t(2.5), spec_t.evaluate(x, 2.5, _amp(2.5)))
    fun = PointTemperature(7, spec=Temperature(function=lambda x, t: 300 + t * x[:, 0]), coordinates=x,
                           amplitude=_amp)
    assert fun._memo is None and not np.array_equal(fun(0.5), fun(2.5))
    # a = 0.0 and a = -0.0 give different values here: both right
    sz = Temperature(expression="arctan2(a, -1)")
    pz = PointTemperature(2, spec=sz, coordinates=np.zeros((2, 3)), amplitude=lambda t: t)
    assert np.all(pz(0.0) > 0) and np.all(pz(-0.0) < 0) and np.all(pz(0.0) > 0)
