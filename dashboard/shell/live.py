"""Live refresh: a page re-reads its data only when the data it shows may have changed.

A ``dcc.Interval`` drives a cheap guarded poll that reads the data versions (Redis, one MGET)
of the metrics the page shows and writes an opaque token into a ``dcc.Store`` only when those
versions or the current minute moved (``dash.no_update`` otherwise). The page's data callback
takes that store as an Input, so it runs again only then. How a page adopts it::

    LIVE = LiveIds.for_page("overview")
    register_poll(LIVE, page="overview")          # at import, next to the page's callbacks
    # layout: live_refresh(LIVE, settings.live_poll_ms)
    # data callback: extra Input(LIVE.token, "data") (value ignored) and
    #   Output(LIVE.watch, "data") = watch_state(...) after an answer, None after a refusal

What the page watches comes back from the browser, so it is signed on the server
(:func:`watch_state`, HMAC with the app's secret) and bound to the user and the page; the poll
refuses anything else. The poll answers with a token that says nothing but "changed".
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import dash
import msgspec
from dash import Input, Output, State, dcc, html
from dash.exceptions import MissingCallbackContextException
from flask import current_app

from dashboard.auth.policy import CallContext, UserFacingError, guarded_callback
from dashboard.cache.answers import CacheUnavailable, answer_store
from dashboard.common.figure_spec import Figure
from models.enums import Granularity
from models.permissions import Permission, Principal
from models.queries.common import floor_to

MAX_WATCH_CHARS = 8192
INVALID_WATCH = "the live refresh state is not valid"
_KEY_PURPOSE = b"northstar.live-refresh"


@dataclass(frozen=True, slots=True)
class LiveIds:
    """The component ids of one page's live refresh."""

    interval: str
    watch: str
    """Store: the signed :class:`WatchState` of what the page shows (None: nothing to watch)."""
    token: str
    """Store: the poll's opaque token; data callbacks take it as an Input."""

    @classmethod
    def for_page(cls, prefix: str) -> LiveIds:
        return cls(f"{prefix}-live-interval", f"{prefix}-live-watch", f"{prefix}-live-token")


class WatchState(msgspec.Struct, frozen=True, array_like=True, forbid_unknown_fields=True):
    """What a rendered page shows: the metrics it reads and the token its data was read at."""

    user: int
    page: str
    metrics: tuple[int, ...]
    token: str
    """Token of the versions and minute the data was read at; "" when they were unknown."""
    view: str = ""
    """A page-defined digest of what is drawn (e.g. a figure's layout), for partial updates."""


def utc_now() -> dt.datetime:
    """The current time for live pages (tests may replace this function)."""
    return dt.datetime.now(dt.UTC)


def live_refresh(ids: LiveIds, poll_ms: int) -> html.Div:
    """The timer and the two stores; ``poll_ms`` 0 turns the timer off."""
    return html.Div(
        [
            dcc.Interval(id=ids.interval, interval=max(poll_ms, 1), disabled=poll_ms <= 0),
            dcc.Store(id=ids.watch, data=None),
            dcc.Store(id=ids.token, data=None),
        ],
        hidden=True,
    )


def _key(secret: str | bytes) -> bytes:
    raw = secret.encode() if isinstance(secret, str) else secret
    # A key of its own, derived from the app's secret: never the session's signing key itself.
    return hmac.new(raw, _KEY_PURPOSE, hashlib.sha256).digest()


def app_secret() -> bytes:
    """This purpose's key, derived from the serving app's secret key."""
    secret = current_app.secret_key
    if not isinstance(secret, str | bytes) or not secret:
        raise RuntimeError("the app has no secret key")
    return _key(secret)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def token_for(key: bytes, versions: Mapping[int, int], now: dt.datetime) -> str:
    """An opaque token of the metrics' versions and the minute of ``now``."""
    minute = floor_to(now, Granularity.MINUTE).isoformat()
    material = msgspec.msgpack.encode((minute, sorted(versions.items())))
    return _b64(hmac.new(key, material, hashlib.sha256).digest()[:16])


def sign(key: bytes, state: WatchState) -> str:
    payload = msgspec.json.encode(state)
    return f"{_b64(payload)}.{_b64(hmac.new(key, payload, hashlib.sha256).digest())}"


