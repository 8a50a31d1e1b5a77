"""Logging: one line per record, carrying the service and the current trace and span ids.

JSON in deployments (one object per line for the log shipper), readable text in a
terminal. Both go through one root handler that uvicorn's loggers share, so access
logs, errors and application logs look alike and join traces by `trace_id`.
Under `make dev` every process logs JSON and the dev runner renders each line
(the router's too) in one human format with `render_human`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
import time
from datetime import datetime

from opentelemetry import trace
from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

from common.settings import Settings

_HANDLER_NAME = "looklook"
_UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")

_JSON_FIELDS = "%(levelname)s %(name)s %(message)s %(service)s %(trace_id)s %(span_id)s"
_TEXT_FORMAT = (
    "%(asctime)s.%(msecs)03dZ %(levelname)-7s %(service)s %(name)s [%(trace_id)s] %(message)s"
)


class TraceContextFilter(logging.Filter):
    """Stamp every record with the service and the active span, so logs join traces.

    Only set inside a valid span: the formatters supply the placeholder otherwise
    (null in JSON, "-" in text).
    """

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        record.service = self.service
        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            record.trace_id = format(context.trace_id, "032x")
            record.span_id = format(context.span_id, "016x")
        return True


def _json_formatter() -> logging.Formatter:
    return JsonFormatter(
        _JSON_FIELDS,
        rename_fields={"levelname": "level", "name": "logger"},
        # datetime of record.created in UTC, serialised as ISO-8601 with +00:00.
        timestamp="time",
        # uvicorn attaches an ANSI-coloured copy of its messages as an extra.
        reserved_attrs=[*RESERVED_ATTRS, "color_message"],
        # Chinese text (names, addresses) stays readable instead of \\u escapes.
        json_ensure_ascii=False,
    )


def _text_formatter() -> logging.Formatter:
    formatter = logging.Formatter(
        _TEXT_FORMAT,
        datefmt="%Y-%m-%dT%H:%M:%S",
        defaults={"trace_id": "-", "span_id": "-", "service": "-"},
    )
    formatter.converter = time.gmtime  # UTC, like the JSON timestamps
    return formatter


def configure_logging(service_name: str, settings: Settings) -> None:
    """Route every logger, uvicorn's included, through one root handler (idempotent).

    Called again (tests, a second app in one process), it replaces its own handler
    and leaves other handlers on the root logger alone (pytest's capture, say).
    """
    root = logging.getLogger()
    root.setLevel(settings.log_level.upper())
    for existing in list(root.handlers):
        if existing.get_name() == _HANDLER_NAME:
            root.removeHandler(existing)
            existing.close()
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.addFilter(TraceContextFilter(service_name))
    handler.setFormatter(_json_formatter() if settings.log_format == "json" else _text_formatter())
    root.addHandler(handler)
    # httpx logs full URLs at INFO, and WeChat puts the app secret in the query string.
    logging.getLogger("httpx").setLevel(max(root.level, logging.WARNING))
    # uvicorn's own logging config gives these loggers handlers and propagate=False;
    # undo that so their records reach the root handler exactly once.
    for name in _UVICORN_LOGGERS:
        uvicorn_logger = logging.getLogger(name)
        # `access_log=False` leaves uvicorn.access with no handler and no propagation,
        # and uvicorn decides per connection whether to log from `hasHandlers()`:
        # re-enabling propagation here would silently switch access logs back on.
        switched_off = not uvicorn_logger.handlers and not uvicorn_logger.propagate
        for existing in list(uvicorn_logger.handlers):
            uvicorn_logger.removeHandler(existing)
        uvicorn_logger.setLevel(logging.NOTSET)
        uvicorn_logger.propagate = not switched_off


# --- `make dev`: every process's lines, one human format -----------------------------

_LEVEL_NAMES = {"warning": "WARN", "warn": "WARN", "critical": "ERROR", "fatal": "ERROR"}
_LEVEL_COLOURS = {"DEBUG": "2", "WARN": "33", "ERROR": "1;31"}
# Keys of a JSON record that the human line shows in its own place (or drops).
_RECORD_KEYS = {
    "level", "message", "msg", "time", "timestamp", "logger", "service", "trace_id",
    "span_id", "exc_info", "stack_info", "taskName",
}  # fmt: skip
# Colours cycled over the dev runner's processes (ANSI foreground codes).
PROCESS_COLOURS = ("36", "32", "35", "34", "33", "96", "92", "95", "94")


def _paint(code: str, text: str, colour: bool) -> str:
    return f"\x1b[{code}m{text}\x1b[0m" if colour and code else text


def _clock(timestamp: object) -> str:
    """HH:MM:SS.mmm in local time from an ISO-8601 timestamp (now if there is none)."""
    moment = datetime.now().astimezone()
    if isinstance(timestamp, str):
        with contextlib.suppress(ValueError):
            moment = datetime.fromisoformat(timestamp.replace("Z", "+00:00")).astimezone()
    return moment.strftime("%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


def render_human(line: str, *, colour: bool) -> list[str]:
    """One log line of a child process as `time LEVEL message key=value … trace=…`.

    Understands both JSON shapes `make dev` sees: ours (python-json-logger, see
    `_json_formatter`) and Hive Gateway's (`LOG_JSON=1`: level, msg, timestamp and
    its attributes). Anything else (a banner, a bare traceback) is passed as is.
    A record's traceback becomes the following lines.
    """
    stripped = line.rstrip("\n")
    if not stripped.strip():
        return []
    if not stripped.startswith("{"):
        return [stripped]
    try:
        record = json.loads(stripped)
    except ValueError:
        return [stripped]
    if not isinstance(record, dict) or not ("message" in record or "msg" in record):
        return [stripped]
    raw_level = str(record.get("level", "info")).lower()
    level = _LEVEL_NAMES.get(raw_level, raw_level.upper())
    message = str(record.get("message", record.get("msg", "")))
    extras = " ".join(
        f"{key}={json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value}"
        for key, value in record.items()
        if key not in _RECORD_KEYS and value is not None
    )
    parts = [
        _paint("2", _clock(record.get("time", record.get("timestamp"))), colour),
        _paint(_LEVEL_COLOURS.get(level, ""), f"{level:<5}", colour),
        _paint("1" if level in ("WARN", "ERROR") else "", message, colour),
    ]
    if extras:
        parts.append(_paint("2", extras, colour))
    if record.get("trace_id"):
        parts.append(_paint("2", f"trace={record['trace_id']}", colour))
    lines = [" ".join(parts)]
    for key in ("exc_info", "stack_info"):
        if record.get(key):
            lines.extend(str(record[key]).splitlines())
    return lines
