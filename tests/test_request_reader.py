"""kb_cli.request_reader: when is a request whole (so a gunicorn thread may take it)?"""
from __future__ import annotations

import json

import pytest

from kb_cli.request_reader import (MAX_BODY, MAX_HEAD, MORE, READY, TOO_LARGE, error_response, expects_continue,
                                   request_state)

HEAD = b"POST /api/suggest HTTP/1.1\r\nHost: kb\r\n"


@pytest.mark.parametrize("data, state", [
    (b"", MORE),
    (b"GET / HTTP/1.1\r\nHost: kb\r\n", MORE),
    (b"GET / HTTP/1.1\r\nHost: kb\r\n\r\n", READY),
    (b"GET / HTTP/1.1\r\nHost: kb\r\n\r\nGET /x HTT", READY),            # pipelined: the first is whole
    (HEAD + b"Content-Length: 5\r\n\r\nabcd", MORE),
    (HEAD + b"content-length : 5\r\n\r\nabcde", READY),
    (HEAD + b"Content-Length: x5\r\n\r\n", READY),                    # malformed: gunicorn answers 400
    (HEAD + b"Content-Length: %d\r\n\r\n" % (MAX_BODY + 1), READY),   # too large: the app answers 413 unread
    (HEAD + b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n", MORE),
    (HEAD + b"Transfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\n", MORE),
    (HEAD + b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", READY),
    (HEAD + b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-T: 1\r\n\r\n", READY),
    (HEAD + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n", READY),      # malformed chunk size
    (HEAD + b"Transfer-Encoding: chunked\r\n\r\n" + b"%x\r\n" % (MAX_BODY + 1), MORE),   # declared, not sent
    (HEAD + b"Transfer-Encoding: chunked\r\n\r\n" + b"%x\r\n" % (MAX_BODY + 9) + b"a" * (MAX_BODY + 1), READY),
    (b"GET / HTTP/1.1\r\nX: " + b"a" * MAX_HEAD, TOO_LARGE),
])
def test_request_state(data, state):
    assert request_state(data) == state


def test_an_endless_chunked_body_is_ready_once_over_the_limit():
    body = HEAD + b"Transfer-Encoding: chunked\r\n\r\n"
    assert request_state(body + b"1\r\na\r\n" * 1000) == MORE
    assert request_state(body + b"1\r\na\r\n" * (MAX_BODY + 1)) == READY


def test_expect_continue_and_error_response():
    assert expects_continue(HEAD + b"Expect: 100-Continue\r\nContent-Length: 3\r\n\r\n")
    assert not expects_continue(HEAD + b"Expect: 100-continue\r\n")
    raw = error_response(408, "Request Timeout", "slow", {"X-Content-Type-Options": "nosniff"})
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 Request Timeout\r\n") and b"\r\nX-Content-Type-Options: nosniff" in head
    assert json.loads(body) == {"error": {"code": "request_timeout", "message": "slow"}}
    assert b"Content-Length: %d\r\n" % len(body) in head


@pytest.mark.parametrize("request_bytes", [
    HEAD + b"Content-Length: 11\r\n\r\nhello world",
    HEAD + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n1;ext=1\r\n \r\n5\r\nworld\r\n0\r\nX: y\r\n\r\n",
    HEAD + b"Transfer-Encoding: chunked\r\n\r\n" + b"1\r\na\r\n" * 300,
])
def test_fed_byte_by_byte_the_memo_changes_no_verdict(request_bytes):
    """The worker calls request_state with a memo after every read; the verdicts must be those of a
    fresh call on the same bytes."""
    memo, buf = {}, bytearray()
    for byte in request_bytes:
        buf.append(byte)
        assert request_state(buf, memo) == request_state(bytes(buf)), bytes(buf)
