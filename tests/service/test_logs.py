"""service.logs: control characters in client-supplied values are escaped, so one request is one log line; query
values never reach the log."""

import logging
import os

import pytest

from service.logs import JsonFormatter, UtcFormatter, access_logger, escape_controls, log_access, redact_query


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/score", "/score"),
        ("/a\nb", "/a\\nb"),
        ("/a\r\nb", "/a\\r\\nb"),
        ("/a\tb\x00c\x1b[31m\x7f", "/a\\tb\\x00c\\x1b[31m\\x7f"),
        ("/a\u2028b\u2029c\x85d", "/a\\u2028b\\u2029c\\x85d"),
        ("/literal\\nbackslash", "/literal\\\\nbackslash"),
        ("/café/☃", "/café/☃"),
    ],
)
def test_escape_controls(text, expected):
    assert escape_controls(text) == expected
    assert len(escape_controls(text).splitlines()) == 1


def test_access_line_escapes_path_and_request_id(caplog):
    with caplog.at_level(logging.INFO, logger="azmlinfsrv"):
        log_access("GET", "/x\n2026-01-01 forged", 404, 1.5, "id\r\nforged")
    [record] = caplog.records
    assert record.getMessage() == "GET /x\\n2026-01-01 forged 404 1.500ms id\\r\\nforged"
    assert record.access["path"] == "/x\\n2026-01-01 forged"
    assert record.access["request_id"] == "id\\r\\nforged"


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/score", "/score"),
        ("/score?", "/score?"),
        ("/score?access_token=abc&version=2", "/score?access_token=<redacted>&version=<redacted>"),
        ("/score?flag&empty=&twice==x", "/score?flag&empty=<redacted>&twice=<redacted>"),
        ("/score?data=[[1,2]]&data=3", "/score?data=<redacted>&data=<redacted>"),
        ("/a?b?c=d", "/a?b?c=<redacted>"),
    ],
)
def test_redact_query_keeps_keys_and_drops_values(target, expected):
    assert redact_query(target) == expected


def test_access_line_redacts_query_values_in_both_formats(caplog):
    with caplog.at_level(logging.INFO, logger="azmlinfsrv"):
        log_access("POST", "/score?access_token=s3cr3t\n", 200, 1.0, None)
    [record] = caplog.records
    assert record.getMessage() == "POST /score?access_token=<redacted> 200 1.000ms -"
    assert record.access["path"] == "/score?access_token=<redacted>"


@pytest.mark.parametrize("formatter", [UtcFormatter(), JsonFormatter()], ids=["text", "json"])
def test_access_record_formats_as_a_logger_info_record_would(caplog, formatter):
    """log_access builds its record without Logger.info's stack walk; both formats print it byte for byte alike."""
    access = {"method": "GET", "path": "/score", "status": 200, "duration_ms": round(1.2345, 3), "request_id": "r1"}
    with caplog.at_level(logging.INFO, logger="azmlinfsrv"):
        log_access("GET", "/score", 200, 1.2345, "r1")
        access_logger.info("%s %s %d %.3fms %s", "GET", "/score", 200, 1.2345, "r1", extra={"access": access})
    ours, reference = caplog.records
    ours.created, ours.msecs = reference.created, reference.msecs
    assert (ours.levelname, ours.name, ours.process, ours.funcName) == ("INFO", "azmlinfsrv", os.getpid(), "log_access")
    assert formatter.format(ours) == formatter.format(reference)
