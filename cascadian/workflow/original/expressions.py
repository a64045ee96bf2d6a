"""The formulas and conditions of the original's transform and condition nodes.

The syntax is mathjs's, which the original's transform tests and its builder's
default formula (`abs(currentPrice - 0.5)`) were written in: arithmetic `+ - * / %
^` (`^` is power, `%` and `mod` are mathjs's modulo), comparisons `== != < > <= >=`
(chained as in mathjs: `0.2 < p < 0.4`), `and`/`or`/`xor`/`not`, `a ? b : c`, and
the functions in FUNCTIONS. Saved strategies also hold the JavaScript the original's
executor really ran, so its spellings are accepted too: `&& || !`, `=== !==`, `**`,
and `Math.abs(...)` / `Math.PI` for every function and constant here.

Names are the row's fields; `a.b` reads a nested field. Values follow the original's
JavaScript rules for comparison (text against text, otherwise as numbers) and
mathjs's for arithmetic (numbers; null counts as 0).

Parsed by lark (a grammar, never Python's eval); formulas are capped in length and
nesting, arithmetic is in floats (no huge integers), and nothing builds strings, so
an expression cannot take much time or memory. A string's escapes are JavaScript's
and are read when the expression is compiled, so one that cannot be read (`'\\x'`)
refuses the strategy before it runs. Whatever a row holds, evaluating on it either
gives a value or raises ExpressionError (a per-row error to the nodes): Infinity,
NaN and overflow give JavaScript's values where it has one.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from lark import Lark, Token, Tree, UnexpectedInput

from cascadian.workflow.original.jsvalues import less_than, loosely_equal, to_number, truthy

MAX_LENGTH = 2_000
MAX_DEPTH = 60

_GRAMMAR = r"""
?start: expr
?expr: or_test
     | or_test "?" expr ":" expr -> ternary
?or_test: xor_test
        | or_test "or" xor_test -> or_
        | or_test "||" xor_test -> or_
?xor_test: and_test
         | xor_test "xor" and_test -> xor
?and_test: comparison
         | and_test "and" comparison -> and_
         | and_test "&&" comparison -> and_
?comparison: sum
           | sum (COMPARE sum)+ -> compare
?sum: product
    | sum ADD product -> binop
?product: unary
        | product MUL unary -> binop
        | product "mod" unary -> mod
?unary: power
      | "-" unary -> neg
      | "+" unary -> pos
      | "not" unary -> not_
      | "!" unary -> not_
?power: atom
      | atom POW unary -> binop
?atom: NUMBER -> number
     | STRING -> string
     | NAME -> name
     | NAME "(" [expr ("," expr)*] ")" -> call
     | "(" expr ")"

COMPARE: "===" | "!==" | "==" | "!=" | "<=" | ">=" | "<" | ">"
ADD: "+" | "-"
MUL: "*" | "/" | "%"
POW: "**" | "^"
NAME: /[A-Za-z_$][A-Za-z0-9_$]*(\.[A-Za-z_$][A-Za-z0-9_$]*)*/
NUMBER: /(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?/
STRING: /"(\\.|[^"\\])*"/ | /'(\\.|[^'\\])*'/
%import common.WS
%ignore WS
"""

_PARSER = Lark(_GRAMMAR, parser="lalr", maybe_placeholders=True)


class ExpressionError(ValueError):
    """An expression that does not parse, or cannot be evaluated on a row."""


def _round(x: Any, digits: Any = 0) -> float:
    value, n = to_number(x), to_number(digits)
    if not (math.isfinite(n) and n == int(n) and 0 <= n <= 15):
        raise ExpressionError("round() takes a whole number of decimals from 0 to 15")
    scaled = abs(value) * 10.0 ** int(n)
    if not math.isfinite(scaled) or scaled >= 2**52:
        return value  # Infinity, NaN, or already whole at this scale
    return math.copysign(math.floor(scaled + 0.5) / 10.0 ** int(n), value)  # half away


def _ln(value: float) -> float:
    if math.isnan(value) or value < 0:
        return math.nan
    return -math.inf if value == 0 else math.log(value)  # log(Infinity) is Infinity


def _log(x: Any, base: Any = None) -> float:
    value = _ln(to_number(x))
    return value if base is None else divide(value, _ln(to_number(base)))


def divide(a: float, b: float) -> float:
    """JavaScript's a / b: by zero gives Infinity (signed) or NaN, never an error."""
    if b == 0:
        if a == 0 or math.isnan(a):
            return math.nan
        return math.copysign(math.inf, a) * math.copysign(1.0, b)
    try:
        return a / b
    except OverflowError:
        return math.copysign(math.inf, a) * math.copysign(1.0, b)


