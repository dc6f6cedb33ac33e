/* KB search box: queries the search service (/api/search) as you type and shows its results inside
   mkdocs-material's own result list (its markup and classes: background, scrolling, phone layout,
   focus styles). Up/Down and Tab move through the visible results, Enter opens the selected (or
   first) one — also when typed before the results arrived —, Esc closes, Ctrl/Cmd+K and "/" open.
   Filter chips (area, type, "tag:NAME" typed in the box), a match count, a distinct "no confident
   match" state, recent searches on an empty box. When the service is unreachable or does not
   answer within SEARCH_TIMEOUT_MS, the built-in offline search is shown, with a notice. */
(function () {
  "use strict";
  var KB = window.KB, el = KB.el;
  var SEARCH_TIMEOUT_MS = 4000, RETRY_AFTER_MS = 15000, PAGE = 10, RECENT_KEY = "kb-recent-searches", RECENT_MAX = 6;
  var TAG_RE = /(^|\s)tag:(\S+)/i;

  function loadRecent() {
    try { var v = JSON.parse(localStorage.getItem(RECENT_KEY) || "[]"); return Array.isArray(v) ? v.slice(0, RECENT_MAX) : []; }
    catch (e) { return []; }
  }

  function saveRecent(q) {
    if (!q || q.length < 2) return;
    var list = loadRecent().filter(function (x) { return x !== q; });
    list.unshift(q.slice(0, 200));
    try { localStorage.setItem(RECENT_KEY, JSON.stringify(list.slice(0, RECENT_MAX))); } catch (e) { /* storage off */ }
  }

  function withHighlight(url, q) {
    var u = new URL(url, KB.root);
    var words = KB.terms(q.replace(TAG_RE, " "));
    if (words.length) u.searchParams.set("h", words.join(" "));
    return u.toString();
  }

  function resultItem(r, q, weak) {
    var li = el("li", { "class": "md-search-result__item" + (weak ? " kb-result--weak" : ""), "data-kb-article": r.article_id });
    var a = el("a", { href: withHighlight(r.best.url, q), "class": "md-search-result__link", tabindex: "-1" });
    var art = el("article", { "class": "md-search-result__article md-typeset", "data-md-score": r.score.toFixed(3) });
    art.appendChild(el("div", { "class": "md-search-result__icon md-icon" }));
    art.appendChild(KB.highlightInto(el("h1"), r.title, q));
    var crumb = el("div", { "class": "kb-crumb" });
    crumb.appendChild(el("span", { "class": "kb-badge kb-type-" + r.type }, r.type));
    crumb.appendChild(el("span", { "class": "kb-badge kb-area" }, r.service_area));
    crumb.appendChild(el("span", { "class": "kb-search__id" }, r.article_id));
    var path = (r.best.heading_path && r.best.heading_path.length ? r.best.heading_path : [r.best.heading]).filter(Boolean);
    // page (the title above) › section: the section's heading path
    crumb.appendChild(el("span", { "class": "kb-crumb__path" }, "› " + path.filter(function (h) { return h !== r.title; }).join(" › ")));
    art.appendChild(crumb);
    art.appendChild(KB.snippetInto(el("p", { "class": "kb-snippet" }), r.best.snippet));
    if (r.best.identifiers.length) art.appendChild(el("p", { "class": "kb-search__ids" }, "Matched identifiers: " + r.best.identifiers.join(", ")));
    a.appendChild(art);
    li.appendChild(a);
    r.more.forEach(function (m) {
      var more = el("a", { href: withHighlight(m.url, q), "class": "md-search-result__link kb-more", tabindex: "-1" });
      var inner = el("article", { "class": "md-search-result__article md-typeset" });
      inner.appendChild(KB.highlightInto(el("h2"), "§ " + m.heading, q));
      more.appendChild(inner);
      li.appendChild(more);
    });
    return li;
  }

  function recentItem(q) {
    var li = el("li", { "class": "md-search-result__item kb-recent" });
    var a = el("a", { href: "#", "class": "md-search-result__link", tabindex: "-1", "data-kb-recent": q });
    var art = el("article", { "class": "md-search-result__article md-typeset" });
    art.appendChild(el("h2", {}, q));
    a.appendChild(art);
    li.appendChild(a);
    return li;
  }

  /* The search box's state and behaviour; one per page (methods on the prototype, each small). */
  function SearchBox(input, panel) {
    this.input = input;
    this.panel = panel;
    this.search = document.querySelector("[data-md-component=search]");
    this.toggle = document.getElementById("__search");
    this.list = document.querySelector("[data-kb-results]");
    this.status = panel.querySelector("[data-kb-status]");
    this.chips = panel.querySelector("[data-kb-chips]");
    this.area = panel.querySelector("[data-kb-area]");
    this.type = panel.querySelector("[data-kb-type]");
    this.fallback = document.querySelector("[data-kb-fallback]");
    this.s = { mode: "unknown", lastFailure: 0, timer: null, inflight: null, pendingEnter: false, query: "" };
    this.area.value = ""; this.type.value = "";   // never restored from a previous visit: filters are chips, not sticky state
  }

  SearchBox.prototype.own = function (on) {   // our list replaces material's (results or recent searches)
    this.search.classList.toggle("kb-own", on);
    this.list.hidden = !on;
    this.panel.hidden = this.s.mode === "fallback";
  };

  SearchBox.prototype.useFallback = function (why) {
    this.s.mode = "fallback";
    this.list.textContent = "";
    this.own(false);
    this.fallback.textContent = why + ": showing the built-in offline search (no semantic or identifier matching).";
    this.fallback.hidden = false;
    if (this.s.pendingEnter) {
      this.s.pendingEnter = false;
      var first = this.search.querySelector(".md-search-result__list:not(.kb-results) a[href]");
      if (first) first.click();
    }
  };

  function tagOf(q) { var m = TAG_RE.exec(q); return m ? m[2] : ""; }

  SearchBox.prototype.chip = function (label, onRemove, cls) {
    var self = this;
    var b = el("button", { type: "button", "class": "kb-chip" + (cls ? " " + cls : "") }, label);
    if (!cls) b.setAttribute("aria-label", "Remove filter " + label.replace(" ✕", ""));
    b.addEventListener("click", function () { onRemove(); self.input.focus(); self.run(); });
    return b;
  };

  SearchBox.prototype.renderChips = function () {
    var self = this, area = this.area, type = this.type;
    this.chips.textContent = "";
    var add = function (label, onRemove, cls) { self.chips.appendChild(self.chip(label, onRemove, cls)); };
    if (area.value) add("Area: " + area.options[area.selectedIndex].text + " ✕", function () { area.value = ""; });
    if (type.value) add("Type: " + type.value + " ✕", function () { type.value = ""; });
    var tag = tagOf(this.input.value);
    if (tag) add("Tag: " + tag + " ✕", function () { self.input.value = self.input.value.replace(TAG_RE, " ").trim(); });
    if (area.value) add("Search all areas", function () { area.value = ""; }, "kb-chip--all");
  };

  // total: the API's matched_articles, how many articles hold a word or identifier of the query
  // (null in dense mode); n: how many came back (at most PAGE).
  SearchBox.prototype.countText = function (n, weak, q, total) {
    var filtered = this.area.value || this.type.value || tagOf(this.input.value);
    if (!n) return filtered ? "No results with these filters — remove a filter or search all areas." : "No results.";
    if (weak) return "No confident match for “" + q + "”. The closest sections below may not answer it:";
    if (typeof total === "number" && total > n) {
      return total + " articles match — showing the " + n + " best; add words or a filter to narrow them";
    }
    if (typeof total === "number" && total < n) {
      return n + " closest articles (" + (total === 1 ? "1 contains" : total + " contain") + " your words)";
    }
    if (n < PAGE || typeof total === "number") return n === 1 ? "1 article matches" : n + " articles match";
    return "The " + n + " best-matching articles — refine the words or add a filter to see others";
  };

  SearchBox.prototype.render = function (body, q) {
    var list = this.list;
    list.textContent = "";
    this.fallback.hidden = true;
    this.own(true);
    var n = body.results.length, weak = body.no_confident_match && n > 0;
    this.status.className = "kb-search__status" + (weak ? " kb-search__status--weak" : "");
    this.status.textContent = this.countText(n, weak, q, body.matched_articles);
    this.renderChips();
    body.results.forEach(function (r) { list.appendChild(resultItem(r, q, weak)); });
    if (this.s.pendingEnter) {
      this.s.pendingEnter = false;
      var first = list.querySelector("a[href]");
      if (first) this.open(first);
    }
  };

  SearchBox.prototype.renderRecent = function () {
    var list = this.list, recent = loadRecent();
    list.textContent = "";
    this.status.className = "kb-search__status";
    this.renderChips();
    if (!recent.length || this.s.mode === "fallback") { this.own(false); this.status.textContent = ""; return; }
    this.status.textContent = "Recent searches";
    recent.forEach(function (q) { list.appendChild(recentItem(q)); });
    this.own(true);
  };

  SearchBox.prototype.url = function (q, tag) {
    return KB.api("search?k=" + PAGE + "&q=" + encodeURIComponent(q.slice(0, 512)) +
      (this.area.value ? "&area=" + encodeURIComponent(this.area.value) : "") +
      (this.type.value ? "&type=" + encodeURIComponent(this.type.value) : "") + (tag ? "&tag=" + encodeURIComponent(tag) : ""));
  };

  SearchBox.prototype.run = function () {
    var self = this, s = this.s;
    clearTimeout(s.timer); s.timer = null;
    var raw = this.input.value.trim(), tag = tagOf(raw), q = raw.replace(TAG_RE, " ").trim();
    s.query = raw;
    if (s.inflight) { s.inflight.abort(); s.inflight = null; }
    if (q.length < 2) { s.pendingEnter = false; this.renderRecent(); return; }
    if (s.mode === "fallback" && Date.now() - s.lastFailure < RETRY_AFTER_MS) return;
    var ctrl = s.inflight = new AbortController();
    if (s.mode === "api") { this.status.className = "kb-search__status"; this.status.textContent = "Searching…"; }
    KB.fetchWithin(this.url(q, tag), SEARCH_TIMEOUT_MS, { headers: { Accept: "application/json" } }, ctrl).then(function (resp) {
      if (resp.status >= 500 || resp.status === 404) throw new Error("service answered " + resp.status);
      return resp.json().then(function (body) {
        if (ctrl !== s.inflight) return;
        s.inflight = null;
        s.mode = "api";
        if (resp.ok) { self.render(body, q); return; }
        self.render({ results: [] }, q);
        self.status.textContent = KB.errorMessage(body, "Search failed (" + resp.status + ")");
      });
    }).catch(function (err) {
      if (ctrl !== s.inflight) return;   // superseded by a newer query
      s.inflight = null;
      s.lastFailure = Date.now();
      self.useFallback(err && err.name === "Timeout"
        ? "Search service did not answer within " + SEARCH_TIMEOUT_MS / 1000 + " s" : "Search service unreachable");
    });
  };

  SearchBox.prototype.open = function (link) {
    var recent = link.getAttribute("data-kb-recent");
    if (recent !== null) { this.input.value = recent; this.input.focus(); this.run(); return; }
    saveRecent(this.s.query);
    link.click();
  };

  SearchBox.prototype.links = function () {
    return Array.prototype.filter.call(this.list.querySelectorAll("a[href]"), function (a) { return a.getClientRects().length > 0; });
  };

  SearchBox.prototype.move = function (step) {
    var all = [this.input].concat(this.links());
    var i = all.indexOf(document.activeElement);
    var next = all[(Math.max(0, i) + step + all.length) % all.length];
    next.focus();
    if (next !== this.input) next.scrollIntoView({ block: "nearest" });
  };

  SearchBox.prototype.openDialog = function () {
    var input = this.input, toggle = this.toggle;
    if (toggle && !toggle.checked) { toggle.checked = true; toggle.dispatchEvent(new Event("change")); }
    setTimeout(function () { input.focus(); input.select(); }, 0);
  };

  /* Capture listener on window, ahead of material's (which walks hidden links and closes on Tab). */
  SearchBox.prototype.onKey = function (ev) {
    var key = ev.key, active = document.activeElement, s = this.s;
    var claim = function () { ev.preventDefault(); ev.stopImmediatePropagation(); };
    if ((ev.ctrlKey || ev.metaKey) && !ev.altKey && (key === "k" || key === "K")) { claim(); this.openDialog(); return; }
    if (!this.toggle || !this.toggle.checked || s.mode === "fallback") return;
    if (active !== this.input && !this.list.contains(active)) return;
    var own = this.search.classList.contains("kb-own");
    if (key === "Enter" && !ev.isComposing) {
      if (active !== this.input) { claim(); this.open(active); return; }
      if (s.timer || s.inflight) { claim(); s.pendingEnter = true; return; }
      var first = own ? this.links()[0] : null;
      if (first) { claim(); this.open(first); }
      return;
    }
    if (!own) return;
    // a bare modifier (Shift of Shift+Tab) must not reach material, which moves focus back to the box
    if (/^(Shift|Control|Alt|Meta)$/.test(key) && active !== this.input) { ev.stopImmediatePropagation(); return; }
    if (key === "ArrowDown" || key === "ArrowUp") { claim(); this.move(key === "ArrowDown" ? 1 : -1); }
    else if (key === "Tab") { claim(); this.move(ev.shiftKey ? -1 : 1); }
  };

  SearchBox.prototype.bind = function () {
    var self = this, s = this.s, input = this.input;
    var run = function () { self.run(); };
    input.addEventListener("input", function () { clearTimeout(s.timer); s.timer = setTimeout(run, 150); });
    input.addEventListener("focus", function () { if (!input.value.trim()) self.renderRecent(); });
    this.area.addEventListener("change", run);
    this.type.addEventListener("change", run);
    this.list.addEventListener("click", function (ev) {
      var a = ev.target.closest && ev.target.closest("a[href]");
      if (!a) return;
      if (a.hasAttribute("data-kb-recent")) { ev.preventDefault(); self.open(a); } else saveRecent(s.query);
    });
    window.addEventListener("keydown", function (ev) { self.onKey(ev); }, true);
  };

  function initSearch() {
    var input = document.querySelector("[data-md-component=search-query]");
    var panel = document.querySelector("[data-kb-search]");
    if (input && panel) new SearchBox(input, panel).bind();
  }

  document.addEventListener("DOMContentLoaded", initSearch);
})();
