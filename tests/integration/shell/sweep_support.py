"""What the callback sweep sends: the forged values, the callbacks ``/_dash-dependencies``
lists, the values a browser would first send (from the pages' own layouts), and the bodies
it posts."""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import dash
from flask import Flask
from flask.testing import FlaskClient

from dashboard.app import DASH_KEY
from ingest.demo.catalog import ORDERS, ROLES
from integration.auth_support import page_request
from integration.shell.sweep_world_support import (
    HIDDEN_CHILD_KEY,
    HIDDEN_FEED,
    HIDDEN_KEY,
    HIDDEN_KEYS,
    HOME_FEED,
    KPI_KEY,
    NO_ROLE,
    PAGE_SEARCH,
    PII_DOMAIN,
    ROOT_KEY,
    UPDATE,
)


def nested(depth: int) -> Any:
    """``[[[…"bottom"…]]]``, ``depth`` lists deep."""
    value: Any = "bottom"
    for _ in range(depth):
        value = [value]
    return value


JUNK: tuple[Any, ...] = (
    "orders",
    "support_resolution_time",
    "no-such-kpi",
    0,
    -1,
    2**63,
    10**9,
    1.5,
    float("nan"),
    float("inf"),
    "' OR 1=1 --",
    "%",
    "_",
    "\\",
    "",
    "\x00<script>alert(1)</script>",
    "x" * 10_000,
    json.dumps(["2024-01-01T00:00:00+00:00", 10**20, "x"]),
    f"/kpi/{'x' * 5_000}",
    "//evil.example/",
    None,
    True,
    [],
    {},
    {"a": [{"b": {"c": [None, {"d": "' OR 1=1 --"}]}}]},
    nested(60),
    {"startRow": 0, "endRow": 10**9, "sortModel": [], "filterModel": {}},
    {"startRow": -5, "endRow": 2**63, "sortModel": [{"colId": "' OR 1=1 --", "sort": "asc"}]},
)
"""Other KPI keys, an unknown key, huge and negative numbers (page sizes), SQL
metacharacters, long strings, paths, wrong types, nested junk, and grid requests for a
billion rows (or a negative number of them)."""


def out_of_scope_values(
    unit_ids: dict[str, int], incident_ids: Mapping[str, int], quarantined: Mapping[str, int]
) -> tuple[list[Any], list[Any]]:
    """Other units' ids and keys, other units' incidents, and grid requests filtering by
    another unit or by personal data: the ones every role tries on every input, then the
    others."""
    root, hidden, hidden_child = (unit_ids[k] for k in (ROOT_KEY, *HIDDEN_KEYS))
    pii_filter = {"filterType": "text", "type": "contains", "filter": PII_DOMAIN}
    unit_filter = {"filterType": "text", "type": "equals", "filter": HIDDEN_KEY}
    core = [
        hidden,
        incident_ids[HIDDEN_FEED.key],
        quarantined[HIDDEN_FEED.key],
        [quarantined[HIDDEN_FEED.key]],
        HIDDEN_FEED.key,
        HOME_FEED.key,
        ROOT_KEY,
        HIDDEN_KEY,
        {"startRow": 0, "endRow": 100, "filterModel": {"unit": unit_filter}},
        {
            "startRow": 0,
            "endRow": 100,
            "sortModel": [{"colId": "a__customer_email", "sort": "asc"}],
            "filterModel": {"a__customer_email": pii_filter},
        },
    ]
    more = [
        root,
        str(incident_ids[ORDERS.key]),
        str(hidden_child),
        HIDDEN_CHILD_KEY,
        f" {HIDDEN_KEY.upper()} ",
        f"?unit={HIDDEN_KEY}&kpi={KPI_KEY}&period=30d",
        [HIDDEN_KEY, hidden],
        {"points": [{"customdata": HIDDEN_KEY}]},
    ]
    return core, more


def signed_in_roles() -> list[str]:
    return [*(r.key for r in ROLES), NO_ROLE]


def forged_values(
    unit_ids: dict[str, int],
    incident_ids: Mapping[str, int],
    quarantined: Mapping[str, int],
    role: str,
    slot: int,
) -> list[Any]:
    """The values forged into input number ``slot`` of a callback for ``role``, each once.

    Every role tries the core out-of-scope values on every input. The other out-of-scope
    values and :data:`JUNK` are shared out among the roles that hold permissions, in
    rotation: each tries a different share on each input, so together they try every value
    on every input, and the sweep stays fast. The user without a role is refused whatever
    it sends, so it tries the core values only.
    """
    core, more = out_of_scope_values(unit_ids, incident_ids, quarantined)
    roles = [r.key for r in ROLES]
    rest = [*more, *JUNK]
    share = rest[(slot + roles.index(role)) % len(roles) :: len(roles)] if role in roles else []
    unique: dict[str, Any] = {}
    for value in [*core, *share]:
        unique.setdefault(json.dumps(value), value)
    return list(unique.values())


# --- discovery: the callbacks and the values a browser first sends ---------------------------


def server_callbacks(client: FlaskClient) -> list[dict[str, Any]]:
    """Every callback ``/_dash-dependencies`` lists that runs on the server."""
    response = client.get("/_dash-dependencies")
    assert response.status_code == 200
    listed: list[dict[str, Any]] = response.get_json()
    return [c for c in listed if c["clientside_function"] is None]


def fill_path(template: str, path_values: Mapping[str, str]) -> str:
    """A page's path template with each ``<part>`` replaced by ``path_values[part]`` (by
    :data:`KPI_KEY` for parts it does not name)."""
    return re.sub(r"<([^>]+)>", lambda m: path_values.get(m.group(1), KPI_KEY), template)