def _sqrt(x: Any) -> float:
    value = to_number(x)
    return math.sqrt(value) if value >= 0 else math.nan


def _numbers(args: tuple[Any, ...]) -> list[float]:
    flat: list[Any] = []
    for arg in args:
        flat.extend(arg if isinstance(arg, list) else [arg])
    return [to_number(a) for a in flat]


def _extreme(pick: Callable[[list[float]], float]) -> Callable[..., float]:
    def call(*args: Any) -> float:
        values = _numbers(args)
        if not values:
            raise ExpressionError("min and max need at least one value")
        return math.nan if any(math.isnan(v) for v in values) else pick(values)

    return call


def _mean(values: list[float]) -> float:
    return total(values) / len(values) if values else math.nan


def total(values: list[float]) -> float:
    """The exact sum (fsum), or JavaScript's for Infinity, NaN and overflow."""
    if all(math.isfinite(v) for v in values):
        try:
            return math.fsum(values)
        except OverflowError:
            pass
    return sum(values, 0.0)  # inf + -inf is NaN, overflow Infinity: no error


def _mod(x: Any, y: Any) -> float:
    a, b = to_number(x), to_number(y)
    if b == 0:
        return a  # mathjs: mod(x, 0) is x
    quotient = divide(a, b)
    if not math.isfinite(quotient):
        return math.nan  # Infinity % 2, or a NaN: mathjs's x - y * floor(x / y)
    return a - b * math.floor(quotient)


def _pow(x: Any, y: Any) -> float:
    try:
        result = math.pow(to_number(x), to_number(y))
    except OverflowError:
        return math.inf
    except ValueError:  # a negative base to a fractional power
        return math.nan
    return result


def _one(
    fn: Callable[[float], float], *, overflow: float = math.nan, whole: bool = False
) -> Callable[[Any], float]:
    """A function of one number; `whole` (floor and the like) keeps Infinity and NaN."""

    def call(x: Any) -> float:
        value = to_number(x)
        if whole and not math.isfinite(value):
            return value
        try:
            return fn(value)
        except OverflowError:
            return overflow
        except ValueError:
            return math.nan

    return call


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "abs": _one(abs),
    "round": _round,
    "floor": _one(math.floor, whole=True),
    "ceil": _one(math.ceil, whole=True),
    "fix": _one(math.trunc, whole=True),
    "trunc": _one(math.trunc, whole=True),
    "sign": _one(lambda v: v if v == 0 or math.isnan(v) else math.copysign(1.0, v)),
    "min": _extreme(min),
    "max": _extreme(max),
    "sum": lambda *args: total(_numbers(args)),
    "mean": lambda *args: _mean(_numbers(args)),
    "sqrt": _sqrt,
    "cbrt": _one(lambda v: math.copysign(abs(v) ** (1 / 3), v)),
    "exp": _one(math.exp, overflow=math.inf),
    "log": _log,
    "log10": lambda x: _log(x, 10),
    "log2": lambda x: _log(x, 2),
    "pow": _pow,
    "mod": _mod,
    "number": to_number,
    # JavaScript's spellings of number().
    "Number": to_number,
    "parseFloat": to_number,
}
CONSTANTS: dict[str, Any] = {
    "true": True,
    "false": False,
    "null": None,
    "undefined": None,
    "Infinity": math.inf,
    "NaN": math.nan,
    "pi": math.pi,
    "PI": math.pi,
    "e": math.e,
    "E": math.e,
}


_SIMPLE_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "0": "\0"}
_HEX = frozenset("0123456789abcdefABCDEF")


