"""KPI formulas over metric aggregates: a small safe parser and evaluator (never ``eval``).

Grammar (whitespace between tokens is ignored)::

    formula   := sum_expr END
    sum_expr  := product (("+" | "-") product)*
    product   := unary (("*" | "/") unary)*
    unary     := "-" unary | primary
    primary   := NUMBER | "(" sum_expr ")" | FUNC "(" METRIC ")"
    FUNC      := sum | count | min | max | avg
    METRIC    := NAME | NAME "." NAME        (a source's event count, or one of its measures)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

FUNCTIONS = ("sum", "count", "min", "max", "avg")
MAX_FORMULA_LENGTH = 500
MAX_NESTING = 32
"""Bounds that keep parsing cheap and the recursion far from Python's limit."""

S = TypeVar("S")


class FormulaError(ValueError):
    """A formula that cannot be used, with the 0-based ``position`` of the ``problem``."""

    def __init__(self, position: int, problem: str) -> None:
        super().__init__(f"position {position}: {problem}")
        self.position = position
        self.problem = problem


@dataclass(frozen=True, slots=True)
class Aggregate:
    """One aggregate a formula reads, e.g. ``sum`` of ``orders.amount``."""

    func: str
    metric_key: str

    def __str__(self) -> str:
        return f"{self.func}({self.metric_key})"


# --- tokens ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # "number", "name", "op" (one of + - * / ( ) ,), "end"
    text: str
    position: int


_OPERATORS = frozenset("+-*/(),")


def _name_end(text: str, start: int) -> int:
    end = start
    while end < len(text) and (text[end].isascii() and (text[end].isalnum() or text[end] == "_")):
        end += 1
    return end


def _is_name_start(char: str) -> bool:
    return char.isascii() and (char.isalpha() or char == "_")


def _read_name(text: str, start: int) -> int:
    """End of ``name`` or ``name.name`` starting at ``start``."""
    end = _name_end(text, start)
    if end < len(text) and text[end] == ".":
        if end + 1 >= len(text) or not _is_name_start(text[end + 1]):
            raise FormulaError(end + 1, "expected a measure name after '.'")
        end = _name_end(text, end + 1)
    return end


def _read_number(text: str, start: int) -> int:
    end = start
    while end < len(text) and text[end].isdigit():
        end += 1
    if end < len(text) and text[end] == ".":
        end += 1
        while end < len(text) and text[end].isdigit():
            end += 1
    if end == start + 1 and text[start] == ".":
        raise FormulaError(start, "unexpected character '.'")
    if end < len(text) and text[end] in "eE":
        exponent = end + 1
        if exponent < len(text) and text[exponent] in "+-":
            exponent += 1
        digits = exponent
        while digits < len(text) and text[digits].isdigit():
            digits += 1
        if digits == exponent:
            raise FormulaError(exponent, "expected the digits of an exponent")
        end = digits
    return end


def _tokenize(text: str) -> Iterator[_Token]:
    """Tokens one at a time, so that the first problem from the left is the one reported."""
    pos = 0
    while pos < len(text):
        char = text[pos]
        if char.isspace():
            pos += 1
        elif char in _OPERATORS:
            yield _Token("op", char, pos)
            pos += 1
        elif char.isascii() and (char.isdigit() or char == "."):
            end = _read_number(text, pos)
            yield _Token("number", text[pos:end], pos)
            pos = end
        elif _is_name_start(char):
            end = _read_name(text, pos)
            yield _Token("name", text[pos:end], pos)
            pos = end
        else:
            raise FormulaError(pos, f"unexpected character {char!r}")
    yield _Token("end", "", len(text))


# --- syntax tree ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Const:
    value: float


@dataclass(frozen=True, slots=True)
class _Agg:
    aggregate: Aggregate


@dataclass(frozen=True, slots=True)
class _Neg:
    operand: _Node


@dataclass(frozen=True, slots=True)
class _BinOp:
    op: str
    left: _Node
    right: _Node


_Node = _Const | _Agg | _Neg | _BinOp


def _divide(a: float, b: float) -> float | None:
    # An empty period has no average order value: that is "no value", not an error.
    return None if b == 0 else a / b


