"""Safe arithmetic expressions: the one evaluator for every expression a case file (or an archive) gives.

A case file is data: reading and evaluating it must never run code. An :class:`Expression` is parsed
with :mod:`ast` and checked against a whitelist of *syntax* (not of names) before anything is
evaluated; evaluation walks the checked tree with numpy, vectorized over the points. Nothing is ever
passed to ``eval``/``exec`` or compiled.

Accepted:

* numbers (int and float literals, evaluated as float64), the declared variables (e.g. ``x, y, z, t,
  a``) and the constant ``pi``;
* ``+ - * / // % **`` and unary ``+ -``; comparisons ``< <= > >= == !=`` (chains allowed) giving 1.0 or
  0.0; ``and or not``, element-wise, giving 1.0 or 0.0; conditional expressions ``A if C else B``
  (element-wise, both branches evaluated, like ``where(C, A, B)``);
* calls, with positional arguments only, of :data:`FUNCTIONS` (numpy's ufuncs of the same names).

Everything else — attributes, subscripts, comprehensions and generators, lambdas, strings, bytes,
f-strings, containers, keyword or starred arguments, ``:=``, bit operators, unknown names — is an
:class:`~dromo.errors.InputError` naming the key (``where``), the construct and its column.

Every value is a float64 (or an array of them): ``9**9**9`` is ``inf`` at once instead of an integer
that never finishes; floating-point warnings are silenced and non-finite results are left to the caller
(a constant sub-expression that is not finite is refused when the expression is parsed). Size bounds:
:data:`MAX_CHARS` characters, :data:`MAX_NODES` syntax nodes, :data:`MAX_DEPTH` levels of nesting, so
one evaluation costs at most a few hundred vectorized numpy operations.

An :class:`Expression` pickles as its text and re-checks it when unpickled (so one read from an MPI
broadcast or an archive is checked again).
"""
import ast
import operator

import numpy as np

from .errors import InputError

#: functions an expression may call: name -> (numpy function, number of positional arguments)
FUNCTIONS = {
    "exp": (np.exp, 1), "log": (np.log, 1), "sqrt": (np.sqrt, 1), "abs": (np.abs, 1),
    "sin": (np.sin, 1), "cos": (np.cos, 1), "tan": (np.tan, 1),
    "sinh": (np.sinh, 1), "cosh": (np.cosh, 1), "tanh": (np.tanh, 1),
    "arctan2": (np.arctan2, 2), "minimum": (np.minimum, 2), "maximum": (np.maximum, 2),
    "where": (None, 3),
}
#: named constants
CONSTANTS = {"pi": float(np.pi)}
MAX_CHARS = 4000
MAX_NODES = 1000
MAX_DEPTH = 200

# the Python operators on float64 scalars/arrays (ndarray's ** has the fast paths x**2 -> square, as before)
_BINOPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
           ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow}
_CMPOPS = {ast.Lt: np.less, ast.LtE: np.less_equal, ast.Gt: np.greater, ast.GtE: np.greater_equal,
           ast.Eq: np.equal, ast.NotEq: np.not_equal}
_NAMES = {
    ast.Attribute: "attribute access (.name)", ast.Subscript: "subscript ([...])",
    ast.ListComp: "list comprehension", ast.SetComp: "set comprehension",
    ast.DictComp: "dict comprehension", ast.GeneratorExp: "generator expression",
    ast.Lambda: "lambda", ast.JoinedStr: "f-string", ast.FormattedValue: "f-string",
    ast.NamedExpr: "assignment expression (:=)", ast.Starred: "starred argument (*)",
    ast.List: "list", ast.Tuple: "tuple", ast.Set: "set", ast.Dict: "dict", ast.Slice: "slice",
    ast.Await: "await", ast.Yield: "yield", ast.YieldFrom: "yield",
    ast.BitAnd: "bit operator &", ast.BitOr: "bit operator |", ast.BitXor: "bit operator ^",
    ast.LShift: "bit operator <<", ast.RShift: "bit operator >>", ast.MatMult: "operator @",
    ast.Invert: "bit operator ~", ast.Is: "operator 'is'", ast.IsNot: "operator 'is not'",
    ast.In: "operator 'in'", ast.NotIn: "operator 'not in'",
}


def _construct(node):
    if isinstance(node, ast.Constant):
        return f"{type(node.value).__name__} literal {node.value!r}"[:80]
    return _NAMES.get(type(node), f"syntax {type(node).__name__}")


