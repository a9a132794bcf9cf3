"""The admin KPI form's formula marker: the caret at the position, the problem without echo."""

from __future__ import annotations

import pytest

from dashboard.admin.kpi_forms import formula_problem, quiet_problem
from models.formulas import FormulaError, parse_formula


@pytest.mark.parametrize(
    ("formula", "shown"),
    [
        ("sum(orders.amount) * 1.1)", "unbalanced parenthesis: ')' without '('"),
        ("zqleak_feed", "metric (at ^) must be inside an aggregate"),
        ("zqleak(orders)", "unknown function (at ^) (use one of sum, count, min, max, avg)"),
        ("sum(orders) zqleak", "unexpected (at ^) after a complete formula"),
        ("sum(orders", "unbalanced parenthesis: '(' is never closed"),
    ],
)
def test_the_problem_never_repeats_what_was_typed(formula: str, shown: str) -> None:
    with pytest.raises(FormulaError) as caught:
        parse_formula(formula)
    assert quiet_problem(caught.value.problem) == shown
    assert "zqleak" not in shown


def test_the_caret_stands_under_the_position_and_the_message_counts_from_1() -> None:
    marker = formula_problem(4, "unknown metric 'orders.amont'")
    caret, message = marker.children
    assert caret.children == "    ^"
    assert message.children == "At character 5: unknown metric (at ^)."
    assert marker.role == "alert"