_BINARY: dict[str, Callable[[float, float], float | None]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": _divide,
}


# --- parser ---------------------------------------------------------------------------------


class _Parser:
    """Recursive descent over the token list; ``depth`` bounds nesting of parens and minus."""

    def __init__(self, tokens: Iterator[_Token], known: Collection[str] | None) -> None:
        self.tokens = tokens
        self.current = next(tokens)
        self.depth = 0
        self.known = known
        self.open_parens: list[int] = []

    def advance(self) -> _Token:
        token = self.current
        if token.kind != "end":
            self.current = next(self.tokens)
        return token

    def is_op(self, *ops: str) -> bool:
        return self.current.kind == "op" and self.current.text in ops

    def unexpected(self) -> FormulaError:
        token = self.current
        if token.kind == "end":
            if self.open_parens:
                return FormulaError(
                    self.open_parens[-1], "unbalanced parenthesis: '(' is never closed"
                )
            return FormulaError(token.position, "unexpected end of formula")
        if token.text == ")" and not self.open_parens:
            return FormulaError(token.position, "unbalanced parenthesis: ')' without '('")
        return FormulaError(token.position, f"unexpected {token.text!r}")

    def enter(self, position: int) -> None:
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise FormulaError(position, f"formula is nested deeper than {MAX_NESTING} levels")

    def parse(self) -> _Node:
        node = self.sum_expr()
        if self.current.kind != "end":
            if self.is_op(")"):
                raise self.unexpected()
            raise FormulaError(
                self.current.position, f"unexpected {self.current.text!r} after a complete formula"
            )
        return node

    def sum_expr(self) -> _Node:
        node = self.product()
        while self.is_op("+", "-"):
            op = self.advance().text
            node = _BinOp(op, node, self.product())
        return node

    def product(self) -> _Node:
        node = self.unary()
        while self.is_op("*", "/"):
            op = self.advance().text
            node = _BinOp(op, node, self.unary())
        return node

    def unary(self) -> _Node:
        if self.is_op("-"):
            self.enter(self.advance().position)
            node: _Node = _Neg(self.unary())
            self.depth -= 1
            return node
        return self.primary()

    def primary(self) -> _Node:
        token = self.current
        if token.kind == "number":
            return self.number(self.advance())
        if token.kind == "name":
            return self.call(self.advance())
        if self.is_op("("):
            self.advance()
            self.enter(token.position)
            self.open_parens.append(token.position)
            node = self.sum_expr()
            if not self.is_op(")"):
                raise self.unexpected()
            self.advance()
            self.open_parens.pop()
            self.depth -= 1
            return node
        raise self.unexpected()

    def number(self, token: _Token) -> _Const:
        value = float(token.text)
        if not math.isfinite(value):
            raise FormulaError(token.position, f"number {token.text} is too large")
        return _Const(value)

    def call(self, name: _Token) -> _Agg:
        if not self.is_op("("):
            if name.text in FUNCTIONS:
                raise FormulaError(
                    name.position, f"function '{name.text}' needs a metric in parentheses"
                )
            raise FormulaError(
                name.position,
                f"metric '{name.text}' must be inside an aggregate, e.g. sum({name.text})",
            )
        if name.text not in FUNCTIONS:
            raise FormulaError(
                name.position,
                f"unknown function '{name.text}' (use one of {', '.join(FUNCTIONS)})",
            )
        open_paren = self.advance()
        metric = self.current
        if metric.kind != "name":
            if self.is_op(")"):
                raise FormulaError(metric.position, f"function '{name.text}' needs a metric")
            self.open_parens.append(open_paren.position)
            raise self.unexpected()
        self.advance()
        if self.is_op(","):
            raise FormulaError(
                self.current.position, f"function '{name.text}' takes exactly one metric"
            )
        if not self.is_op(")"):
            self.open_parens.append(open_paren.position)
            raise self.unexpected()
        self.advance()
        if self.known is not None and metric.text not in self.known:
            raise FormulaError(metric.position, f"unknown metric '{metric.text}'")
        return _Agg(Aggregate(name.text, metric.text))


