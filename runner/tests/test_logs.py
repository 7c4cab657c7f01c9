"""The runner's log lines: one JSON object each, facts from the message or from ``extra``."""

from __future__ import annotations

import io
import json
import logging

import pytest
from pes_sdk_runner.logs import JsonFormatter, event, log_to_stderr, mask_account


def _line(logger: logging.Logger, emit: object) -> dict[str, object]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        assert callable(emit)
        emit()
    finally:
        logger.removeHandler(handler)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    data = json.loads(lines[0])
    assert isinstance(data, dict)
    return data


def test_an_event_is_one_json_object_with_time_level_and_logger() -> None:
    logger = logging.getLogger("pes_sdk_runner.test.events")
    data = _line(
        logger,
        lambda: event(
            logger, "payment.credited", order_id="o-1", account=mask_account("0012345678")
        ),
    )
    assert data["event"] == "payment.credited"
    assert (data["level"], data["logger"]) == ("INFO", "pes_sdk_runner.test.events")
    assert data["order_id"] == "o-1"
    assert data["account"] == "***5678"  # the last four only
    assert str(data["ts"]).endswith("+00:00")


def test_extra_fields_and_plain_messages_are_kept_as_facts() -> None:
    logger = logging.getLogger("pes_sdk_runner.test.extra")
    data = _line(
        logger, lambda: logger.info("registry ingested", extra={"partner": "7707083893", "n": 3})
    )
    assert (data["event"], data["partner"], data["n"]) == ("registry ingested", "7707083893", 3)


def test_an_exception_is_logged_by_its_type_only() -> None:
    # An exception's text can quote an account or a path: only its type reaches the line.
    logger = logging.getLogger("pes_sdk_runner.test.errors")

    def emit() -> None:
        try:
            raise ValueError("account 0012345678 is bad")
        except ValueError:
            logger.exception("ingest failed")

    data = _line(logger, emit)
    assert data["error"] == "ValueError"
    assert "0012345678" not in json.dumps(data)


def test_log_to_stderr_leaves_a_configured_program_alone() -> None:
    root = logging.getLogger()
    runner = logging.getLogger("pes_sdk_runner")
    added = logging.NullHandler()
    root.addHandler(added)
    try:
        before = list(runner.handlers)
        assert log_to_stderr() is False
        assert runner.handlers == before
    finally:
        root.removeHandler(added)


def test_log_to_stderr_writes_json_lines_when_nothing_is_set_up(
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = logging.getLogger()
    runner = logging.getLogger("pes_sdk_runner")
    engine = logging.getLogger("dbos")  # the job engine's own logger
    saved_root, saved_runner, level = list(root.handlers), list(runner.handlers), runner.level
    saved_engine, engine_propagates = list(engine.handlers), engine.propagate
    root.handlers.clear()  # pytest's own capture handler: as in a plain `pes runner serve`
    runner.handlers.clear()
    engine.handlers.clear()
    try:
        assert log_to_stderr() is True
        event(logging.getLogger("pes_sdk_runner.api"), "payment.created", total="1.00")
        logging.getLogger("dbos").warning("Recovering 1 workflows from application version x")
        lines = capsys.readouterr().err.strip().splitlines()
    finally:
        runner.handlers[:] = saved_runner
        root.handlers[:] = saved_root
        engine.handlers[:] = saved_engine
        engine.propagate = engine_propagates
        runner.setLevel(level)
    data = json.loads(lines[-2])
    assert (data["event"], data["total"], data["logger"]) == (
        "payment.created",
        "1.00",
        "pes_sdk_runner.api",
    )
    # The engine's lines are JSON too, not DBOS's plain console format.
    assert json.loads(lines[-1])["logger"] == "dbos"
