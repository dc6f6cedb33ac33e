"""MkDocs adapter: calls the plain functions of this package from MkDocs events.

Event order (mkdocs/commands/build.py): on_config → on_files → on_nav → per page
(on_page_read_source, on_page_content) → on_env → page templates → on_post_build.
Problems are collected across events and raised together in ``on_env`` so one run lists every
problem; ``on_post_build`` writes the stable-id pages and the corpus export.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
from importlib import resources

import yaml
from mkdocs.config import config_options as c
from mkdocs.config.base import Config
from mkdocs.exceptions import PluginError
from mkdocs.plugins import BasePlugin
from mkdocs.structure.files import File, Files
from mkdocs.utils import get_relative_url

from site_builder import checks, export, links, pages, redirects
from site_builder.errors import KBBuildError, Problem
from site_builder.frontmatter import decode, parse
from site_builder.schema import SERVICE_AREAS, Article, validate_meta

log = logging.getLogger("kb.site_builder")  # outside "mkdocs.*": review warnings don't fail --strict
ASSETS = ("kb.css", "redirect.js", "search.js", "assistant.js")
ASSISTANT_PAGE = """---
title: Ticket assistant
---

Paste a customer ticket: the search service suggests the sections that answer it, says why each
matched, and lets you link the article to the ticket.

<div class="kb-assistant" data-kb-assistant></div>

<noscript>The ticket assistant needs JavaScript and the search service (kb serve).</noscript>
"""


class KBPluginConfig(Config):
    export_name = c.Type(str, default=export.EXPORT_NAME)
    today = c.Type(str, default="")  # ISO date; empty means the real date (tests pin it)


class KBPlugin(BasePlugin[KBPluginConfig]):
    def on_config(self, config):
        self.today = dt.date.fromisoformat(self.config.today) if self.config.today else dt.date.today()
        self.base = os.path.dirname(config.config_file_path or os.getcwd())
        self.problems: list[Problem] = []
        self.articles: dict[str, Article] = {}
        self.sources: dict[str, str] = {}
        self.anchors: dict[str, set[str]] = {}
        self.sections: dict[str, list[export.Section]] = {}
        config.extra_css.append("assets/kb/kb.css")
        config.extra_javascript.extend(["assets/kb/search.js", "assets/kb/assistant.js"])
        config.theme.dirs.insert(0, str(resources.files("site_builder").joinpath("overrides")))
        config.extra["kb_areas"] = dict(SERVICE_AREAS)
        return config

    def _display(self, config, src_uri: str) -> str:
        return os.path.relpath(os.path.join(config.docs_dir, src_uri), self.base).replace(os.sep, "/")

    def _read(self, file: File, config) -> None:
        shown = self._display(config, file.src_uri)
        with open(file.abs_src_path, "rb") as fh:
            text, problem = decode(shown, fh.read())
        if problem:
            self.problems.append(problem)
            self.sources[file.src_uri] = ""
            return
        if "/" not in file.src_uri:  # a site page such as index.md: not an article
            self.problems.extend(checks.check_active_html(shown, text, 1))
            self.sources[file.src_uri] = text
            return
        parsed = parse(shown, text)
        self.problems.extend(parsed.problems)
        self.sources[file.src_uri] = parsed.body
        article_type = None
        if parsed.meta is not None:
            art, found = validate_meta(shown, file.src_uri, parsed.meta, parsed.key_lines, parsed.body, parsed.body_line)
            self.problems.extend(found)
            article_type = parsed.meta.get("type")
            if art:
                self.articles[file.src_uri] = art
                head = {"title": art.title, **({"description": art.description} if art.description else {})}
                self.sources[file.src_uri] = "---\n" + yaml.safe_dump(head, allow_unicode=True) + "---\n" + parsed.body
        self.problems.extend(checks.check_body(shown, article_type, parsed.body, parsed.body_line))

    def on_files(self, files: Files, config) -> Files:
        for file in files.documentation_pages():
            self._read(file, config)
        arts = list(self.articles.values())
        self.problems.extend(checks.check_collection(arts, {a.src_path: self._display(config, a.src_path) for a in arts}))
        for art in arts:
            if art.review_overdue(self.today):
                log.warning("%s: last_reviewed: review overdue since %s — review the article and update last_reviewed",
                            self._display(config, art.src_path), art.review_due.isoformat())
        generated = {f"{area}/index.md": pages.area_index(area, arts) for area in SERVICE_AREAS
                     if any(a.service_area == area for a in pages.listed(arts))}
        generated.update({"tags.md": pages.tags_page(arts), "error-codes.md": pages.error_code_page(arts),
                          "assistant.md": ASSISTANT_PAGE})
        for uri, content in generated.items():
            if files.get_file_from_path(uri):
                self.problems.append(Problem(self._display(config, uri), None, "file",
                                             "this page is generated by the build", "remove or rename the file"))
                files.remove(files.get_file_from_path(uri))
            files.append(File.generated(config, uri, content=content))
            self.sources[uri] = content
        for name in ASSETS:
            data = resources.files("site_builder").joinpath("assets", name).read_bytes()
            files.append(File.generated(config, f"assets/kb/{name}", content=data))
        config.nav = self._nav(files, arts)
        return files

    def _nav(self, files: Files, arts: list[Article]) -> list:
        roots = sorted(f.src_uri for f in files.documentation_pages() if "/" not in f.src_uri
                       and f.src_uri not in ("index.md", "tags.md", "error-codes.md", "assistant.md"))
        nav: list = [{"Home": "index.md"}] if files.get_file_from_path("index.md") else []
        nav += roots + [{"Ticket assistant": "assistant.md"}, {"Error codes": "error-codes.md"}, {"Tags": "tags.md"}]
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
        art = self.articles.get(src)
        if art is None:
            return html
        toc_ids = {item.id for item in export.flatten_toc(page.toc)}
        self.sections[src] = export.extract_sections(html, toc_ids, art.title)
        by_id = {a.id: a for a in self.articles.values()}
        related = {}
        for rel in art.related:
            target = files.get_file_from_path(by_id[rel].src_path) if rel in by_id else None
            if target:
                related[rel] = (get_relative_url(target.url, page.url), by_id[rel].title)
        return pages.metadata_header(art, self.today, related) + html

    def on_env(self, env, config, files: Files):
        known = links.LinkTargets(
            doc_pages={f.src_uri for f in files.documentation_pages()},
            other_files={f.src_uri for f in files if not f.is_documentation_page()},
            anchors=self.anchors,
            id_to_src={a.id: a.src_path for a in self.articles.values()})
        for src, art in self.articles.items():
            self.problems.extend(links.check_links(self._display(config, src), src, art.body, art.body_line, known))
        if self.problems:
            raise PluginError(str(KBBuildError(self.problems)))
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
        built_at = dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()
        with open(os.path.join(config.site_dir, self.config.export_name), "w", encoding="utf-8") as fh:
            fh.write(export.export_document(records, built_at))
