"""MkDocs adapter: calls the plain functions of this package from MkDocs events.

Event order (mkdocs/commands/build.py): on_config → on_files → on_nav → per page
(on_page_read_source, on_page_content) → on_env → page templates → on_post_build.
Problems are collected across events and raised together in ``on_env`` so one run lists every
problem; ``on_post_build`` writes the stable-id pages and the corpus export.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import os
from importlib import resources

from mkdocs.config import config_options as c
from mkdocs.config.base import Config
from mkdocs.exceptions import PluginError
from mkdocs.plugins import BasePlugin
from mkdocs.structure.files import File, Files
from mkdocs.utils import get_relative_url

from site_builder import audience, checks, export, links, list_check, pages, redirects, staff
from site_builder.errors import KBBuildError, Problem
from site_builder.schema import SERVICE_AREAS, Article
from site_builder.validate import validate_file

log = logging.getLogger("kb.site_builder")  # outside "mkdocs.*": review warnings don't fail --strict
ASSETS = ("kb.css", "staff.css", "redirect.js", "auth.js", "common.js", "search.js", "feedback.js", "assistant.js",
          "review.js", "gaps.js", "dashboard.js", "article.js")
# in this order: auth.js, then common.js; feedback.js before the assistant, which puts its widget on each card
SCRIPTS = ("auth.js", "common.js", "search.js", "feedback.js", "assistant.js", "review.js", "gaps.js", "dashboard.js",
           "article.js")
# talk to the search service: not in an audience build
STAFF_SCRIPTS = {"auth.js", "search.js", "feedback.js", "assistant.js", "review.js", "gaps.js", "dashboard.js"}
ASSISTANT_PAGE = """---
title: Ticket assistant
hide: [navigation, toc]
---

Paste a customer ticket: the search service suggests the sections that answer it, says why each
matched, and lets you link the article to the ticket.

<div class="kb-assistant" data-kb-assistant></div>

<noscript>The ticket assistant needs JavaScript and the search service (kb serve).</noscript>
"""


REVIEW_PAGE = """---
title: Review queue
hide: [navigation, toc]
---

What article owners should look at first: open flags, "not helpful" votes and reviews past their
date, most urgent first. Choose your team; resolve a flag once the article is fixed.

<div class="kb-review" data-kb-review></div>

## Knowledge gaps

What people searched for, or pasted from tickets, and did not find: the most frequent queries that
ended in "no confident match", by service area. Only queries asked by several people are shown.

<div class="kb-gaps" data-kb-gaps></div>

## Usage and outcomes

