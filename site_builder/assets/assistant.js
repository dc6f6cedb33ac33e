/* Ticket assistant: paste a ticket, see suggested sections and why they matched, open one at its
   section, and link it to a ticket (as the signed-in user; without a login, a bearer token asked once
   per browser session). */
(function () {
  "use strict";
  var root = (typeof __md_scope !== "undefined") ? __md_scope : new URL("/", location);
  var api = function (path) { return new URL("api/" + path, root).toString(); };
  var SAFE = /^(?:[^<>]|<\/?mark>)*$/;
  var TOKEN_KEY = "kb-api-token";

  function el(tag, attrs, value) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (value !== undefined) node.textContent = value;
    return node;
  }

  function build(box) {
    var form = el("form", { "class": "kb-assistant__form", "data-kb-assistant-form": "" });
    var ticket = el("input", { type: "text", name: "ticket_id", placeholder: "Ticket id, e.g. ZD-48121", maxlength: "128", "aria-label": "Ticket id" });
    var subject = el("input", { type: "text", name: "subject", placeholder: "Subject (optional)", "aria-label": "Subject" });
    var body = el("textarea", { name: "body", rows: "10", maxlength: "20000", placeholder: "Paste the ticket: customer text, logs, HTTP dumps…", "aria-label": "Ticket text", required: "" });
    var button = el("button", { type: "submit", "class": "md-button md-button--primary" }, "Suggest articles");
    [ticket, subject, body, button].forEach(function (n) { form.appendChild(n); });
    var status = el("p", { "class": "kb-assistant__status", "aria-live": "polite", "data-kb-assistant-status": "" });
    var cleaned = el("p", { "class": "kb-assistant__cleaned" });
    var results = el("ol", { "class": "kb-assistant__results", "data-kb-assistant-results": "" });
    [form, status, cleaned, results].forEach(function (n) { box.appendChild(n); });

    function token() {
      if (window.kbAuth && window.kbAuth.signedIn()) return "";   // the session (auth.js adds its CSRF token)
      var value = sessionStorage.getItem(TOKEN_KEY);
      if (!value) {
        value = window.prompt("API token for linking articles to tickets (kept for this browser session):") || "";
        if (value) sessionStorage.setItem(TOKEN_KEY, value);
      }
      return value || null;
    }

    function link(s, btn) {
      var id = ticket.value.trim();
      if (!id) { status.textContent = "Enter the ticket id first."; ticket.focus(); return; }
      var t = token();
      if (t === null) return;
      var headers = { "Content-Type": "application/json" };
      if (t) headers.Authorization = "Bearer " + t;
      fetch(api("links"), {
        method: "POST",
        headers: headers,
        body: JSON.stringify({ ticket_id: id, article_id: s.article_id, anchor: s.anchor, source: "suggested" })
      }).then(function (resp) {
        return resp.json().then(function (data) {
          if (resp.status === 401) sessionStorage.removeItem(TOKEN_KEY);
          if (!resp.ok) { status.textContent = "Not linked: " + data.error.message; return; }
          btn.textContent = resp.status === 201 ? "Linked ✓" : "Already linked ✓";
          btn.disabled = true;
          status.textContent = s.article_id + " linked to " + id + ".";
        });
      }).catch(function () { status.textContent = "Search service unreachable; nothing was linked."; });
    }

    function show(data) {
      results.textContent = "";
      cleaned.textContent = data.cleaned.identifiers.length ? "Identifiers found: " + data.cleaned.identifiers.join(", ") : "";
      status.textContent = data.no_confident_match
        ? "No confident match: the knowledge base may not cover this ticket. Closest sections:"
        : data.suggestions.length + " suggestions";
      data.suggestions.forEach(function (s) {
        var li = el("li", { "class": "kb-assistant__item", "data-kb-suggestion": s.article_id });
        var open = el("a", { href: new URL(s.url, root).toString(), "class": "kb-assistant__open" }, s.title + " › " + s.heading);
        li.appendChild(open);
        li.appendChild(el("span", { "class": "kb-badge kb-badge--" + s.type }, s.type));
        li.appendChild(el("span", { "class": "kb-badge" }, s.service_area));
        li.appendChild(el("span", { "class": "kb-search__id" }, s.article_id));
        var why = el("div", { "class": "kb-assistant__why" });
        if (s.reason.identifiers.length) why.appendChild(el("div", {}, "Matched identifiers: " + s.reason.identifiers.join(", ")));
        why.appendChild(el("div", {}, "Matched by: " + s.reason.lanes.join(", ")));
        if (s.reason.sentence) why.appendChild(el("blockquote", {}, s.reason.sentence));
        li.appendChild(why);
        var snip = el("p", { "class": "kb-search__snippet" });
        if (SAFE.test(s.snippet)) snip.innerHTML = s.snippet; else snip.textContent = s.snippet;
        li.appendChild(snip);
        var btn = el("button", { type: "button", "class": "md-button", "data-kb-link": s.article_id }, "Link to ticket");
        btn.addEventListener("click", function () { link(s, btn); });
        li.appendChild(btn);
        results.appendChild(li);
      });
    }

    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      status.textContent = "Searching…";
      var payload = { body: body.value, subject: subject.value };
      if (ticket.value.trim()) payload.ticket_id = ticket.value.trim();
      fetch(api("suggest"), { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(payload) })
        .then(function (resp) {
          return resp.json().then(function (data) {
            if (!resp.ok) { results.textContent = ""; status.textContent = data.error.message; return; }
            show(data);
          });
        })
        .catch(function () { status.textContent = "Search service unreachable. Start it with 'kb serve' or use the search box (offline search)."; });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var box = document.querySelector("[data-kb-assistant]");
    if (box) build(box);
  });
})();
