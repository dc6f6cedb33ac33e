"""What in a ticket is *not* an identifier, and how the ticket spelled the ones that are.

Pasted logs and stack traces carry error codes and exception names, but also words that only
describe where the code ran or how the log is laid out:

* **stack frames** — ``at android.os.Looper.loopOnce(Looper.java:201)``,
  ``at verifySv (/app/src/hooks/sv.js:41:17)``, ``File "app.py", line 12, in handler``: the method
  and class names of a frame say where the program was, not what went wrong (the exception line
  above the frames does, and is kept);
* **log keywords** — a log's own fields with a flag or level as value (``fatal: true``,
  ``fatal=false``, ``level: error``): every hls.js error object has one;
* **method calls** — ``hls.stopLoad()``, ``player.attachMedia(video)``: the API the code called,
  not an error it got.

Pure functions, no model; the identifier *patterns* stay in ``search.identifiers``.
"""
from __future__ import annotations

import re
from collections.abc import Container, Iterable

from search import identifiers

# one stack frame per line: Java/Kotlin ("at a.b.C.m(C.java:12)"), Node ("at f (file.js:1:2)",
# "at file.js:1:2"), Python ('File "…", line N, in f') and native/iOS crash frames
# ("3  MyApp  0x00000001 -[A b] + 12"); "... 12 more". A prose line starting with "at" is not one.
FRAME_RE = re.compile(r"^[ \t]*(?:at [\w$<>/-]+(?:\.[\w$<>/-]+)+\([^()\n]{0,300}\)"
                      r"|at (?:new |async )?[\w$.<>\[\] ]{1,200}? \([^()\n]{0,300}:(?:\d+|\.\.\.)[^()\n]{0,20}\)"
                      r"|at [^\s()]{1,300}:\d+:\d+"
                      r"|File \"[^\n\"]{1,300}\", line \d+(?:, in [^\n]{1,200})?"
                      r"|\d{1,4}[ \t]+\S{1,100}[ \t]+0x[0-9a-fA-F]{4,16}\b[^\n]{0,300}"
                      r"|\.\.\. \d+ more)[ \t]*$", re.M)
LOG_VALUES = "true|false|null|none|nil|undefined|yes|no|on|off|fatal|error|warn|warning|info|debug|trace"
LOG_WORD_RE = re.compile(r"[a-z_][a-z0-9_.]{0,40}\s*[:=]\s*\"?(?:" + LOG_VALUES + r")\"?")
METHOD_CALL_RE = re.compile(r"\.[ \t]*+([a-z][\w$]{0,100}+)[ \t]*+\(")   # obj.method( — not NETWORK.BAD_HTTP_STATUS (
LOG_LEVELS = frozenset("fatal error err warn warning info debug trace verbose notice critical".split())


def without_frames(text: str) -> str:
    """``text`` with its stack-frame lines removed (exception lines, messages and prose kept)."""
    return FRAME_RE.sub("", text) if "at " in text or "File \"" in text or "0x" in text else text


def is_log_word(key: str) -> bool:
    """A normalized identifier key that is a log's own vocabulary: a field with a flag or level
    as its value (``fatal: true``) or a bare log level."""
    return key in LOG_LEVELS or bool(LOG_WORD_RE.fullmatch(key))


def method_calls(text: str) -> set[str]:
    """Normalized names of the methods ``text`` calls (``hls.stopLoad()`` → ``stopload``)."""
    return {name.lower() for name in METHOD_CALL_RE.findall(text)} if "(" in text else set()


def not_identifier(text: str, keep: Container[str] = ()):
    """The test for a key of ``text`` that is not an identifier: a log keyword or a called method
    (unless ``keep`` holds it: a code an article declares counts however it is written)."""
    calls = method_calls(text)
    return lambda key: is_log_word(key) or (key in calls and key not in keep)


def ticket_identifiers(text: str) -> set[str]:
    """Identifier keys of a ticket's text, without stack-frame names, log keywords and called methods."""
    text = without_frames(text)
    skip = not_identifier(text)
    return {key for key in identifiers.extract(text) if not skip(key)}


def _literal(key: str) -> re.Pattern:
    """``key`` as it may be written: any case, any run of white space where it has one."""
    return re.compile(r"(?<![\w])" + r"\s+".join(map(re.escape, key.split(" "))) + r"(?![\w])", re.I)


def _word_char(char: str) -> bool:
    return char.isalnum() or char == "_"


def _find(low: str, text: str, key: str) -> str | None:
    """``key``'s first whole-word occurrence in ``text`` (``low`` is ``text`` lower-cased, same
    length), as ``text`` writes it; None if there is none."""
    start = low.find(key)
    while start != -1:
        end = start + len(key)
        if (start == 0 or not _word_char(low[start - 1])) and (end == len(low) or not _word_char(low[end])):
            return text[start:end]
        start = low.find(key, start + 1)
    return None


def as_written(text: str, keys: Iterable[str]) -> dict[str, str]:
    """Each key's first spelling in ``text`` (``fragLoadError`` for ``fragloaderror``, ``HTTP/2 429``
    for ``http 429``); a key the text does not spell is left out."""
    wanted = set(keys)
    by_pattern = identifiers.spelled(text)   # one pass of the patterns, shared with extract()
    spelled = {key: by_pattern[key] for key in wanted if key in by_pattern}
    low = text.lower()
    same_length = len(low) == len(text)   # lower() may lengthen a few Unicode letters
    for key in wanted - spelled.keys():   # declared phrases and bare numbers
        found = _find(low, text, key) if key and same_length else None
        if found is None and key and (" " in key or not same_length):   # other white space
            match = _literal(key).search(text)
            found = match.group(0) if match else None
        if found:
            spelled[key] = " ".join(found.split())
    return spelled
