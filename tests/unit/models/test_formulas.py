"""KPI formulas: what parses, what it computes, and where a bad formula is wrong."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.formulas import (
    MAX_FORMULA_LENGTH,
    MAX_NESTING,
    Aggregate,
    FormulaError,
    parse_formula,
)

KNOWN = {"orders", "orders.amount", "web_sessions", "spend.amount"}
ORDERS = Aggregate("count", "orders")
REVENUE = Aggregate("sum", "orders.amount")
SESSIONS = Aggregate("count", "web_sessions")


def test_average_order_value_reads_two_aggregates_and_divides() -> None:
    formula = parse_formula("sum(orders.amount) / count(orders)", KNOWN)

    assert formula.aggregates == (REVENUE, ORDERS)
    assert formula.metric_keys == {"orders.amount", "orders"}
    assert formula.evaluate({REVENUE: 250.0, ORDERS: 4.0}) == 62.5


def test_precedence_constants_and_unary_minus() -> None:
    formula = parse_formula("100 * count(orders) / count(web_sessions)", KNOWN)
    assert formula.evaluate({ORDERS: 3.0, SESSIONS: 60.0}) == 5.0

    assert parse_formula("1 + 2 * 3").evaluate({}) == 7.0
    assert parse_formula("(1 + 2) * 3").evaluate({}) == 9.0
    assert parse_formula("10 - 4 - 3").evaluate({}) == 3.0
    assert parse_formula("2 * -3").evaluate({}) == -6.0
    assert parse_formula("--2.5e1").evaluate({}) == 25.0
    assert parse_formula(".5 + 1.").evaluate({}) == 1.5


def test_aggregates_are_distinct_in_order_of_first_appearance() -> None:
    formula = parse_formula(
        "(sum(orders.amount) - min(orders.amount)) / count(orders) + sum(orders.amount)"
    )
    assert formula.aggregates == (REVENUE, Aggregate("min", "orders.amount"), ORDERS)


@pytest.mark.parametrize("func", ["sum", "count", "min", "max", "avg"])
def test_every_aggregate_function_is_accepted(func: str) -> None:
    formula = parse_formula(f"{func}(orders.amount)", KNOWN)
    assert formula.aggregates == (Aggregate(func, "orders.amount"),)
    assert formula.evaluate({Aggregate(func, "orders.amount"): 7.0}) == 7.0


def test_division_by_zero_and_missing_inputs_give_no_value() -> None:
    formula = parse_formula("sum(orders.amount) / count(orders)")

    assert formula.evaluate({REVENUE: 0.0, ORDERS: 0.0}) is None
    assert formula.evaluate({REVENUE: None, ORDERS: 3.0}) is None
    assert (
        parse_formula("-min(orders.amount)").evaluate({Aggregate("min", "orders.amount"): None})
        is None
    )


def test_evaluate_refuses_values_that_lack_an_aggregate() -> None:
    with pytest.raises(KeyError):
        parse_formula("sum(orders.amount) / count(orders)").evaluate({REVENUE: 1.0})


def test_additivity_says_whether_child_values_sum_to_the_parent() -> None:
    assert parse_formula("sum(orders.amount)").is_additive
    assert parse_formula("count(orders) - 2 * count(web_sessions)").is_additive
    assert parse_formula("sum(orders.amount) / 1000").is_additive
    assert not parse_formula("sum(orders.amount) / count(orders)").is_additive
    assert not parse_formula("max(orders.amount)").is_additive
    assert not parse_formula("count(orders) + 1").is_additive


@pytest.mark.parametrize(
    ("text", "position", "problem"),
    [
        ("sum(orders.amout)", 4, "unknown metric 'orders.amout'"),
        ("sum(orders.amount) / count(order)", 27, "unknown metric 'order'"),
        ("sum(orders.amount) $ 2", 19, "unexpected character '$'"),
        ("sum(orders.amount) +", 20, "unexpected end of formula"),
        ("(sum(orders.amount) + 1", 0, "unbalanced parenthesis: '(' is never closed"),
        ("count(orders", 5, "unbalanced parenthesis: '(' is never closed"),
        ("count(orders))", 13, "unbalanced parenthesis: ')' without '('"),
        ("(1 + )", 5, "unexpected ')'"),
        ("median(orders.amount)", 0, "unknown function 'median'"),
        ("sum()", 4, "function 'sum' needs a metric"),
        ("sum(orders.amount, orders)", 17, "function 'sum' takes exactly one metric"),
        ("sum + 1", 0, "function 'sum' needs a metric in parentheses"),
        ("orders.amount / 2", 0, "metric 'orders.amount' must be inside an aggregate"),
        ("", 0, "empty formula"),
        ("   ", 0, "empty formula"),
        ("count(orders) 2", 14, "unexpected '2' after a complete formula"),
        ("sum(orders.)", 11, "expected a measure name after '.'"),
        ("1e", 2, "expected the digits of an exponent"),
        ("1e999", 0, "number 1e999 is too large"),
    ],
)
def test_errors_name_position_and_problem(text: str, position: int, problem: str) -> None:
    with pytest.raises(FormulaError) as caught:
        parse_formula(text, KNOWN)

    assert caught.value.position == position
    assert caught.value.problem.startswith(problem)
    assert str(caught.value).startswith(f"position {position}: {problem}")


def test_unknown_metric_message_reads_as_documented() -> None:
    with pytest.raises(FormulaError) as caught:
        parse_formula("sum(orders.amount)/sum(orders.amout)", KNOWN)
    assert str(caught.value) == "position 23: unknown metric 'orders.amout'"


def test_without_known_metrics_any_metric_name_parses() -> None:
    assert parse_formula("sum(anything.at_all)").metric_keys == {"anything.at_all"}


def test_length_and_nesting_are_bounded() -> None:
    too_long = "1" + " + 1" * MAX_FORMULA_LENGTH
    with pytest.raises(FormulaError) as long_error:
        parse_formula(too_long)
    assert long_error.value.position == MAX_FORMULA_LENGTH
    assert "longer than" in long_error.value.problem

    deep = "(" * (MAX_NESTING + 1) + "1" + ")" * (MAX_NESTING + 1)
    with pytest.raises(FormulaError) as deep_error:
        parse_formula(deep)
    assert deep_error.value.position == MAX_NESTING
    assert "nested deeper" in deep_error.value.problem

    with pytest.raises(FormulaError) as minus_error:
        parse_formula("-" * (MAX_NESTING + 1) + "1")
    assert minus_error.value.position == MAX_NESTING

    assert parse_formula("(" * MAX_NESTING + "2" + ")" * MAX_NESTING).evaluate({}) == 2.0


@pytest.mark.parametrize(
    ("text", "position"),
    [
        ("__import__('os').system('true')", 0),
        ("sum(orders.amount).__class__", 18),
        ("count(orders); import os", 13),
        ("lambda: 1", 6),
        ("[count(orders)]", 0),
    ],
)
def test_python_is_never_evaluated(text: str, position: int) -> None:
    with pytest.raises(FormulaError) as caught:
        parse_formula(text, KNOWN)
    assert caught.value.position == position


@given(st.text(alphabet=st.sampled_from("sumcoavgx._(),+-*/ 0123456789e'"), max_size=60))
def test_any_text_parses_or_raises_formula_error(text: str) -> None:
    error: FormulaError | None = None
    try:
        formula = parse_formula(text)
    except FormulaError as exc:
        error = exc
    if error is not None:
        assert 0 <= error.position <= len(text)
    else:
        result = formula.evaluate(dict.fromkeys(formula.aggregates, 1.0))
        assert result is None or isinstance(result, float)


def test_a_bound_formula_reads_its_inputs_from_any_state() -> None:
    # A series binds the formula once and evaluates it per bucket from that bucket's stats.
    formula = parse_formula("-(sum(orders.amount) / count(orders)) * 2 + 1", KNOWN)
    reads: list[Aggregate] = []

    def reader(aggregate: Aggregate) -> Callable[[dict[str, float | None]], float | None]:
        reads.append(aggregate)
        return lambda state: state[aggregate.metric_key]

    compute = formula.bind(reader)

    assert reads == [REVENUE, ORDERS]  # each input resolved once, when bound
    assert compute({"orders.amount": 250.0, "orders": 5.0}) == -99.0
    assert compute({"orders.amount": 250.0, "orders": 0.0}) is None  # division by zero
    assert compute({"orders.amount": None, "orders": 5.0}) is None
    assert compute({"orders.amount": 1e308, "orders": 1e-308}) is None  # not finite
    assert reads == [REVENUE, ORDERS]
