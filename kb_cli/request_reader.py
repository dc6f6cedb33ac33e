"""Is a whole HTTP/1 request in this buffer yet? And the JSON error responses the server itself sends.

``kb_cli.gunicorn_worker`` reads each request's head and body in gthread's main loop, without a
thread, and hands the connection to a thread only when :func:`request_state` says the request is
complete (or can be answered without reading more, such as a body larger than the app accepts).
This module is pure: bytes in, a verdict out.
"""
from __future__ import annotations

import json

MAX_HEAD = 32 * 1024        # request line + header fields; gunicorn's own limits (4094-byte line,
                            # 8190-byte fields) answer most oversize heads before this does
MAX_BODY = 64 * 1024        # the app's MAX_CONTENT_LENGTH; a larger body is answered 413 unread
MAX_BUFFER = MAX_HEAD + 8 * MAX_BODY   # a chunked body's framing may be several times its payload

MORE, READY, TOO_LARGE = "more", "ready", "too_large"

ERROR_CSP = "default-src 'none'; frame-ancestors 'none'"


def request_state(buf: bytes | bytearray, memo: dict | None = None) -> str:
    """READY when ``buf`` holds a request's head and its whole body (or enough for the server to
    answer without reading more: a malformed or oversize request), MORE when it needs more bytes,
    TOO_LARGE when the head alone exceeds MAX_HEAD.

    ``memo`` (one dict per request, while ``buf`` only grows) keeps what earlier calls learnt — where
    the head search stopped, the body framing, the last whole chunk — so a request that arrives in
    many small pieces costs linear, not quadratic, work."""
    memo = {} if memo is None else memo
    if "start" not in memo:
        end = buf.find(b"\r\n\r\n", memo.get("searched", 0))
        if end < 0:
            memo["searched"] = max(0, len(buf) - 3)
            return TOO_LARGE if len(buf) > MAX_HEAD else MORE
        if end > MAX_HEAD:
            return TOO_LARGE
        memo["length"], memo["chunked"] = _body_framing(bytes(buf[:end]))
        memo["start"] = end + 4
    if len(buf) >= MAX_BUFFER:
        return READY
    length, start = memo["length"], memo["start"]
    if memo["chunked"]:
        return READY if _chunked_complete(buf, start, memo) else MORE
    if length is None or length > MAX_BODY:
        return READY
    return READY if len(buf) - start >= length else MORE


def _body_framing(head: bytes) -> tuple[int | None, bool]:
    """(Content-Length or None, chunked?). Anything malformed is (None, False): READY at once, and
    gunicorn's parser answers it 400."""
    length, chunked = None, False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name, value = name.strip().lower(), value.strip().lower()
        if name == b"content-length":
            if not value.isdigit():
                return None, False
            length = int(value)
        elif name == b"transfer-encoding":
            chunked = value.endswith(b"chunked")
    return length, chunked


def _chunked_complete(buf: bytes | bytearray, pos: int, memo: dict) -> bool:
    """True when the chunked body from ``pos`` has its last chunk and trailer section, or is
    malformed, or more than MAX_BODY of it is here (answerable without reading more: the app reads
    at most MAX_BODY + 1 bytes before its 413). A chunk merely declared larger is not enough: the
    thread would wait for its bytes. Resumes after the last whole chunk an earlier call saw."""
    pos, total = memo.get("chunk_pos", pos), memo.get("chunk_total", 0)
    while True:
        eol = buf.find(b"\r\n", pos)
        if eol < 0:
            return len(buf) - pos > 1024   # a chunk-size line this long is malformed
        try:
            size = int(bytes(buf[pos:eol]).split(b";")[0].strip(), 16)
        except ValueError:
            return True
        if size == 0:
            return buf.find(b"\r\n\r\n", eol) >= 0   # the empty trailer section (or trailers) ends it
        start = eol + 2
        if start + size + 2 > len(buf):   # this chunk is not all here: bytes that did arrive count, not its size line
            return total + len(buf) - start > MAX_BODY
        total += size
        if total > MAX_BODY:
            return True
        pos = start + size + 2
        memo["chunk_pos"], memo["chunk_total"] = pos, total


def error_response(status: int, reason: str, message: str, security_headers: dict[str, str]) -> bytes:
    """A complete ``Connection: close`` response in the API's one error shape."""
    code = reason.lower().replace(" ", "_").replace("-", "_")
    body = json.dumps({"error": {"code": code, "message": message[:300]}}, separators=(",", ":")).encode()
    headers = [f"HTTP/1.1 {status} {reason}", "Content-Type: application/json",
               f"Content-Length: {len(body)}", "Connection: close", "Cache-Control: no-store",
               f"Content-Security-Policy: {ERROR_CSP}",
               *(f"{key}: {value}" for key, value in security_headers.items())]
    return ("\r\n".join(headers) + "\r\n\r\n").encode("latin-1", "replace") + body


def expects_continue(buf: bytes | bytearray) -> bool:
    """The head is complete and asks for ``100 Continue`` before the client sends its body."""
    end = buf.find(b"\r\n\r\n")
    return end >= 0 and b"\r\nexpect: 100-continue" in bytes(buf[:end]).lower()
