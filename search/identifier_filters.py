"""What in a ticket is *not* an identifier, and how the ticket spelled the ones that are.

Pasted logs and stack traces carry error codes and exception names, but also words that only
describe where the code ran or how the log is laid out:

* **stack frames** — ``at android.os.Looper.loopOnce(Looper.java:201)``,
  ``at verifySv (/app/src/hooks/sv.js:41:17)``, ``File "app.py", line 12, in handler``: the method
  and class names of a frame say where the program was, not what went wrong (the exception line
  above the frames does, and is kept);
* **log keywords** — a log's own fields with a flag or level as value (``fatal: true``,
  ``fatal=false``, ``level: error``): every hls.js error object has one.

Pure functions, no model; the identifier *patterns* stay in ``search.identifiers``.
"""
from __future__ import annotations

import re
from collections.abc import Iterable

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
LOG_LEVELS = frozenset("fatal error err warn warning info debug trace verbose notice critical".split())


def without_frames(text: str) -> str:
    """``text`` with its stack-frame lines removed (exception lines, messages and prose kept)."""
    return FRAME_RE.sub("", text) if "at " in text or "File \"" in text or "0x" in text else text


def is_log_word(key: str) -> bool:
    """A normalized identifier key that is a log's own vocabulary: a field with a flag or level
    as its value (``fatal: true``) or a bare log level."""
    return key in LOG_LEVELS or bool(LOG_WORD_RE.fullmatch(key))


def ticket_identifiers(text: str) -> set[str]:
    """Identifier keys of a ticket's text, without stack-frame names and log keywords."""
    return {key for key in identifiers.extract(without_frames(text)) if not is_log_word(key)}


def _literal(key: str) -> re.Pattern:
    """``key`` as it may be written: any case, any run of white space where it has one."""
    return re.compile(r"(?<![\w])" + r"\s+".join(map(re.escape, key.split(" "))) + r"(?![\w])", re.I)


def as_written(text: str, keys: Iterable[str]) -> dict[str, str]:
    """Each key's first spelling in ``text`` (``fragLoadError`` for ``fragloaderror``, ``HTTP/2 429``
    for ``http 429``); a key the text does not spell is left out."""
    wanted = set(keys)
    spelled: dict[str, str] = {}
    for kind, pattern in identifiers.PATTERNS:
        if not wanted - spelled.keys():
            break
        for match in pattern.finditer(text):
            key = f"http {match.group(1)}" if kind == "http" else identifiers.normalize(match.group(0))
            if key in wanted and key not in spelled:
                spelled[key] = " ".join(match.group(0).split())
    for key in wanted - spelled.keys():   # declared phrases and bare numbers
        found = _literal(key).search(text) if key else None
        if found:
            spelled[key] = " ".join(found.group(0).split())
    return spelled