def verify(key: bytes, data: object) -> WatchState | None:
    """The state signed by :func:`sign`; None for None; ValueError for anything else."""
    if data is None:
        return None
    if not isinstance(data, str) or len(data) > MAX_WATCH_CHARS or data.count(".") != 1:
        raise ValueError(INVALID_WATCH)
    body, signature = data.split(".")
    try:
        payload, mac = _unb64(body), _unb64(signature)
    except (binascii.Error, ValueError):
        raise ValueError(INVALID_WATCH) from None
    if not hmac.compare_digest(mac, hmac.new(key, payload, hashlib.sha256).digest()):
        raise ValueError(INVALID_WATCH)
    return msgspec.json.decode(payload, type=WatchState)


def read_watch(data: object, principal: Principal, page: str) -> WatchState | None:
    """The watch state the browser sent back, if this server signed it for this user and page.

    Raises:
        ValueError: forged, altered or someone else's state.
    """
    state = verify(app_secret(), data)
    if state is not None and (state.user != principal.user_id or state.page != page):
        raise ValueError(INVALID_WATCH)
    return state


def rendered_view(data: object, principal: Principal, page: str) -> str | None:
    """The ``view`` of a valid watch state, else None (a data callback then draws in full)."""
    try:
        state = read_watch(data, principal, page)
    except (ValueError, msgspec.ValidationError):
        return None
    return state.view if state is not None else None


def watch_state(
    principal: Principal,
    page: str,
    versions: Mapping[int, int] | None,
    now: dt.datetime,
    *,
    metric_ids: Iterable[int] = (),
    view: str = "",
) -> str | None:
    """The signed state a data callback stores after an answer read at ``versions`` and ``now``.

    Args:
        versions: the versions of the page's metrics as the answer was read (None when Redis
            could not say: the first poll that can read them then refreshes the page).
        metric_ids: the metrics to watch when ``versions`` is None.
    """
    if principal.user_id is None:
        return None
    key = app_secret()
    metrics = tuple(sorted(versions)) if versions is not None else tuple(sorted(set(metric_ids)))
    token = token_for(key, versions, now) if versions is not None else ""
    return sign(key, WatchState(principal.user_id, page, metrics, token, view))


def triggered(ids: LiveIds) -> bool:
    """Whether the running callback was triggered by the live token alone (a live refresh)."""
    try:
        fired = dash.ctx.triggered_prop_ids
    except MissingCallbackContextException:
        return False
    return bool(fired) and all(component == ids.token for component in fired.values())


def data_patch(figure: Figure) -> dash.Patch:
    """Only the traces of a ``figure``, for a live refresh of a figure already drawn: the
    browser keeps its layout (template, axes, the user's zoom)."""
    patch = dash.Patch()
    patch["data"] = figure["data"]
    return patch


def _unchanged(_error: UserFacingError) -> Any:
    return dash.no_update


def register_poll(ids: LiveIds, *, page: str, permission: Permission = Permission.KPI_VIEW) -> None:
    """Register the page's poll callback (call it from the page module, like its callbacks)."""

    @dash.callback(
        Output(ids.token, "data"),
        Input(ids.interval, "n_intervals"),
        State(ids.watch, "data"),
        State(ids.token, "data"),
        prevent_initial_call=True,
    )
    # The poll returns no business data, only "changed" tokens: its successful calls are not
    # written to access_log (its refusals are), so an open page is not a row every 5 s.
    @guarded_callback(page=page, permission=permission, on_error=_unchanged, logs_ok=False)
    def poll_versions(call: CallContext, _ticks: object, watch: object, seen: object) -> Any:
        """A new opaque token when the watched versions or the minute moved; else no_update."""
        state = read_watch(watch, call.principal, page)
        if state is None:
            return dash.no_update
        try:
            versions = answer_store().metric_versions(state.metrics)
        except CacheUnavailable:
            return dash.no_update  # logged by the store; the page keeps what it shows
        token = token_for(app_secret(), versions, utc_now())
        changed = token != state.token and token != seen
        return token if changed else dash.no_update