class Expression:
    """A checked expression in ``variables``, evaluated with numpy.

    Parameters
    ----------
    text : str — the expression, e.g. ``"293 + a * 400 * exp(-((x - 5) / 3)**2)"``
    variables : sequence of str — the names it may use (values given to :meth:`evaluate`)
    where : str — what it is, for error messages, e.g. ``"case.toml [temperature] expression"``

    Raises :class:`~dromo.errors.InputError` for anything but the accepted syntax (module docstring).
    """

    def __init__(self, text, variables=("x", "y", "z", "t", "a"), where="expression"):
        self.text = text
        self.variables = tuple(variables)
        self.where = str(where)
        self._tree = self._parse()
        #: the declared variables the expression uses (e.g. no ``t``: its value does not depend on the time)
        self.names = frozenset(n.id for n in ast.walk(self._tree) if isinstance(n, ast.Name)
                               and n.id in self.variables)

    # ------------------------------------------------------------------ checking
    def _error(self, what, node=None):
        col = "" if node is None or not hasattr(node, "col_offset") else f" at column {node.col_offset + 1}"
        shown = self.text if len(self.text) <= 200 else self.text[:200] + "..."
        return InputError(f"{self.where}: {what}{col} in {shown!r}")

    def _parse(self):
        if not isinstance(self.text, str):
            raise InputError(f"{self.where}: expected a string expression, got {type(self.text).__name__}")
        if len(self.text) > MAX_CHARS:
            raise InputError(f"{self.where}: expression of {len(self.text)} characters (at most {MAX_CHARS})")
        try:
            tree = ast.parse(self.text.strip(), mode="eval").body
        except SyntaxError as e:
            raise self._error(f"syntax error ({e.msg})") from None
        except (RecursionError, MemoryError, ValueError):
            raise self._error("expression too deeply nested or too large") from None
        n = 0
        stack = [(tree, 1)]
        while stack:                      # iterative: size and depth are bounded before any recursion
            node, depth = stack.pop()
            n += 1
            if n > MAX_NODES:
                raise self._error(f"expression of more than {MAX_NODES} syntax nodes")
            if depth > MAX_DEPTH:
                raise self._error(f"expression nested more than {MAX_DEPTH} levels deep")
            stack.extend((c, depth + 1) for c in ast.iter_child_nodes(node))
        self._check(tree)
        self._constants = {}
        with np.errstate(all="ignore"):
            self._fold(tree)
        return tree

    def _check(self, node):
        if isinstance(node, ast.Constant):
            if type(node.value) not in (int, float):
                raise self._error(_construct(node) + " is not allowed (numbers only)", node)
        elif isinstance(node, ast.Name):
            if node.id in FUNCTIONS:
                raise self._error(f"function {node.id!r} used without a call", node)
            if node.id not in self.variables and node.id not in CONSTANTS:
                raise self._error(f"unknown name {node.id!r} (allowed: "
                                  f"{', '.join(self.variables + tuple(CONSTANTS))}; functions: "
                                  f"{', '.join(sorted(FUNCTIONS))})", node)
        elif isinstance(node, ast.BinOp):
            if type(node.op) not in _BINOPS:
                raise self._error(_construct(node.op) + " is not allowed", node)
            self._check(node.left)
            self._check(node.right)
        elif isinstance(node, ast.UnaryOp):
            if not isinstance(node.op, (ast.UAdd, ast.USub, ast.Not)):
                raise self._error(_construct(node.op) + " is not allowed", node)
            self._check(node.operand)
        elif isinstance(node, ast.Compare):
            for op in node.ops:
                if type(op) not in _CMPOPS:
                    raise self._error(_construct(op) + " is not allowed", node)
            for c in [node.left] + node.comparators:
                self._check(c)
        elif isinstance(node, ast.BoolOp):
            for v in node.values:
                self._check(v)
        elif isinstance(node, ast.IfExp):
            for c in (node.test, node.body, node.orelse):
                self._check(c)
        elif isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name):
                raise self._error("call of something other than a function name "
                                  f"({_construct(node.func)})", node)
            name = node.func.id
            if name not in FUNCTIONS:
                raise self._error(f"call of {name!r}, not an allowed function "
                                  f"({', '.join(sorted(FUNCTIONS))})", node)
            if node.keywords:
                raise self._error(f"keyword argument in the call of {name!r} (positional arguments only)",
                                  node.keywords[0].value)
            for arg in node.args:
                if isinstance(arg, ast.Starred):
                    raise self._error(_construct(arg) + " is not allowed", arg)
            if len(node.args) != FUNCTIONS[name][1]:
                raise self._error(f"{name} takes {FUNCTIONS[name][1]} argument(s), got {len(node.args)}",
                                  node)
            for arg in node.args:
                self._check(arg)
        else:
            raise self._error(_construct(node) + " is not allowed", node)

    def _fold(self, node):
        """Evaluate the constant sub-expressions once (kept by node id); refuse non-finite ones.

        Returns True when ``node`` does not depend on a variable.
        """
        if isinstance(node, ast.Name):
            const = node.id in CONSTANTS
        elif isinstance(node, ast.Constant):
            const = True
            if not np.isfinite(self._eval(node, {})):
                raise self._error(f"number {node.value!r} is not finite as a float", node)
        else:
            children = [c for c in ast.iter_child_nodes(node) if isinstance(c, ast.expr)
                        and not (isinstance(node, ast.Call) and c is node.func)]
            flags = [self._fold(c) for c in children]
            const = all(flags)
        if const and not isinstance(node, ast.Constant):
            value = self._eval(node, {})
            if not np.all(np.isfinite(value)):
                seg = ast.get_source_segment(self.text.strip(), node) or ast.unparse(node)
                raise self._error(f"constant sub-expression {seg!r} is not finite ({float(value):g})", node)
            self._constants[id(node)] = value
        return const

    # ------------------------------------------------------------------ evaluating
    def evaluate(self, **values):
        """Value of the expression for the given variables (numbers or numpy arrays that broadcast).

        Returns a float64 scalar or array. Missing variables are an :class:`InputError`.
        """
        missing = [v for v in self.variables if v not in values]
        if missing:
            raise InputError(f"{self.where}: no value given for {missing}")
        env = {k: np.asarray(values[k], dtype=np.float64) for k in self.variables}
        with np.errstate(all="ignore"):
            return np.asarray(self._eval(self._tree, env), dtype=np.float64)

    __call__ = evaluate

    def _eval(self, node, env):
        c = self._constants.get(id(node)) if env else None
        if c is not None:
            return c
        if isinstance(node, ast.Constant):
            try:
                return np.float64(node.value)
            except OverflowError:                       # an int literal beyond float range
                return np.float64(np.inf)
        if isinstance(node, ast.Name):
            return env[node.id] if node.id in env else np.float64(CONSTANTS[node.id])
        if isinstance(node, ast.BinOp):
            return _BINOPS[type(node.op)](self._eval(node.left, env), self._eval(node.right, env))
        if isinstance(node, ast.UnaryOp):
            v = self._eval(node.operand, env)
            if isinstance(node.op, ast.USub):
                return np.negative(v)
            if isinstance(node.op, ast.Not):
                return np.logical_not(v).astype(np.float64)
            return v
        if isinstance(node, ast.Compare):
            left = self._eval(node.left, env)
            out = None
            for op, comp in zip(node.ops, node.comparators):
                right = self._eval(comp, env)
                r = _CMPOPS[type(op)](left, right)
                out = r if out is None else np.logical_and(out, r)
                left = right
            return np.asarray(out, dtype=np.float64)
        if isinstance(node, ast.BoolOp):
            f = np.logical_and if isinstance(node.op, ast.And) else np.logical_or
            out = self._eval(node.values[0], env)
            for v in node.values[1:]:
                out = f(out, self._eval(v, env))
            return np.asarray(out, dtype=np.float64)
        if isinstance(node, ast.IfExp):
            return np.where(self._eval(node.test, env) != 0, self._eval(node.body, env),
                            self._eval(node.orelse, env))
        if isinstance(node, ast.Call):
            args = [self._eval(a, env) for a in node.args]
            if node.func.id == "where":
                return np.where(args[0] != 0, args[1], args[2])
            return FUNCTIONS[node.func.id][0](*args)
        raise self._error(_construct(node) + " is not allowed", node)   # unreachable after _check

    # ------------------------------------------------------------------ pickling and display
    def __reduce__(self):
        return (Expression, (self.text, self.variables, self.where))

    def __repr__(self):
        return f"Expression({self.text!r}, variables={self.variables!r})"

    def __eq__(self, other):
        return isinstance(other, Expression) and (self.text, self.variables) == (other.text, other.variables)

    def __hash__(self):
        return hash((self.text, self.variables))