@lru_cache(maxsize=1024)
def string_value(body: str) -> str:
    """A string literal's text (between its quotes) with JavaScript's escapes read, in
    one pass; ExpressionError where strict JavaScript refuses it too (`\\x` without two
    hex digits, a bad `\\u`, an octal escape, a lone surrogate)."""
    parts: list[str] = []
    start = 0
    while (slash := body.find("\\", start)) != -1:
        parts.append(body[start:slash])
        code, start = body[slash + 1 : slash + 2], slash + 2
        if code in _SIMPLE_ESCAPES and not (code == "0" and body[start : start + 1].isdigit()):
            parts.append(_SIMPLE_ESCAPES[code])
        elif code == "x":
            parts.append(chr(_hex(body[start : start + 2], 2, "\\x needs two hex digits")))
            start += 2
        elif code == "u" and body[start : start + 1] == "{":
            end = body.find("}", start)
            digits = body[start + 1 : end] if end != -1 else ""
            point = _hex(digits, len(digits), "\\u{...} needs hex digits")
            if point > 0x10FFFF:
                raise ExpressionError(f"\\u{{{point:X}}} is past the last code point")
            parts.append(chr(point))
            start = end + 1
        elif code == "u":
            parts.append(chr(_hex(body[start : start + 4], 4, "\\u needs four hex digits")))
            start += 4
        elif code == "" or code.isdigit():
            raise ExpressionError(
                f"'\\{body[slash + 1 : slash + 3]}': octal escapes are not allowed"
            )
        elif code == "\r" and body[start : start + 1] == "\n":
            start += 1  # a line continuation adds nothing
        elif code not in "\r\n\u2028\u2029":
            parts.append(code)  # any other character stands for itself
    parts.append(body[start:])
    text = "".join(parts)
    try:  # \\uD83D\\uDE00 is one character, as in JavaScript
        return text.encode("utf-16", "surrogatepass").decode("utf-16")
    except UnicodeDecodeError:
        raise ExpressionError("a string holds half of a surrogate pair") from None


def _hex(digits: str, length: int, problem: str) -> int:
    if not digits or len(digits) != length or not all(c in _HEX for c in digits):
        raise ExpressionError(problem)
    return int(digits, 16)


@lru_cache(maxsize=512)
def compile_expression(text: str) -> Tree[Token]:
    """The parsed expression; ExpressionError naming the problem."""
    if not isinstance(text, str) or not text.strip():
        raise ExpressionError("the expression is empty")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"the expression is longer than {MAX_LENGTH} characters")
    try:
        tree = _PARSER.parse(text)
    except UnexpectedInput as exc:
        raise ExpressionError(
            f"cannot read {text!r} at column {exc.column}: {type(exc).__name__}"
        ) from None
    if _depth(tree) > MAX_DEPTH:
        raise ExpressionError(f"the expression is nested more than {MAX_DEPTH} deep")
    for token in tree.scan_values(lambda v: isinstance(v, Token) and v.type == "STRING"):
        string_value(str(token)[1:-1])  # refuses a string whose escapes cannot be read
    return tree


def _depth(tree: Tree[Token]) -> int:
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((c, depth + 1) for c in node.children if isinstance(c, Tree))
    return deepest


def evaluate(text: str, scope: Mapping[str, Any]) -> Any:
    """The expression's value on `scope` (a row); ExpressionError when it has none,
    whatever the row holds (so the nodes can fail that row alone)."""
    tree = compile_expression(text)
    try:
        return _Evaluator(scope).value(tree)
    except ExpressionError:
        raise
    except (ArithmeticError, ValueError, TypeError, RecursionError) as exc:
        raise ExpressionError(f"cannot evaluate on this row: {type(exc).__name__}: {exc}") from None


def holds(text: str, scope: Mapping[str, Any]) -> bool:
    """The expression as a condition: JavaScript truthiness of its value."""
    return truthy(evaluate(text, scope))


def _function_name(name: str) -> str:
    return name.removeprefix("Math.")


