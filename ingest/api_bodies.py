"""Reading ingest request bodies: a JSON array, NDJSON, CSV, or a multipart file of either.

A body that is not what its content type says at all is refused whole (400); a body of that
kind with some broken records (an NDJSON line that is not JSON, a CSV row of the wrong width)
yields those records as :class:`Unparsed`, to be rejected and quarantined one by one.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass

import msgspec
from flask import Request
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.formparser import FormDataParser

from models.safe_json import escaped_text

JSON = "application/json"
NDJSON_TYPES = ("application/x-ndjson", "application/ndjson", "application/jsonl")
CSV = "text/csv"
MULTIPART = "multipart/form-data"
EVENT_TYPES = (JSON, *NDJSON_TYPES)
UPLOAD_TYPES = (CSV, JSON, *NDJSON_TYPES, MULTIPART)
_BY_EXTENSION = {".csv": CSV, ".json": JSON, ".ndjson": NDJSON_TYPES[0], ".jsonl": NDJSON_TYPES[0]}
_UNREADABLE = (msgspec.DecodeError, UnicodeDecodeError, RecursionError)
"""What decoding a JSON text can raise: msgspec raises the latter two for invalid UTF-8 inside
a string and for nesting deeper than the interpreter's recursion limit."""


class BodyError(Exception):
    """The body cannot be read as a batch of records: refuse the whole request."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class Unparsed:
    """A record whose text could not be parsed; kept raw for the quarantine."""

    raw: str
    rule: str
    reason: str


@dataclass(frozen=True, slots=True)
class Batch:
    """The records of a body, in order: parsed values (any JSON value) or :class:`Unparsed`."""

    records: list[object]
    lax: bool
    """True for CSV: every cell is text, to be coerced by the contract's types."""


def _too_large(max_bytes: int) -> BodyError:
    return BodyError(
        413, "payload_too_large", f"the body is larger than the limit of {max_bytes} bytes"
    )


def unsupported(content_type: str, allowed: tuple[str, ...]) -> BodyError:
    got = content_type or "none"
    return BodyError(
        415,
        "unsupported_media_type",
        f"Content-Type {got!r} is not accepted here; use one of: {', '.join(allowed)}",
    )


def too_many(max_records: int) -> BodyError:
    return BodyError(
        413,
        "payload_too_large",
        f"the body holds more than the limit of {max_records} records per request; "
        "split it into several requests",
    )


def read_batch(
    request: Request, allowed: tuple[str, ...], max_bytes: int, max_records: int
) -> Batch:
    """Read and parse the request's body, refusing more than ``max_bytes`` or more than
    ``max_records`` records (413).

    Raises:
        BodyError: 413 too large, 415 content type or encoding not accepted, 400 unreadable.
    """
    mimetype = request.mimetype
    if mimetype not in allowed:
        raise unsupported(request.content_type or "", allowed)
    encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding != "identity":
        raise BodyError(
            415, "unsupported_media_type", f"Content-Encoding {encoding!r} is not supported"
        )
    if request.content_length is not None and request.content_length > max_bytes:
        raise _too_large(max_bytes)
    data = _read_bounded(request, max_bytes)
    if mimetype == MULTIPART:
        return _multipart(data, request.mimetype_params, max_records)
    return parse(mimetype, data, max_records)


def _read_bounded(request: Request, max_bytes: int) -> bytes:
    # Werkzeug bounds the read (also of a chunked body without Content-Length) but stops
    # silently at the bound; one byte more tells a body at the limit from one beyond it.
    request.max_content_length = max_bytes + 1
    try:
        data = request.get_data(cache=False)
    except RequestEntityTooLarge as exc:
        raise _too_large(max_bytes) from exc
    if len(data) > max_bytes:
        raise _too_large(max_bytes)
    return data