def _collect(node: _Node, found: dict[Aggregate, None]) -> None:
    if isinstance(node, _Agg):
        found.setdefault(node.aggregate)
    elif isinstance(node, _Neg):
        _collect(node.operand, found)
    elif isinstance(node, _BinOp):
        _collect(node.left, found)
        _collect(node.right, found)


Reader = Callable[[S], float | None]
"""Reads one input of a formula (an aggregate) from some state ``S``."""


def _compile(node: _Node, read: Callable[[Aggregate], Reader[S]]) -> Reader[S]:
    """The node as nested closures: the tree is walked once, not once per evaluation."""
    if isinstance(node, _Const):
        constant = node.value
        return lambda _state: constant
    if isinstance(node, _Agg):
        return read(node.aggregate)
    if isinstance(node, _Neg):
        operand = _compile(node.operand, read)

        def negate(state: S) -> float | None:
            value = operand(state)
            return None if value is None else -value

        return negate
    left, right, apply = _compile(node.left, read), _compile(node.right, read), _BINARY[node.op]

    def binary(state: S) -> float | None:
        a = left(state)
        if a is None:
            return None
        b = right(state)
        return None if b is None else apply(a, b)

    return binary


def _additive(node: _Node) -> bool:
    """Sums and counts combined by + and - (and scaled by constants) add up across units."""
    if isinstance(node, _Const):
        return False
    if isinstance(node, _Agg):
        return node.aggregate.func in ("sum", "count")
    if isinstance(node, _Neg):
        return _additive(node.operand)
    if node.op in "+-":
        return _additive(node.left) and _additive(node.right)
    if node.op == "*":
        return (isinstance(node.left, _Const) and _additive(node.right)) or (
            isinstance(node.right, _Const) and _additive(node.left)
        )
    return isinstance(node.right, _Const) and node.right.value != 0 and _additive(node.left)


@dataclass(frozen=True, slots=True)
class Formula:
    """A parsed formula: what it reads, and how to compute it from those aggregates."""

    text: str
    aggregates: tuple[Aggregate, ...]
    """The distinct aggregates the formula reads, in order of first appearance."""
    _root: _Node = field(repr=False, compare=False)

    @property
    def metric_keys(self) -> frozenset[str]:
        return frozenset(a.metric_key for a in self.aggregates)

    @property
    def is_additive(self) -> bool:
        """Whether the values of disjoint parts (child units, sub-periods) sum to the whole."""
        return _additive(self._root)

    def evaluate(self, values: Mapping[Aggregate, float | None]) -> float | None:
        """The formula's value, or None when an input is None, on division by zero, or when
        the result is not a finite number.

        Raises:
            KeyError: ``values`` lacks one of :attr:`aggregates`.
        """
        return self.bind(_item_reader)(values)

    def bind(self, read: Callable[[Aggregate], Reader[S]]) -> Reader[S]:
        """The formula as a function of some state, each aggregate read by ``read(aggregate)``.

        For evaluating the same formula many times (a series of hundreds of buckets): the
        inputs are resolved once here, and no mapping of inputs is built per evaluation. The
        function answers exactly what :meth:`evaluate` would for the same inputs.
        """
        compiled = _compile(self._root, read)

        def value(state: S) -> float | None:
            result = compiled(state)
            return result if result is not None and math.isfinite(result) else None

        return value


def _item_reader(aggregate: Aggregate) -> Reader[Mapping[Aggregate, float | None]]:
    return lambda values: values[aggregate]


def parse_formula(text: str, known_metrics: Collection[str] | None = None) -> Formula:
    """Parse ``text``; with ``known_metrics``, every metric it names must be one of them.

    Raises:
        FormulaError: naming the 0-based position and the problem.
    """
    if len(text) > MAX_FORMULA_LENGTH:
        raise FormulaError(
            MAX_FORMULA_LENGTH, f"formula is longer than {MAX_FORMULA_LENGTH} characters"
        )
    if not text.strip():
        raise FormulaError(0, "empty formula")
    root = _Parser(_tokenize(text), known_metrics).parse()
    found: dict[Aggregate, None] = {}
    _collect(root, found)
    return Formula(text, tuple(found), root)
