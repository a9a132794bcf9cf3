"""The quarantine page's callbacks, posted over HTTP as the browser posts them."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from flask.testing import FlaskClient

from dashboard.steward.quarantine_layout import IDS
from integration.steward.quarantine_support import UPDATE

# --- calling the page's callbacks over HTTP ----------------------------------------------------

Prop = tuple[str, str]
LIST_OUT = [
    (IDS["grid"], "rowData"),
    (IDS["summary"], "children"),
    (IDS["pages"], "max_value"),
    (IDS["pages"], "active_page"),
    (IDS["discard_matching"], "children"),
]
LIST_IN = [
    (IDS["source"], "value"),
    (IDS["match"], "value"),
    (IDS["status"], "value"),
    (IDS["dates"], "start_date"),
    (IDS["dates"], "end_date"),
    (IDS["pages"], "active_page"),
    (IDS["replayed"], "data"),
    (IDS["discarded"], "data"),
]
PREVIEW_OUT = [
    (IDS["preview_store"], "data"),
    (IDS["preview_note"], "children"),
    (IDS["replay"], "disabled"),
    (IDS["replay"], "children"),
]
PREVIEW_IN = [
    (IDS["preview"], "n_clicks"),
    (IDS["source"], "value"),
    (IDS["match"], "value"),
    (IDS["replayed"], "data"),
]
REPLAY_OUT = [(IDS["replay_note"], "children"), (IDS["replayed"], "data")]
REPLAY_IN = [(IDS["replay"], "n_clicks")]
REPLAY_STATE = [
    (IDS["source"], "value"),
    (IDS["match"], "value"),
    (IDS["preview_store"], "data"),
]
DISCARD_OUT = [(IDS["discard_note"], "children"), (IDS["discarded"], "data")]
DISCARD_IN = [
    (IDS["confirm_selected"], "submit_n_clicks"),
    (IDS["confirm_matching"], "submit_n_clicks"),
]
DISCARD_STATE = [
    (IDS["grid"], "selectedRows"),
    (IDS["reason"], "value"),
    (IDS["source"], "value"),
    (IDS["match"], "value"),
    (IDS["status"], "value"),
    (IDS["dates"], "start_date"),
    (IDS["dates"], "end_date"),
]
RECORD_OUT = [(IDS["record"], "children"), (IDS["record_panel"], "is_open")]
RECORD_IN = [(IDS["grid"], "cellClicked")]
CHOICES_OUT = [(IDS["source"], "options"), (IDS["rules"], "children")]
CHOICES_IN = [(IDS["replayed"], "data"), (IDS["discarded"], "data")]


def _deps(props: Sequence[Prop], values: Sequence[Any]) -> list[dict[str, Any]]:
    return [{"id": i, "property": p, "value": v} for (i, p), v in zip(props, values, strict=True)]


def post(
    client: FlaskClient,
    outputs: Sequence[Prop],
    inputs: Sequence[Prop],
    values: Sequence[Any],
    *,
    state: Sequence[Prop] = (),
    changed: Prop | None = None,
) -> dict[str, dict[str, Any]]:
    """Post one callback as the browser does; the answer's outputs by component id."""
    if len(outputs) == 1:
        output: str = f"{outputs[0][0]}.{outputs[0][1]}"
        declared: Any = {"id": outputs[0][0], "property": outputs[0][1]}
    else:
        output = ".." + "...".join(f"{i}.{p}" for i, p in outputs) + ".."
        declared = [{"id": i, "property": p} for i, p in outputs]
    trigger = changed or inputs[0]
    body = {
        "output": output,
        "outputs": declared,
        "inputs": _deps(inputs, values[: len(inputs)]),
        "state": _deps(state, values[len(inputs) :]),
        "changedPropIds": [f"{trigger[0]}.{trigger[1]}"],
    }
    response = client.post(UPDATE, data=json.dumps(body), content_type="application/json")
    assert response.status_code in (200, 204), response.get_data(as_text=True)[:300]
    if response.status_code == 204:
        return {}
    answer: dict[str, dict[str, Any]] = response.get_json()["response"]
    return answer


def listing(
    client: FlaskClient,
    source: Any = None,
    match: Any = None,
    status: Any = "open",
    start: Any = None,
    end: Any = None,
    page: Any = 1,
    *,
    changed: Prop | None = None,
) -> dict[str, dict[str, Any]]:
    values = [source, match, status, start, end, page, None, None]
    return post(client, LIST_OUT, LIST_IN, values, changed=changed)


def rows(answer: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = answer[IDS["grid"]]["rowData"]
    return found


def text_of(answer: Any) -> str:
    return json.dumps(answer, ensure_ascii=False)


def order_ids(answer: dict[str, dict[str, Any]]) -> set[str]:
    """The order ids in the listed payloads (the broken record by its raw text)."""
    found = set()
    for row in rows(answer):
        try:
            found.add(json.loads(row["payload"])["order_id"])
        except (ValueError, KeyError, TypeError):
            found.add("raw:" + row["payload"][:20])
    return found


def preview(client: FlaskClient, source: Any, match: Any, clicks: Any = 1) -> dict[str, Any]:
    return post(client, PREVIEW_OUT, PREVIEW_IN, [clicks, source, match, None])


def replay(client: FlaskClient, source: Any, match: Any, stored: Any) -> dict[str, Any]:
    return post(client, REPLAY_OUT, REPLAY_IN, [1, source, match, stored], state=REPLAY_STATE)


def discard(
    client: FlaskClient,
    *,
    selected: Any = None,
    reason: Any = "duplicates of a test feed",
    source: Any = None,
    match: Any = None,
    matching: bool = False,
) -> dict[str, Any]:
    clicks = [None, 1] if matching else [1, None]
    trigger = DISCARD_IN[1] if matching else DISCARD_IN[0]
    values = [*clicks, selected, reason, source, match, "open", None, None]
    return post(client, DISCARD_OUT, DISCARD_IN, values, state=DISCARD_STATE, changed=trigger)


def choices(
    client: FlaskClient, replayed: Any = None, discarded: Any = None
) -> tuple[dict[int, str], dict[str, str]]:
    """The filters' choices as read again after a replay (or, given ``discarded``, a discard):
    the source dropdown's labels by source id, the rule suggestions' counts by rule."""
    trigger = CHOICES_IN[0] if discarded is None else CHOICES_IN[1]
    answer = post(client, CHOICES_OUT, CHOICES_IN, [replayed, discarded], changed=trigger)
    labels = {o["value"]: o["label"] for o in answer[IDS["source"]]["options"]}
    rules = {o["props"]["value"]: o["props"]["children"] for o in answer[IDS["rules"]]["children"]}
    return labels, rules


def alert_of(answer: dict[str, Any], component: str) -> str:
    node = answer[component]["children"]
    assert node["props"]["role"] == "alert", node
    return str(node["props"]["children"])
