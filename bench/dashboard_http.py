"""HTTP side of the dashboard benchmark: a signed-in browser session and Dash callback bodies.

A :class:`Browser` signs in through the real form (``POST /login``; the app needs no CSRF
token, only a same-origin request, which a request without ``Origin`` is) and keeps the
cookies it is given, as a browser does. Callback bodies are built from the app's own
``/_dash-dependencies``, the list the Dash renderer reads, so they name exactly the outputs,
inputs and state the app declares.

Answers are classified without parsing the JSON (a byte search): a refusal of a guarded
callback is a 200 whose body holds the ``role="alert"`` view, with ``Retry-After`` when the
user was throttled or the database busy.
"""

from __future__ import annotations

import http.client
import json
import re
import time
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from http.cookies import SimpleCookie
from typing import Any

CALLBACK_PATH = "/_dash-update-component"
DEPENDENCIES_PATH = "/_dash-dependencies"
LOGIN_PATH = "/login"
IDLE_RECONNECT_S = 4.0
"""gunicorn closes a kept-alive connection idle for 5 s (``keepalive``): reconnect before."""
_ALERT = re.compile(rb'"role":\s*"alert"')
_THROTTLED = b"Too many requests"


class Outcome(StrEnum):
    OK = "ok"
    THROTTLED = "throttled"
    """A 429, or the guarded callback's "too many requests" view (200 with Retry-After)."""
    BUSY = "busy"
    """A 503, or the "database is busy" view: the global cap on concurrent page reads."""
    ERROR = "error"
    """Any other status, a refusal view (denied, invalid input, server error), no answer."""


@dataclass(frozen=True, slots=True)
class Answer:
    outcome: Outcome
    status: int
    seconds: float
    body: bytes = field(repr=False)


def classify(status: int, retry_after: str | None, body: bytes) -> Outcome:
    """What a callback answer means for the user (see the module docstring)."""
    if status == 429:
        return Outcome.THROTTLED
    if status == 503:
        return Outcome.BUSY
    if status != 200:
        return Outcome.ERROR
    if _ALERT.search(body) is None:
        return Outcome.OK
    if retry_after is None:
        return Outcome.ERROR
    return Outcome.THROTTLED if _THROTTLED in body else Outcome.BUSY


class Browser:
    """One signed-in user: a kept-alive connection and the cookies the site sets."""

    def __init__(self, port: int, email: str, password: str) -> None:
        self.port = port
        self.email = email
        self.password = password
        self.cookies: dict[str, str] = {}
        self._connection: http.client.HTTPConnection | None = None
        self._last_used = 0.0

    def _conn(self) -> http.client.HTTPConnection:
        if self._connection is not None and time.monotonic() - self._last_used > IDLE_RECONNECT_S:
            self.close()
        if self._connection is None:
            self._connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        return self._connection

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def request(
        self, method: str, path: str, body: bytes | None, headers: Mapping[str, str]
    ) -> tuple[http.client.HTTPResponse, bytes, float]:
        """Send one request with the session's cookies; the answer, its body and its seconds
        (sending to the last byte read). Raises OSError or HTTPException on a failure."""
        sent = dict(headers)
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        connection = self._conn()
        started = time.perf_counter()
        try:
            connection.request(method, path, body=body, headers=sent)
            response = connection.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException):
            self.close()
            raise
        seconds = time.perf_counter() - started
        self._last_used = time.monotonic()
        for header in response.headers.get_all("Set-Cookie") or []:
            jar: SimpleCookie = SimpleCookie()
            jar.load(header)
            for name, morsel in jar.items():
                if not morsel.value or "1970" in morsel["expires"]:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        if response.getheader("Connection", "").lower() == "close":
            self.close()
        return response, data, seconds

    def sign_in(self) -> None:
        """Post the sign-in form; raises RuntimeError unless the site answers 303 + a session."""
        form = urllib.parse.urlencode(
            {"email": self.email, "password": self.password, "next": "/"}
        ).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        response, data, _ = self.request("POST", LOGIN_PATH, form, headers)
        if response.status != 303 or not self.cookies:
            raise RuntimeError(
                f"sign-in of {self.email} answered {response.status}: {data[:200]!r}"
            )

    def get_json(self, path: str) -> Any:
        response, data, _ = self.request("GET", path, None, {"Accept": "application/json"})
        if response.status != 200:
            raise RuntimeError(f"GET {path} answered {response.status}: {data[:200]!r}")
        return json.loads(data)

    def callback(self, body: Mapping[str, Any]) -> Answer:
        """POST one Dash callback body; a connection failure is an ERROR answer."""
        payload = json.dumps(body, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        started = time.perf_counter()
        try:
            response, data, seconds = self.request("POST", CALLBACK_PATH, payload, headers)
        except (OSError, http.client.HTTPException):
            return Answer(Outcome.ERROR, 0, time.perf_counter() - started, b"")
        outcome = classify(response.status, response.getheader("Retry-After"), data)
        return Answer(outcome, response.status, seconds, data)


Prop = tuple[str, str]
"""A component property: (component id, property name)."""


def _prop(text: str) -> Prop:
    component, prop = text.rsplit(".", 1)
    return component, prop


@dataclass(frozen=True, slots=True)
class Callback:
    """One server-side callback as ``/_dash-dependencies`` declares it."""

    output: str
    outputs: tuple[Prop, ...]
    inputs: tuple[Prop, ...]
    state: tuple[Prop, ...]

    @classmethod
    def from_dependency(cls, dependency: Mapping[str, Any]) -> Callback:
        output = str(dependency["output"])
        multi = output.startswith("..") and output.endswith("..")
        outputs = output[2:-2].split("...") if multi else [output]
        return cls(
            output,
            tuple(_prop(o) for o in outputs),
            tuple((str(d["id"]), str(d["property"])) for d in dependency["inputs"]),
            tuple((str(d["id"]), str(d["property"])) for d in dependency["state"]),
        )

    @property
    def multi(self) -> bool:
        return self.output.startswith("..")

    def body(self, values: Mapping[Prop, object], changed: Sequence[Prop]) -> dict[str, Any]:
        """The body the Dash renderer posts: every input and state with its value from
        ``values`` (None when absent), ``changed`` as the properties that triggered it."""

        def entries(props: Sequence[Prop]) -> list[dict[str, Any]]:
            return [{"id": c, "property": p, "value": values.get((c, p))} for c, p in props]

        outputs = [{"id": c, "property": p} for c, p in self.outputs]
        return {
            "output": self.output,
            "outputs": outputs if self.multi else outputs[0],
            "inputs": entries(self.inputs),
            "changedPropIds": [f"{c}.{p}" for c, p in changed],
            "state": entries(self.state),
        }


def find_callback(dependencies: Sequence[Mapping[str, Any]], output: Prop) -> Callback:
    """The server-side callback that sets ``output``; KeyError when the app has none."""
    for dependency in dependencies:
        if dependency.get("clientside_function"):
            continue
        callback = Callback.from_dependency(dependency)
        if output in callback.outputs:
            return callback
    raise KeyError(f"no server-side callback sets {output[0]}.{output[1]}")