How much the ticket assistant is used, how often it finds a confident match, and which articles
resolved the most tickets (from the service's report; needs the review permission).

<div class="kb-dashboard" data-kb-dashboard></div>

<noscript>The review queue, the knowledge gaps and the usage figures need JavaScript and the search service (kb serve).</noscript>
"""
STAFF_PAGES = {"assistant.md": ASSISTANT_PAGE, "review.md": REVIEW_PAGE}   # generated in the staff build only


class KBPluginConfig(Config):
    export_name = c.Type(str, default=export.EXPORT_NAME)
    today = c.Type(str, default="")  # ISO date; empty means the real date (tests pin it)
    audience = c.Choice(("", *audience.AUDIENCES), default="")  # kb build --audience: only these articles


class KBPlugin(BasePlugin[KBPluginConfig]):
    def on_config(self, config):
        self.today = dt.date.fromisoformat(self.config.today) if self.config.today else dt.date.today()
        self.base = os.path.dirname(config.config_file_path or os.getcwd())
        self.problems: list[Problem] = []
        self.articles: dict[str, Article] = {}
        self.sources: dict[str, str] = {}
        self.bodies: dict[str, tuple[str, int]] = {}  # src_uri → (Markdown body, its first line)
        self.anchors: dict[str, set[str]] = {}
        self.sections: dict[str, list[export.Section]] = {}
        self.audience = self.config.audience or None
        self.withheld: set[str] = set()   # src paths and ids left out of an audience build
        self.scripts = [n for n in SCRIPTS if not (self.audience and n in STAFF_SCRIPTS)]
        if self.audience:
            config.site_name = f"{config.site_name} — {audience.EDITION[self.audience]}"
            config.repo_url = config.edit_uri = None   # the repository is internal: no header link, no edit links
        config.extra_css.extend(["assets/kb/kb.css", "assets/kb/staff.css"])
        config.extra_javascript.extend(f"assets/kb/{name}" for name in self.scripts)
        config.theme.dirs.insert(0, str(resources.files("site_builder").joinpath("overrides")))
        config.extra["kb_areas"] = dict(SERVICE_AREAS)
        return config

    def _display(self, config, src_uri: str) -> str:
        return os.path.relpath(os.path.join(config.docs_dir, src_uri), self.base).replace(os.sep, "/")

    def _read(self, file: File, config) -> None:
        with open(file.abs_src_path, "rb") as fh:
            result = validate_file(self._display(config, file.src_uri), file.src_uri, fh.read())
        self.problems.extend(result.problems)
        if self.audience:   # staff passages never reach an audience build's pages (staff.py)
            result.source, result.body = staff.strip(result.source), staff.blank(result.body)
        self.sources[file.src_uri] = result.source
        self.bodies[file.src_uri] = (result.body, result.body_line)
        if result.article:
            self.articles[file.src_uri] = result.article

    def on_files(self, files: Files, config) -> Files:
        for file in files.documentation_pages():
            self._read(file, config)
        arts = list(self.articles.values())
        self.problems.extend(checks.check_collection(arts, {a.src_path: self._display(config, a.src_path) for a in arts}))
        if self.audience:
            arts = self._withhold(files, config, arts)
        self.code_anchors = pages.code_anchors(arts)
        for art in arts:
            if art.review_overdue(self.today):
                log.warning("%s: last_reviewed: review overdue since %s — review the article and update last_reviewed",
                            self._display(config, art.src_path), art.review_due.isoformat())
        generated = {f"{area}/index.md": pages.area_index(area, arts) for area in SERVICE_AREAS
                     if any(a.service_area == area for a in pages.listed(arts))}
        generated.update({"tags.md": pages.tags_page(arts), "error-codes.md": pages.error_code_page(arts)})
        generated.update({"index.md": audience.CUSTOMER_HOME.format(site_name=config.site_name)} if self.audience
                         else STAFF_PAGES)
        for uri, content in generated.items():
            if files.get_file_from_path(uri):
                self.problems.append(Problem(self._display(config, uri), None, "file",
                                             "this page is generated by the build", "remove or rename the file"))
                files.remove(files.get_file_from_path(uri))
            files.append(File.generated(config, uri, content=content))
            self.sources[uri] = content
            self.bodies[uri] = (content, 1)
        for name in (n for n in ASSETS if n not in SCRIPTS or n in self.scripts):
            data = resources.files("site_builder").joinpath("assets", name).read_bytes()
            files.append(File.generated(config, f"assets/kb/{name}", content=data))
        config.nav = self._nav(files, arts)
        return files

    def _withhold(self, files: Files, config, arts: list[Article]) -> list[Article]:
        """Audience build: report links from shared to withheld articles, then drop every withheld
        article and the staff-written top-level pages (their text is not audience-tagged) from
        ``files`` before anything renders them; returns the shared articles."""
        self.problems.extend(audience.leak_problems(arts, self.audience, lambda src: self._display(config, src)))
        shared = [a for a in arts if audience.is_shared(a, self.audience)]
        keep = {a.src_path for a in shared}
        for file in list(files.documentation_pages()):
            if file.src_uri not in keep and not file.generated_by:
                files.remove(file)
                self.withheld.add(file.src_uri)
                self.sources.pop(file.src_uri, None)
                self.bodies.pop(file.src_uri, None)
        self.withheld.update(a.id for a in arts if a.src_path not in keep)
        self.articles = {a.src_path: a for a in shared}
        return shared

    def _nav(self, files: Files, arts: list[Article]) -> list:
        roots = sorted(f.src_uri for f in files.documentation_pages() if "/" not in f.src_uri
                       and f.src_uri not in ("index.md", "tags.md", "error-codes.md", *STAFF_PAGES))
        nav: list = [{"Home": "index.md"}] if files.get_file_from_path("index.md") else []
        nav += roots + ([] if self.audience else [{"Ticket assistant": "assistant.md"}, {"Review queue": "review.md"}])
        nav += [{"Error codes": "error-codes.md"}, {"Tags": "tags.md"}]
        listed = pages.listed(arts)
        for area, label in SERVICE_AREAS.items():
            members = [a.src_path for a in listed if a.service_area == area]
            if members:
                nav.append({label: [f"{area}/index.md", *members]})
        return nav

    def on_page_read_source(self, page, config):
        return self.sources.get(page.file.src_uri)

    def on_page_content(self, html: str, page, config, files: Files):
        src = page.file.src_uri
        self.anchors[src] = links.html_ids(html)
        body, body_line = self.bodies.get(src, ("", 1))
        self.problems.extend(checks.check_rendered_html(self._display(config, src), html, body, body_line))
        self.problems.extend(list_check.check_numbered_lists(self._display(config, src), html, body, body_line))
        art = self.articles.get(src)
        if art is None:
            return html
        toc_ids = {item.id for item in export.flatten_toc(page.toc)}
        self.sections[src] = export.extract_sections(html, toc_ids, art.title,
                                                     drop_staff=audience.audience_of(art) != "internal")
        by_id = {a.id: a for a in self.articles.values()}
        related = {}
        for rel in art.related:
            target = files.get_file_from_path(by_id[rel].src_path) if rel in by_id else None
            if target:
                related[rel] = (get_relative_url(target.url, page.url), by_id[rel].title)
        header = pages.metadata_header(art, self.today, related, self._header_links(page, config, files),
                                       staff=not self.audience)
        return header + html + ("" if self.audience else pages.feedback_footer(art))

    def _header_links(self, page, config, files: Files) -> pages.HeaderLinks:
        def url_of(src: str) -> str:
            target = files.get_file_from_path(src)
            return get_relative_url(target.url, page.url) if target else ""

        history = ""
        if self.audience:   # the repository is internal: no edit or history links
            return pages.HeaderLinks(error_codes=url_of("error-codes.md"), code_anchors=self.code_anchors, tags=url_of("tags.md"))
        if config.repo_url and page.edit_url:   # GitHub/GitLab style: …/edit/<branch>/<path> → …/commits/<branch>/<path>
            history = page.edit_url.replace("/edit/", "/commits/", 1).replace("/-/edit/", "/-/commits/", 1)
        return pages.HeaderLinks(error_codes=url_of("error-codes.md"), code_anchors=self.code_anchors,
                                 tags=url_of("tags.md"), edit=page.edit_url or "", history=history)

    def on_env(self, env, config, files: Files):
        known = links.LinkTargets(
            doc_pages={f.src_uri for f in files.documentation_pages()},
            other_files={f.src_uri for f in files if not f.is_documentation_page()},
            anchors=self.anchors,
            id_to_src={a.id: a.src_path for a in self.articles.values()}, withheld=self.withheld)
        for src, art in self.articles.items():
            body = staff.blank(art.body) if self.audience else art.body   # passages are not rendered
            self.problems.extend(links.check_links(self._display(config, src), src, body, art.body_line, known))
        if self.problems:  # the source and the rendered HTML check may report the same thing
            raise PluginError(str(KBBuildError(list(dict.fromkeys(self.problems)))))
        return env

    def on_post_build(self, config) -> None:
        files = {a.src_path: a for a in self.articles.values()}
        records = []
        for src, art in files.items():
            url = File(src, config.docs_dir, config.site_dir, config.use_directory_urls).url
            stable = redirects.stable_path(art.id)
            target = get_relative_url(url, stable)
            script = get_relative_url("assets/kb/redirect.js", stable + "index.html")
            out = os.path.join(config.site_dir, stable, "index.html")
            os.makedirs(os.path.dirname(out), exist_ok=True)
            with open(out, "w", encoding="utf-8") as fh:
                fh.write(redirects.redirect_page(art.id, art.title, target, script))
            if art.status != "archived":
                records.append(export.article_record(art, url, stable, self.sections.get(src, []), self.today))
        with open(os.path.join(config.site_dir, "assets", "kb", "ids.json"), "w", encoding="utf-8") as fh:
            json.dump(sorted(a.id for a in self.articles.values()), fh)   # the 404 page resolves /id/<id>/ in any case
        built_at = dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()
        with open(os.path.join(config.site_dir, self.config.export_name), "w", encoding="utf-8") as fh:
            fh.write(export.export_document(records, built_at))