class _Evaluator:
    def __init__(self, scope: Mapping[str, Any]) -> None:
        self.scope = scope

    def value(self, node: Tree[Token] | Token | None) -> Any:
        if node is None:
            raise ExpressionError("a value is missing")
        if isinstance(node, Token):
            raise ExpressionError(f"unexpected {node!s}")
        handler = getattr(self, f"_{node.data}", None)
        if handler is None:
            raise ExpressionError(f"unsupported expression {node.data}")
        return handler(*node.children)

    def _number(self, token: Token) -> float:
        return float(token)

    def _string(self, token: Token) -> str:
        return string_value(str(token)[1:-1])

    def _name(self, token: Token) -> Any:
        name = str(token)
        if name in self.scope:
            return self.scope[name]
        head, *rest = name.split(".")
        if head in self.scope:
            value: Any = self.scope[head]
            for part in rest:
                if not isinstance(value, dict) or part not in value:
                    raise ExpressionError(f"{name!r} is not in the row")
                value = value[part]
            return value
        constant = name.removeprefix("Math.")
        if constant in CONSTANTS:
            return CONSTANTS[constant]
        raise ExpressionError(f"unknown name {name!r}")

    def _call(self, token: Token, *args: Tree[Token] | None) -> Any:
        name = _function_name(str(token))
        function = FUNCTIONS.get(name)
        if function is None:
            raise ExpressionError(f"unknown function {str(token)!r}")
        values = [self.value(a) for a in args if a is not None]
        try:
            return function(*values)
        except TypeError:
            raise ExpressionError(f"{name}() cannot take {len(values)} values") from None
        except ExpressionError:
            raise
        except (ArithmeticError, ValueError) as exc:
            raise ExpressionError(f"{name}() failed on this row: {exc}") from None

    def _ternary(self, test: Tree[Token], yes: Tree[Token], no: Tree[Token]) -> Any:
        return self.value(yes) if truthy(self.value(test)) else self.value(no)

    def _or_(self, left: Tree[Token], right: Tree[Token]) -> bool:
        return truthy(self.value(left)) or truthy(self.value(right))

    def _and_(self, left: Tree[Token], right: Tree[Token]) -> bool:
        return truthy(self.value(left)) and truthy(self.value(right))

    def _xor(self, left: Tree[Token], right: Tree[Token]) -> bool:
        return truthy(self.value(left)) != truthy(self.value(right))

    def _not_(self, operand: Tree[Token]) -> bool:
        return not truthy(self.value(operand))

    def _neg(self, operand: Tree[Token]) -> float:
        return -to_number(self.value(operand))

    def _pos(self, operand: Tree[Token]) -> float:
        return to_number(self.value(operand))

    def _mod(self, left: Tree[Token], right: Tree[Token]) -> float:
        return _mod(self.value(left), self.value(right))

    def _binop(self, left: Tree[Token], op: Token, right: Tree[Token]) -> float:
        a, b = to_number(self.value(left)), to_number(self.value(right))
        symbol = str(op)
        if symbol == "+":
            return a + b
        if symbol == "-":
            return a - b
        if symbol == "*":
            return a * b
        if symbol == "/":
            return divide(a, b)
        if symbol == "%":
            return _mod(a, b)
        return _pow(a, b)

    def _compare(self, *parts: Any) -> bool:
        values = [self.value(parts[0])]
        for op, operand in zip(parts[1::2], parts[2::2], strict=True):
            values.append(self.value(operand))
            if not _compare(values[-2], str(op), values[-1]):
                return False
        return True


def _compare(left: Any, op: str, right: Any) -> bool:
    if op in ("==", "==="):
        return loosely_equal(left, right)
    if op in ("!=", "!=="):
        return not loosely_equal(left, right)
    if op == "<":
        return less_than(left, right)
    if op == ">":
        return less_than(right, left)
    if op == "<=":
        return less_than(left, right) or _same(left, right)
    return less_than(right, left) or _same(left, right)


def _same(left: Any, right: Any) -> bool:
    if isinstance(left, str) and isinstance(right, str):
        return left == right
    a, b = to_number(left), to_number(right)
    return not (math.isnan(a) or math.isnan(b)) and a == b