def _multipart(data: bytes, options: dict[str, str], max_records: int) -> Batch:
    parser = FormDataParser(max_form_parts=10)
    try:
        _stream, _form, files = parser.parse(io.BytesIO(data), MULTIPART, len(data), options)
    except (ValueError, RequestEntityTooLarge) as exc:
        raise BodyError(400, "bad_request", f"the multipart body is malformed: {exc}") from exc
    upload: FileStorage | None = files.get("file")
    if upload is None:
        raise BodyError(400, "bad_request", "a multipart upload needs a part named 'file'")
    kind = upload.mimetype
    if kind not in (CSV, JSON, *NDJSON_TYPES):
        extension = "." + (upload.filename or "").rsplit(".", 1)[-1].lower()
        kind = _BY_EXTENSION.get(extension, kind)
    if kind not in (CSV, JSON, *NDJSON_TYPES):
        raise unsupported(kind, (CSV, JSON, *NDJSON_TYPES))
    return parse(kind, upload.read(), max_records)


def parse(mimetype: str, data: bytes, max_records: int) -> Batch:
    """Parse ``data`` of a known type into a batch (raises :class:`BodyError`: 400 when it is
    not a batch at all, 413 when it holds more than ``max_records`` records)."""
    parsers: dict[str, Callable[[bytes, int], Batch]] = {JSON: parse_json_array, CSV: parse_csv}
    return parsers.get(mimetype, parse_ndjson)(data, max_records)


def _decode_error(exc: Exception) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return f"invalid UTF-8 at byte {exc.start}"
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    return str(exc)


def parse_json_array(data: bytes, max_records: int) -> Batch:
    try:
        value = msgspec.json.decode(data)
    except _UNREADABLE as exc:
        reason = _decode_error(exc)
        raise BodyError(400, "bad_request", f"the body is not valid JSON: {reason}") from exc
    if not isinstance(value, list):
        raise BodyError(
            400,
            "bad_request",
            "the body must be a JSON array of events (for one event per line, send "
            f"Content-Type {NDJSON_TYPES[0]})",
        )
    if len(value) > max_records:
        raise too_many(max_records)
    return Batch(value, lax=False)


def parse_ndjson(data: bytes, max_records: int) -> Batch:
    """One JSON value per line; blank lines are skipped and do not count as records."""
    records: list[object] = []
    parsed = 0
    for number, line in enumerate(data.split(b"\n"), start=1):
        line = line.strip()
        if not line:
            continue
        if len(records) == max_records:
            raise too_many(max_records)
        try:
            records.append(msgspec.json.decode(line))
            parsed += 1
        except _UNREADABLE as exc:
            # Kept as text PostgreSQL can hold: bad UTF-8 replaced, NUL escaped.
            raw = escaped_text(line.decode("utf-8", errors="replace"))
            reason = f"line {number} is not valid JSON: {_decode_error(exc)}"
            records.append(Unparsed(raw, "json", reason))
    if not records:
        raise BodyError(400, "bad_request", "the body holds no records")
    if parsed == 0:
        raise BodyError(400, "bad_request", "the body is not NDJSON: no line is valid JSON")
    return Batch(records, lax=False)


def parse_csv(data: bytes, max_records: int) -> Batch:
    """A header row, then one record per row; an empty cell means the field is absent."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BodyError(400, "bad_request", f"the CSV file is not UTF-8: {exc}") from exc
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [name.strip() for name in next(reader, [])]
        if not any(header):
            raise BodyError(400, "bad_request", "the CSV file has no header row")
        if len(set(header)) != len(header):
            raise BodyError(400, "bad_request", "the CSV header names a column twice")
        records: list[object] = []
        for row in reader:
            if not any(row):
                continue
            if len(records) == max_records:
                raise too_many(max_records)
            records.append(_csv_record(header, row, reader.line_num))
    except csv.Error as exc:
        where = f"line {reader.line_num}"
        raise BodyError(400, "bad_request", f"the CSV file is malformed at {where}: {exc}") from exc
    return Batch(records, lax=True)


def _csv_record(header: list[str], row: list[str], line: int) -> object:
    if len(row) != len(header):
        out = io.StringIO()
        csv.writer(out).writerow(row)
        reason = f"line {line} has {len(row)} cells, the header has {len(header)}"
        return Unparsed(out.getvalue().rstrip("\r\n"), "csv", reason)
    return {name: cell for name, cell in zip(header, row, strict=True) if cell != ""}
