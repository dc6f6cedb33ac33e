/* Shared helpers of the KB scripts (search.js, assistant.js, article.js): DOM building without
   innerHTML (except API snippets that are proven to hold only <mark>), API URLs, fetch with a
   time limit, snippet clean-up, term highlighting and copying to the clipboard. */
(function () {
  "use strict";
  var root = (typeof __md_scope !== "undefined") ? __md_scope : new URL("/", location);
  var SAFE_SNIPPET = /^(?:[^<>]|<\/?mark>)*$/;

  function el(tag, attrs, value) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (value !== undefined && value !== null) node.textContent = value;
    return node;
  }

  /* fetch that gives up after ``ms``: the promise rejects with an Error whose name is "Timeout"
     (a server that accepts the connection and never answers must not leave "Searching…" forever).
     ``outer`` (optional AbortController) lets the caller cancel a superseded request. */
  function fetchWithin(url, ms, init, outer) {
    var ctrl = new AbortController();
    var timedOut = false;
    var timer = setTimeout(function () { timedOut = true; ctrl.abort(); }, ms);
    if (outer) outer.signal.addEventListener("abort", function () { ctrl.abort(); });
    var options = Object.assign({}, init || {}, { signal: ctrl.signal });
    return fetch(url, options).then(function (resp) {
      clearTimeout(timer);
      return resp;
    }, function (err) {
      clearTimeout(timer);
      if (timedOut) { var e = new Error("no answer within " + Math.round(ms / 1000) + " s"); e.name = "Timeout"; throw e; }
      throw err;
    });
  }

  /* A snippet as HTML: only <mark> survives (anything else is shown as text), and Markdown table
     rows ("| a | b |", "|---|") read as "a · b" instead of raw pipes. */
  function snippetInto(node, snippet) {
    var text = String(snippet || "")
      .replace(/\|(?:\s*:?-{2,}:?\s*\|)+/g, " ")
      .replace(/\s*\|\s*/g, " · ")
      .replace(/(?:^\s*·\s*)|(?:\s*·\s*$)/g, "")
      .replace(/(?:\s*·\s*){2,}/g, " · ");
    if (SAFE_SNIPPET.test(text)) node.innerHTML = text; else node.textContent = text;
    return node;
  }

  function plain(snippet) {
    return String(snippet || "").replace(/<\/?mark>/g, "").replace(/[\s|·…]+/g, " ").trim().toLowerCase();
  }

  function terms(query) {
    return String(query || "").split(/[\s,;:!?()"'\[\]{}<>|]+/).filter(function (t) { return t.length > 1; });
  }

  /* Text of ``value`` into ``node`` with every query term wrapped in <mark> (text nodes only). */
  function highlightInto(node, value, query) {
    var words = terms(query).map(function (t) { return t.replace(/[.*+?^${}()|[\]\\\/-]/g, "\\$&"); });
    if (!words.length) { node.textContent = value; return node; }
    var re = new RegExp("(" + words.join("|") + ")", "gi");
    String(value).split(re).forEach(function (part, i) {
      node.appendChild(i % 2 ? el("mark", {}, part) : document.createTextNode(part));
    });
    return node;
  }

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text);
    return new Promise(function (resolve, reject) {
      var area = el("textarea", { "aria-hidden": "true", "class": "kb-offscreen" }, text);
      document.body.appendChild(area);
      area.select();
      var ok = document.execCommand("copy");
      area.remove();
      if (ok) resolve(); else reject(new Error("copy refused"));
    });
  }

  function errorMessage(body, fallback) {
    return body && body.error && body.error.message ? body.error.message : fallback;
  }

  window.KB = {
    root: root,
    api: function (path) { return new URL("api/" + path, root).toString(); },
    url: function (path) { return new URL(path, root).toString(); },
    el: el, fetchWithin: fetchWithin, snippetInto: snippetInto, plain: plain, terms: terms,
    highlightInto: highlightInto, copyText: copyText, errorMessage: errorMessage
  };
})();
