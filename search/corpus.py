"""Read the corpus export (contract 1) written by the site build. Never parses Markdown."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from search.errors import CorpusError

SUPPORTED_SCHEMA = 1


@dataclass(frozen=True)
class Section:
    heading: str
    level: int
    anchor: str
    text: str


@dataclass(frozen=True)
class Article:
    id: str
    title: str
    type: str
    service_area: str
    url: str
    stable_url: str
    tags: tuple[str, ...] = ()
    error_codes: tuple[str, ...] = ()
    related_alerts: tuple[str, ...] = ()
    description: str | None = None
    status: str = "validated"
    audience: str | None = None     # internal | partner | customer; None (not declared) is treated as internal
    owner: str = ""                 # the owning team (front matter 'owner'); '' in an older export
    last_reviewed: str = ""         # ISO date
    review_interval_days: int = 0   # 0: unknown (an older export)
    sections: tuple[Section, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Corpus:
    articles: tuple[Article, ...]
    sha256: str  # of the export's articles (not its build time), identifies the content

    def by_id(self) -> dict[str, Article]:
        return {a.id: a for a in self.articles}


def _article(raw: dict) -> Article:
    sections = tuple(Section(s["heading"], int(s["level"]), s["anchor"], s["text"]) for s in raw["sections"])
    return Article(id=raw["id"], title=raw["title"], type=raw["type"], service_area=raw["service_area"],
                   url=raw["url"], stable_url=raw["stable_url"], tags=tuple(raw.get("tags") or ()),
                   error_codes=tuple(raw.get("error_codes") or ()),
                   related_alerts=tuple(raw.get("related_alerts") or ()),
                   description=raw.get("description"), status=raw.get("status", "validated"),
                   audience=raw.get("audience"), owner=str(raw.get("owner") or ""),
                   last_reviewed=str(raw.get("last_reviewed") or ""),
                   review_interval_days=int(raw.get("review_interval_days") or 0), sections=sections)


def parse_corpus(doc: dict, source: str = "corpus export") -> Corpus:
    """Validate and convert an export document; raises CorpusError naming what is wrong."""
    if not isinstance(doc, dict) or doc.get("schema_version") != SUPPORTED_SCHEMA:
        found = doc.get("schema_version") if isinstance(doc, dict) else None
        raise CorpusError(f"{source}: schema_version is {found!r}, this version reads {SUPPORTED_SCHEMA}; "
                          "rebuild the site with 'kb build'")
    try:
        articles = tuple(_article(a) for a in doc["articles"])
    except (KeyError, TypeError, ValueError) as exc:
        raise CorpusError(f"{source}: malformed article record ({exc}); rebuild the site with 'kb build'") from None
    canonical = json.dumps(doc["articles"], sort_keys=True, ensure_ascii=False).encode("utf-8")
    return Corpus(articles, hashlib.sha256(canonical).hexdigest())


def load_corpus(path: Path) -> Corpus:
    """Load ``kb-corpus.json``; raises CorpusError when it is missing or unreadable."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CorpusError(f"{path}: corpus export not found; run 'kb build' first") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CorpusError(f"{path}: cannot read the corpus export ({exc}); rebuild with 'kb build'") from None
    return parse_corpus(doc, str(path))
