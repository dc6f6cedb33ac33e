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

  function initSearch() {
    var input = document.querySelector("[data-md-component=search-query]");
    var panel = document.querySelector("[data-kb-search]");
    if (!input || !panel) return;
    var search = document.querySelector("[data-md-component=search]");
    var toggle = document.getElementById("__search");
    var list = document.querySelector("[data-kb-results]");
    var status = panel.querySelector("[data-kb-status]");
    var chips = panel.querySelector("[data-kb-chips]");
    var area = panel.querySelector("[data-kb-area]"), type = panel.querySelector("[data-kb-type]");
    var fallback = document.querySelector("[data-kb-fallback]");
    var s = { mode: "unknown", lastFailure: 0, timer: null, inflight: null, pendingEnter: false, query: "" };
    area.value = ""; type.value = "";   // never restored from a previous visit: filters are visible chips, not sticky state

    function own(on) {   // our list replaces material's (results or recent searches)
      search.classList.toggle("kb-own", on);
      list.hidden = !on;
      panel.hidden = s.mode === "fallback";
    }

    function useFallback(why) {
      s.mode = "fallback";
      list.textContent = "";
      own(false);
      fallback.textContent = why + ": showing the built-in offline search (no semantic or identifier matching).";
      fallback.hidden = false;
      if (s.pendingEnter) {
        s.pendingEnter = false;
        var first = search.querySelector(".md-search-result__list:not(.kb-results) a[href]");
        if (first) first.click();
      }
    }

    function tagOf(q) { var m = TAG_RE.exec(q); return m ? m[2] : ""; }

    function chip(label, onRemove) {
      var b = el("button", { type: "button", "class": "kb-chip", "aria-label": "Remove filter " + label }, label + " ✕");
      b.addEventListener("click", function () { onRemove(); input.focus(); run(); });
      return b;
    }

    function renderChips() {
      chips.textContent = "";
      if (area.value) chips.appendChild(chip("Area: " + area.options[area.selectedIndex].text, function () { area.value = ""; }));
      if (type.value) chips.appendChild(chip("Type: " + type.value, function () { type.value = ""; }));
      var tag = tagOf(input.value);
      if (tag) chips.appendChild(chip("Tag: " + tag, function () { input.value = input.value.replace(TAG_RE, " ").trim(); }));
      if (area.value) {
        var all = el("button", { type: "button", "class": "kb-chip kb-chip--all" }, "Search all areas");
        all.addEventListener("click", function () { area.value = ""; input.focus(); run(); });
        chips.appendChild(all);
      }
    }

    function countText(n, weak, q) {
      var filtered = area.value || type.value || tagOf(input.value);
      if (!n) return filtered ? "No results with these filters — remove a filter or search all areas." : "No results.";
      if (weak) return "No confident match for “" + q + "”. The closest sections below may not answer it:";
      if (n < PAGE) return n === 1 ? "1 article found" : n + " articles found";
      return "The " + n + " best-matching articles — refine the words or add a filter to see others";
    }

    function render(body, q) {
      list.textContent = "";
      fallback.hidden = true;
      own(true);
      var n = body.results.length, weak = body.no_confident_match && n > 0;
      status.className = "kb-search__status" + (weak ? " kb-search__status--weak" : "");
      status.textContent = countText(n, weak, q);
      renderChips();
      body.results.forEach(function (r) { list.appendChild(resultItem(r, q, weak)); });
      if (s.pendingEnter) {
        s.pendingEnter = false;
        var first = list.querySelector("a[href]");
        if (first) open(first);
      }
    }

    function renderRecent() {
      list.textContent = "";
      var recent = loadRecent();
      status.className = "kb-search__status";
      renderChips();
      if (!recent.length || s.mode === "fallback") { own(false); status.textContent = ""; return; }
      status.textContent = "Recent searches";
      recent.forEach(function (q) { list.appendChild(recentItem(q)); });
      own(true);
    }

    function run() {
      clearTimeout(s.timer); s.timer = null;
      var raw = input.value.trim(), tag = tagOf(raw), q = raw.replace(TAG_RE, " ").trim();
      s.query = raw;
      if (s.inflight) { s.inflight.abort(); s.inflight = null; }
      if (q.length < 2) { s.pendingEnter = false; renderRecent(); return; }
      if (s.mode === "fallback" && Date.now() - s.lastFailure < RETRY_AFTER_MS) return;
      var ctrl = s.inflight = new AbortController();
      var url = KB.api("search?k=" + PAGE + "&q=" + encodeURIComponent(q.slice(0, 512)) +
        (area.value ? "&area=" + encodeURIComponent(area.value) : "") +
        (type.value ? "&type=" + encodeURIComponent(type.value) : "") + (tag ? "&tag=" + encodeURIComponent(tag) : ""));
      if (s.mode === "api") { status.className = "kb-search__status"; status.textContent = "Searching…"; }
      KB.fetchWithin(url, SEARCH_TIMEOUT_MS, { headers: { Accept: "application/json" } }, ctrl).then(function (resp) {
        if (resp.status >= 500 || resp.status === 404) throw new Error("service answered " + resp.status);
        return resp.json().then(function (body) {
          if (ctrl !== s.inflight) return;
          s.inflight = null;
          s.mode = "api";
          if (resp.ok) { render(body, q); return; }
          render({ results: [] }, q);
          status.textContent = KB.errorMessage(body, "Search failed (" + resp.status + ")");
        });
      }).catch(function (err) {
        if (ctrl !== s.inflight) return;   // superseded by a newer query
        s.inflight = null;
        s.lastFailure = Date.now();
        useFallback(err && err.name === "Timeout"
          ? "Search service did not answer within " + SEARCH_TIMEOUT_MS / 1000 + " s" : "Search service unreachable");
      });
    }

    function open(link) {
      var recent = link.getAttribute("data-kb-recent");
      if (recent !== null) { input.value = recent; input.focus(); run(); return; }
      saveRecent(s.query);
      link.click();
    }

    function links() {
      return Array.prototype.filter.call(list.querySelectorAll("a[href]"), function (a) { return a.getClientRects().length > 0; });
    }

    function move(step) {
      var all = [input].concat(links());
      var i = all.indexOf(document.activeElement);
      var next = all[(Math.max(0, i) + step + all.length) % all.length];
      next.focus();
      if (next !== input) next.scrollIntoView({ block: "nearest" });
    }

    function openDialog() {
      if (toggle && !toggle.checked) { toggle.checked = true; toggle.dispatchEvent(new Event("change")); }
      setTimeout(function () { input.focus(); input.select(); }, 0);
    }

    function onKey(ev) {
      var key = ev.key, active = document.activeElement;
      var claim = function () { ev.preventDefault(); ev.stopImmediatePropagation(); };
      if ((ev.ctrlKey || ev.metaKey) && !ev.altKey && (key === "k" || key === "K")) { claim(); openDialog(); return; }
      if (!toggle || !toggle.checked || s.mode === "fallback") return;
      var inSearch = active === input || list.contains(active);
      if (!inSearch) return;
      if (key === "Enter" && !ev.isComposing) {
        if (active !== input) { claim(); open(active); return; }
        if (s.timer || s.inflight) { claim(); s.pendingEnter = true; return; }
        var first = search.classList.contains("kb-own") ? links()[0] : null;
        if (first) { claim(); open(first); }
        return;
      }
      if (!search.classList.contains("kb-own")) return;
      // a bare modifier (Shift of Shift+Tab) must not reach material, which moves focus back to the box
      if (/^(Shift|Control|Alt|Meta)$/.test(key) && active !== input) { ev.stopImmediatePropagation(); return; }
      if (key === "ArrowDown" || key === "ArrowUp") { claim(); move(key === "ArrowDown" ? 1 : -1); }
      else if (key === "Tab") { claim(); move(ev.shiftKey ? -1 : 1); }
    }

    input.addEventListener("input", function () { clearTimeout(s.timer); s.timer = setTimeout(run, 150); });
    input.addEventListener("focus", function () { if (!input.value.trim()) renderRecent(); });
    area.addEventListener("change", run);
    type.addEventListener("change", run);
    list.addEventListener("click", function (ev) {
      var a = ev.target.closest && ev.target.closest("a[href]");
      if (!a) return;
      if (a.hasAttribute("data-kb-recent")) { ev.preventDefault(); open(a); } else saveRecent(s.query);
    });
    window.addEventListener("keydown", onKey, true);
  }

  document.addEventListener("DOMContentLoaded", initSearch);
})();
