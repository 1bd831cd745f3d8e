"""The log formats and the push context, on real logging records."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from adapters.logs.formats import JsonFormatter, TextFormatter, install_log_handler
from adapters.logs.push_context import PushContextFilter, about_push, push_id_for, short_openid
from adapters.logs.redaction import RedactSecrets

OPENID = "oAbCdEfGhIjKlMnOpQrStUvWxYz0"


@pytest.fixture
def lines() -> Iterator[tuple[logging.Logger, io.StringIO, logging.Handler]]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(PushContextFilter())
    logger = logging.getLogger("tests.log_formats")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, out, handler
    logger.removeHandler(handler)


def test_json_lines_carry_time_level_logger_message_push_id_and_the_events_fields(lines):
    logger, out, handler = lines
    handler.setFormatter(JsonFormatter())
    with about_push("msg:1:" + OPENID + ":2", OPENID) as push_id:
        logger.warning("send to %s failed", OPENID, extra={"errcode": 45015})
    logger.info("no push here")
    first, second = (json.loads(line) for line in out.getvalue().splitlines())
    assert push_id == push_id_for("msg:1:" + OPENID + ":2")
    assert first["level"] == "WARNING" and first["logger"] == "tests.log_formats"
    assert first["message"] == f"send to {short_openid(OPENID)} failed"
    assert (first["push_id"], first["errcode"]) == (push_id, 45015)
    assert first["time"].endswith("+00:00")
    assert second["push_id"] is None


def test_a_traceback_is_one_json_field_with_the_openid_shortened_and_secrets_masked(lines):
    logger, out, handler = lines
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RedactSecrets("app-secret-123456"))
    with about_push("key", OPENID):
        try:
            raise RuntimeError(f"boom for {OPENID} with app-secret-123456")
        except RuntimeError:
            logger.exception("it failed")
    (entry,) = (json.loads(line) for line in out.getvalue().splitlines())
    assert "RuntimeError: boom for oAbC~" in entry["exception"]
    assert OPENID not in out.getvalue() and "app-secret-123456" not in out.getvalue()


def test_text_lines_end_with_the_push_id_when_they_are_about_a_push(lines):
    logger, out, handler = lines
    handler.setFormatter(TextFormatter())
    with about_push("key", OPENID) as push_id:
        logger.info("replied")
    logger.info("idle")
    about, idle = out.getvalue().splitlines()
    assert about.endswith(
        f" tests.log_formats [{about.split('[')[1].split(']')[0]}] replied push={push_id}"
    )
    assert idle.endswith("idle")


def test_installing_the_handler_again_replaces_it_instead_of_doubling_lines():
    root = logging.getLogger()
    before = list(root.handlers)
    level = root.level
    try:
        install_log_handler("INFO", "text")
        handler = install_log_handler("DEBUG", "json")
        assert [h for h in root.handlers if h not in before] == [handler]
        assert isinstance(handler.formatter, JsonFormatter)
        assert root.level == logging.DEBUG
    finally:
        for added in [h for h in root.handlers if h not in before]:
            root.removeHandler(added)
        root.setLevel(level)
