/* KB search box: queries the search service (/api/search) as you type and shows section-level
   results; when the service is unreachable the built-in offline search is shown, with a notice.
   Also fills the "linked tickets" count on article pages. No inline script, no eval. */
(function () {
  "use strict";
  var root = (typeof __md_scope !== "undefined") ? __md_scope : new URL("/", location);
  var api = function (path) { return new URL("api/" + path, root).toString(); };
  var SAFE_SNIPPET = /^(?:[^<>]|<\/?mark>)*$/;

  function text(tag, cls, value) {
    var el = document.createElement(tag);
    if (cls) el.className = cls;
    if (value !== undefined) el.textContent = value;
    return el;
  }

  function fetchJson(url, timeoutMs) {
    var ctrl = new AbortController();
    var timer = setTimeout(function () { ctrl.abort(); }, timeoutMs || 4000);
    return fetch(url, { signal: ctrl.signal, headers: { Accept: "application/json" } })
      .finally(function () { clearTimeout(timer); });
  }

  function initSearch() {
    var input = document.querySelector("[data-md-component=search-query]");
    var panel = document.querySelector("[data-kb-search]");
    if (!input || !panel) return;
    var search = document.querySelector("[data-md-component=search]");
    var list = panel.querySelector("[data-kb-results]");
    var status = panel.querySelector("[data-kb-status]");
    var area = panel.querySelector("[data-kb-area]");
    var fallback = document.querySelector("[data-kb-fallback]");
    var mode = "unknown", lastFailure = 0, timer = null, inflight = null, first = null;

    function setMode(next) {
      mode = next;
      panel.hidden = next !== "api";
      fallback.hidden = next !== "fallback";
      search.classList.toggle("kb-api-mode", next === "api");
    }

    function render(body) {
      list.textContent = "";
      first = null;
      status.textContent = body.results.length
        ? (body.no_confident_match ? "No confident match. Closest sections:" : body.results.length + " articles")
        : "No results";
      body.results.forEach(function (r) {
        var li = text("li", "kb-search__item");
        var a = text("a", "kb-search__link");
        a.href = new URL(r.best.url, root).toString();
        if (!first) first = a.href;
        a.appendChild(text("span", "kb-search__title", r.title));
        var meta = text("span", "kb-search__meta");
        meta.appendChild(text("span", "kb-badge kb-badge--" + r.type, r.type));
        meta.appendChild(text("span", "kb-badge", r.service_area));
        meta.appendChild(text("span", "kb-search__id", r.article_id));
        a.appendChild(meta);
        a.appendChild(text("span", "kb-search__heading", "§ " + r.best.heading));
        var snip = text("span", "kb-search__snippet");
        if (SAFE_SNIPPET.test(r.best.snippet)) snip.innerHTML = r.best.snippet; else snip.textContent = r.best.snippet;
        a.appendChild(snip);
        if (r.best.identifiers.length) a.appendChild(text("span", "kb-search__ids", "matched: " + r.best.identifiers.join(", ")));
        li.appendChild(a);
        r.more.forEach(function (m) {
          var more = text("a", "kb-search__more", "§ " + m.heading);
          more.href = new URL(m.url, root).toString();
          li.appendChild(more);
        });
        list.appendChild(li);
      });
    }

    function run() {
      var q = input.value.trim();
      if (q.length < 2) { list.textContent = ""; status.textContent = ""; return; }
      if (mode === "fallback" && Date.now() - lastFailure < 15000) return;
      if (inflight) inflight.abort();
      var url = api("search?k=10&q=" + encodeURIComponent(q.slice(0, 512)) +
                    (area.value ? "&area=" + encodeURIComponent(area.value) : ""));
      var ctrl = inflight = new AbortController();
      fetch(url, { signal: ctrl.signal, headers: { Accept: "application/json" } }).then(function (resp) {
        if (resp.status >= 500 || resp.status === 404) throw new Error("service unavailable");
        return resp.json().then(function (body) {
          if (ctrl !== inflight) return;
          setMode("api");
          if (resp.ok) render(body); else { list.textContent = ""; status.textContent = body.error ? body.error.message : "Error"; }
        });
      }).catch(function (err) {
        if (err && err.name === "AbortError" && ctrl !== inflight) return;
        lastFailure = Date.now();
        setMode("fallback");
      });
    }

    function schedule() { clearTimeout(timer); timer = setTimeout(run, 180); }
    input.addEventListener("input", schedule);
    area.addEventListener("change", run);
    window.addEventListener("keydown", function (ev) {
      if (ev.target === input && ev.key === "Enter" && mode === "api" && first) {
        ev.preventDefault();
        ev.stopImmediatePropagation();
        location.href = first;
      }
    }, true);
  }

  function initCounts() {
    var spans = document.querySelectorAll(".kb-ticket-count[data-kb-article]");
    Array.prototype.forEach.call(spans, function (span) {
      fetchJson(api("articles/" + encodeURIComponent(span.getAttribute("data-kb-article"))), 3000)
        .then(function (resp) { return resp.ok ? resp.json() : null; })
        .then(function (body) {
          if (!body || typeof body.linked_tickets !== "number") return;
          span.textContent = body.linked_tickets === 1 ? "Linked to 1 ticket" : "Linked to " + body.linked_tickets + " tickets";
          span.hidden = false;
        }).catch(function () { /* service down: the count stays hidden */ });
    });
  }

  document.addEventListener("DOMContentLoaded", function () { initSearch(); initCounts(); });
})();