def initial_values(
    client: FlaskClient, path_values: Mapping[str, str]
) -> dict[tuple[str, str], Any]:
    """Each component property's value as the pages' layouts first render it.

    Every registered page is rendered through Dash's page router, its path template filled
    from ``path_values`` (:meth:`World.path_values`) and its query string
    :data:`PAGE_SEARCH`.
    """
    found: dict[tuple[str, str], Any] = {}
    _collect(client.get("/_dash-layout").get_json(), found)
    for page in dash.page_registry.values():
        path = fill_path(page.get("path_template") or page["path"], path_values)
        response = client.post(UPDATE, json=page_request(path, PAGE_SEARCH))
        assert response.status_code == 200, path
        _collect(response.get_json(), found)
    return found


def _collect(node: Any, found: dict[tuple[str, str], Any]) -> None:
    if isinstance(node, list):
        for item in node:
            _collect(item, found)
    elif isinstance(node, dict):
        props = node.get("props")
        if isinstance(props, dict) and isinstance(props.get("id"), str):
            for name, value in props.items():
                if name != "children":
                    found.setdefault((props["id"], name), value)
        for value in node.values():
            _collect(value, found)


LOGS_REFUSALS_ONLY = frozenset({"poll_versions"})
"""Callbacks guarded with ``logs_ok=False``: their answered calls write no access_log row."""


def page_callback_actions(app: Flask) -> dict[str, str]:
    """The ``access_log`` action (function name) of every server callback a page defines,
    by callback output; Dash's own callbacks (the page router) are left out."""
    actions = {}
    for output, spec in app.extensions[DASH_KEY].callback_map.items():
        if "callback" in spec:
            function = inspect.unwrap(spec["callback"])
            if function.__module__.split(".")[0] != "dash":
                actions[output] = function.__name__
    return actions


# --- requests ------------------------------------------------------------------------------


def _dependency(text_: str) -> dict[str, str]:
    component, prop = text_.rsplit(".", 1)
    # Pattern-matching ids need concrete ids the layouts do not give: extend the sweep first.
    assert not component.startswith("{"), f"pattern-matching callback {text_}"
    return {"id": component, "property": prop}


def declared_outputs(output: str) -> Any:
    """What the renderer sends as ``outputs``: one object, or a list for ``..a.b...c.d..``."""
    if output.startswith(".."):
        return [_dependency(part) for part in output[2:-2].split("...")]
    return _dependency(output)


def prop_id(dependency: dict[str, Any]) -> str:
    return f"{dependency['id']}.{dependency['property']}"


def callback_body(callback: dict[str, Any], values: Sequence[Any], changed: list[str]) -> str:
    """The JSON a browser would post for ``callback`` with these input and state values."""
    count = len(callback["inputs"])

    def entries(dependencies: list[dict[str, Any]], given: Sequence[Any]) -> list[Any]:
        return [
            {"id": d["id"], "property": d["property"], "value": v}
            for d, v in zip(dependencies, given, strict=True)
        ]

    body = {
        "output": callback["output"],
        "outputs": declared_outputs(callback["output"]),
        "inputs": entries(callback["inputs"], values[:count]),
        "state": entries(callback["state"], values[count:]),
        "changedPropIds": changed,
    }
    return json.dumps(body)  # NaN and Infinity as JavaScript would send them


def short(value: Any) -> str:
    shown = json.dumps(value)
    return shown if len(shown) <= 60 else f"{shown[:57]}..."


BROWSER_DEFAULTS: dict[str, Any] = {
    "pathname": "/",
    "search": "",
    "getRowsRequest": {"startRow": 0, "endRow": 100, "sortModel": [], "filterModel": {}},
}
"""What the browser sends for properties no layout sets: a ``dcc.Location``'s address,
an ag-grid's first block request (infinite row model)."""


def first_values(callback: dict[str, Any], initial: dict[tuple[str, str], Any]) -> list[Any]:
    """The input and state values the page sends first."""
    dependencies = [*callback["inputs"], *callback["state"]]
    return [
        initial.get((d["id"], d["property"]), BROWSER_DEFAULTS.get(d["property"]))
        for d in dependencies
    ]


def variants(
    callback: dict[str, Any],
    initial: dict[tuple[str, str], Any],
    forged_for: Callable[[int], Sequence[Any]],
) -> Iterator[tuple[str, list[Any], list[str]]]:
    """(what was forged, values, changedPropIds): the page's own values first (under
    :data:`UNFORGED`), then each input and state, and each key of a dict value, replaced in
    turn by each value ``forged_for`` gives for it (by its position in that order)."""
    base = first_values(callback, initial)
    names = [prop_id(d) for d in [*callback["inputs"], *callback["state"]]]
    yield UNFORGED[0], base, names[:1]
    yield UNFORGED[1], base, []
    yield "an unknown changed input", base, ["' OR 1=1 --.value"]
    slot = 0
    for index, name in enumerate(names):
        changed = [name] if index < len(callback["inputs"]) else names[:1]
        original = base[index]
        keys = list(original) if isinstance(original, dict) else []
        for key in [None, *keys]:
            for value in forged_for(slot):
                forged = value if key is None else {**original, key: value}
                where = name if key is None else f"{name}[{key!r}]"
                yield (
                    f"{where} = {short(value)}",
                    [*base[:index], forged, *base[index + 1 :]],
                    changed,
                )
            slot += 1


UNFORGED = ("the values the page sends", "no changed input")
