"""The runner's logs: one JSON object per line, with no personal data.

Every part of the runner logs under the ``pes_sdk_runner`` logger tree: ``.api`` (requests,
payments, webhooks), ``.daemon`` (passes, closes, deliveries), ``.ingest`` (registries).
Records carry their facts either as a JSON object in the message (:func:`event`) or as
``extra=`` fields; :class:`JsonFormatter` turns both into one line::

    {"ts": "2026-11-27T14:00:00.123+00:00", "level": "INFO",
     "logger": "pes_sdk_runner.api", "event": "payment.credited", "order_id": "…"}

What may appear is decided where an event is logged, never here: accounts are masked to
their last four characters (:func:`mask_account`), and no name, address, client id, token
or photo is ever passed to a log call. ``pes runner serve`` and ``run-once`` send these
lines to stderr (:func:`log_to_stderr`) unless the embedding program configured logging.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from typing import Any

__all__ = [
    "ROOT",
    "JsonFormatter",
    "StderrHandler",
    "event",
    "log_to_stderr",
    "mask_account",
    "mask_phone",
    "uvicorn_log_config",
]

#: The logger every part of the runner logs under.
ROOT = "pes_sdk_runner"

# The attributes every LogRecord has; anything else on a record came in through ``extra=``.
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}


def mask_account(account: str) -> str:
    """An account for logs: only its last four characters (``***4567``)."""
    return "***" + account[-4:]


def mask_phone(phone: str) -> str:
    """A phone number for logs (152-ФЗ): its country code and last four digits, the rest
    starred (``+7******4567`` for ``+79161234567``)."""
    digits = phone.removeprefix("+")
    if len(digits) <= 5:
        return "+" + "*" * len(digits)
    return "+" + digits[0] + "*" * (len(digits) - 5) + digits[-4:]


def event(
    logger: logging.Logger, name: str, level: int = logging.INFO, /, **fields: object
) -> None:
    """Log the event ``name`` with its facts, as one JSON object in the message.

    The message itself is the JSON text, so that a handler with a plain ``%(message)s``
    format (or a test's ``caplog``) still gets the whole event.
    """
    if logger.isEnabledFor(level):
        logger.log(level, _Event({"event": name, **fields}))


class _Event:
    """An event as a log record's message: the JSON text of its facts where a handler
    formats the message (``str``), the facts themselves to :class:`JsonFormatter`, which
    would otherwise write the text only to parse it again (two log lines a request)."""

    __slots__ = ("facts",)

    def __init__(self, facts: dict[str, object]) -> None:
        self.facts = facts

    def __str__(self) -> str:
        return json.dumps(self.facts, ensure_ascii=False, default=str)


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, the event and its facts."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
        }
        if isinstance(record.msg, _Event) and not record.args:
            line.update(record.msg.facts)
        else:
            message = record.getMessage()
            try:
                facts = json.loads(message)
            except ValueError:
                facts = None
            if isinstance(facts, dict):
                line.update(facts)
            else:
                line["event"] = message
        for key, value in record.__dict__.items():
            if key not in _STANDARD and key not in line:
                line[key] = value
        if record.exc_info and record.exc_info[0] is not None:
            # The type only: an exception's text may quote an account or a path.
            line["error"] = record.exc_info[0].__name__
        return json.dumps(line, ensure_ascii=False, default=str)


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A handler writing to whatever ``sys.stderr`` is when a record comes (as logging's
    last resort does): a server configured once keeps writing where stderr now goes."""

    def __init__(self, level: int = logging.NOTSET) -> None:
        logging.Handler.__init__(self, level)

    @property
    def stream(self) -> Any:
        return sys.stderr


def uvicorn_log_config(level: str = "info") -> dict[str, Any]:
    """A :func:`logging.config.dictConfig` for uvicorn's own loggers (``uvicorn``,
    ``uvicorn.error``): the runner's JSON lines on stderr, an exception by its type only.

    uvicorn's default writes a failed request's traceback over many plain lines, against
    "one JSON object per line"; its "Exception in ASGI application" is an ERROR line here.
    """
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {"stderr": {"()": StderrHandler, "formatter": "json"}},
        "loggers": {
            "uvicorn": {"handlers": ["stderr"], "level": level.upper(), "propagate": False}
        },
    }


def log_to_stderr(level: int = logging.INFO) -> bool:
    """Send the runner's logs to stderr as JSON lines, unless logging is set up already.

    Returns whether a handler was added. Nothing is changed when the root logger or the
    runner's logger already has a handler: the embedding program decides then.
    """
    logger = logging.getLogger(ROOT)
    if logger.handlers or logging.getLogger().handlers:
        return False
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    logger.addHandler(handler)
    logger.setLevel(level)
    # The job engine's own lines (DBOS: a workflow recovered, a step retried) as JSON too:
    # DBOS adds its plain console handler only to a logger that has none.
    engine = logging.getLogger("dbos")
    if not engine.handlers:
        engine.addHandler(handler)
        engine.propagate = False
    return True
