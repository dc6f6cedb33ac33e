"""Ticket text → a search query: drop greetings, signatures, quoted replies and boilerplate; keep the
customer's description; pull identifiers out of pasted logs, stack traces and HTTP dumps.

Pure functions, no model. ``clean_ticket`` returns what it kept and what it removed, so the
assistant can show its work.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from search import identifier_filters

GREETING_RE = re.compile(r"^\s*(hi|hello|hey|dear|good (morning|afternoon|evening)|greetings|hallo|bonjour|hola)\b[^\n]{0,60}$", re.I)
# Possessive quantifiers (*+) where a run of spaces or punctuation cannot be split another way: the
# plain \s*[,.!]*\s*$ tried every split of a long run of spaces before failing (quadratic: a 20,000
# character line of "thanks" + spaces + "x" took 7 s). Same lines match as before.
SIGN_OFF_RE = re.compile(r"^\s*+(thanks?( you)?( so much| a lot| in advance)?|many thanks|regards|best( regards)?|kind regards|"
                         r"br|cheers|sincerely|thx|ty|merci|gracias|--+|—+|__+)\s*+[,.!]*+\s*+$", re.I)
QUOTE_HEADER_RE = re.compile(r"^\s*(on .{3,120} wrote:|-{2,} ?original message ?-{2,}|from: .+|le .+ a écrit ?:|"
                             r"am (?>.+? schrieb ).+:)\s*+$", re.I)   # the first " schrieb " decides (atomic): was quadratic
BOILERPLATE_RE = re.compile(r"(sent from my (iphone|android|ipad|mobile)|this (e-?mail|message) (and any attachments )?"
                            r"(is|are|may be) confidential|please consider the environment|unsubscribe|"
                            r"^\s*+(ticket|case|priority|severity|product|customer|account|submitted|requester|"
                            r"browser|os|plan)\s*+(id|#|no\.?)?\s*+:\s*+\S{0,40}+\s*+$)", re.I)
# One leading ^ (every alternative was anchored): the engine then tries only the line's start
# instead of failing every alternative at every position (a third of a 10,000-line ticket's cleaning).
LOG_LINE_RE = re.compile(r"^\s*(?:(at [\w$.<>]+\(.*\)\s*$)|(\d{4}-\d\d-\d\d[ T]\d\d:\d\d)|(\[?\d\d:\d\d:\d\d)|"
                         r"([<>*] )|([\w-]+: [^ ]+$)|((HTTP/\d|GET |POST |PUT |HEAD |OPTIONS ))|"
                         r"((Caused by|Exception|Traceback|E/|W/|I/|D/)\b)|([{}\[\]]))", re.I)
LOG_PUNCTUATION_RE = re.compile(r"[=/{}|;]")


@dataclass
class CleanTicket:
    query: str                        # what to search for
    description: str                  # the customer's own words, cleaned
    identifiers: list[str]            # identifiers found anywhere, incl. logs, as the ticket spells them
    removed: list[str] = field(default_factory=list)  # kinds of text that were dropped
    # what the lexical and identifier lanes read: the message's prose and log lines and the quoted
    # earlier replies; greetings, signatures and boilerplate (disclaimers, "sent from my …") are not in it
    searchable: str = ""


def _cut_quoted(lines: list[str], removed: list[str]) -> tuple[list[str], list[str]]:
    """(the new message's lines, the quoted earlier replies' lines)."""
    kept, quoted = [], []
    for n, line in enumerate(lines):
        if QUOTE_HEADER_RE.match(line):
            removed.append("quoted earlier reply")
            quoted.extend(lines[n + 1:])
            break
        if line.lstrip().startswith(">"):
            if "quoted earlier reply" not in removed:
                removed.append("quoted earlier reply")
            quoted.append(line.lstrip().lstrip(">"))
            continue
        kept.append(line)
    return kept, quoted


def _cut_signature(lines: list[str], removed: list[str]) -> list[str]:
    for i in range(len(lines) - 1, max(len(lines) - 9, -1), -1):   # a sign-off among the last 8 lines
        if SIGN_OFF_RE.match(lines[i]):
            removed.append("signature")
            return lines[:i]
    return lines


def _sort_lines(lines: list[str], removed: list[str]) -> tuple[list[str], list[str]]:
    """(prose, log lines) of the new message; greetings and boilerplate lines are dropped."""
    prose, logs = [], []
    for line in lines:
        if not line.strip():
            continue
        if not prose and GREETING_RE.match(line):
            removed.append("greeting")
        elif BOILERPLATE_RE.search(line):
            removed.append("boilerplate")
        elif LOG_LINE_RE.search(line) or len(LOG_PUNCTUATION_RE.findall(line)) > 6:
            logs.append(line)
        else:
            prose.append(line.strip())
    return prose, logs


def clean_ticket(body: str, subject: str = "") -> CleanTicket:
    """Split a pasted ticket into the searchable description and the identifiers of its logs.
    Identifiers exclude stack-frame names and log keywords (``identifier_filters``)."""
    removed: list[str] = []
    lines, quoted = _cut_quoted(body.replace("\r\n", "\n").split("\n"), removed)
    lines = _cut_signature(lines, removed)
    prose, logs = _sort_lines(lines, removed)
    source = "\n".join([subject, *prose, *logs])
    keys = identifier_filters.ticket_identifiers(source)
    spelled = identifier_filters.as_written(source, keys)
    found = sorted({spelled.get(key, key) for key in keys}, key=str.lower)
    description = " ".join(p for p in [subject.strip(), *prose] if p)
    log_words = " ".join(found)
    query = (description + " " + log_words).strip() or " ".join(logs)[:2000]
    if logs:
        removed.append("log lines (identifiers kept)")
    searchable = "\n".join(p for p in [subject.strip(), *prose, *logs, *quoted] if p.strip())
    if not searchable:   # everything looked like boilerplate ("how do I unsubscribe …"): search it all
        searchable = query = " ".join(f"{subject}\n{body}".split())
    return CleanTicket(query=query, description=description, identifiers=found,
                       removed=sorted(set(removed)), searchable=searchable)


@dataclass
class TicketQuery:
    query: str          # the ticket minus what the cleaner removed: what the lexical and identifier lanes read
    focus: str          # the cleaned description + identifiers: what the dense lane embeds
    cleaned: CleanTicket


def ticket_query(body: str, subject: str = "", limit: int = 20000) -> TicketQuery:
    """How the ticket assistant (and ``kb eval`` on tickets) searches a ticket: the lexical and
    identifier lanes read the ticket without greetings, signatures and boilerplate (pasted logs,
    stack traces and quoted replies carry codes and exact wording; a removed "sent from my iPhone"
    must not match an iPhone article); the embedding gets the cleaned description, since the model
    reads only its first 256 tokens and a log dump would fill them. Measured on eval/tickets.jsonl
    (docs/retrieval.md)."""
    cleaned = clean_ticket(body, subject)
    return TicketQuery(cleaned.searchable[:limit], cleaned.query[:limit], cleaned)
