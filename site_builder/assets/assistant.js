/* Ticket assistant, a workspace: the ticket on the left, suggested sections on the right (stacked on
   a phone). Per suggestion: open it, copy its stable link or a Markdown link, link it to / unlink it
   from the ticket with the outcome shown beside the button. The ticket's existing links are loaded
   and marked. Link buttons only when the service accepts writes (GET /readyz says so); the API token
   is typed once into a visible field and kept for the browser session. Ctrl+Enter submits. */
(function () {
  "use strict";
  var KB = window.KB, el = KB.el;
  var SUGGEST_TIMEOUT_MS = 8000, TOKEN_KEY = "kb-api-token";
  var JSON_HEADERS = { "Content-Type": "application/json", Accept: "application/json" };

  function field(label, control, hint) {
    var wrap = el("label", { "class": "kb-field" });
    wrap.appendChild(el("span", { "class": "kb-field__label" }, label));
    wrap.appendChild(control);
    if (hint) wrap.appendChild(el("span", { "class": "kb-field__hint" }, hint));
    return wrap;
  }

  function buildForm() {
    var f = {};
    f.form = el("form", { "class": "kb-assistant__ticket", "data-kb-assistant-form": "" });
    f.ticket = el("input", { type: "text", name: "ticket_id", maxlength: "128", autocomplete: "off", placeholder: "e.g. ZD-48121" });
    f.subject = el("input", { type: "text", name: "subject", maxlength: "1000", autocomplete: "off" });
    f.body = el("textarea", { name: "body", rows: "14", maxlength: "20000", required: "", spellcheck: "false",
      placeholder: "Customer text, logs, HTTP dumps…" });
    f.token = el("input", { type: "password", name: "api_token", autocomplete: "off" });
    f.tokenField = field("API token for linking", f.token, "Typed once; kept for this browser session only.");
    f.tokenField.hidden = true;
    var submit = el("button", { type: "submit", "class": "md-button md-button--primary" }, "Suggest articles");
    var row = el("div", { "class": "kb-assistant__submit" });
    row.appendChild(submit);
    row.appendChild(el("span", { "class": "kb-field__hint" }, "Ctrl+Enter"));
    [field("Ticket id", f.ticket), field("Subject", f.subject), field("Ticket text", f.body), row, f.tokenField]
      .forEach(function (n) { f.form.appendChild(n); });
    return f;
  }

  function markdownLink(s, url) {
    var label = (s.title + " › " + s.heading).replace(/([\\\[\]])/g, "\\$1");
    return "[" + label + "](" + url + ")";
  }

  function key(s) { return s.article_id + "#" + (s.anchor || ""); }

  function copyButton(label, text, out) {
    var b = el("button", { type: "button", "class": "md-button kb-small" }, label);
    b.addEventListener("click", function () {
      KB.copyText(text).then(function () { out.textContent = "Copied: " + text; }, function () { out.textContent = "Copy failed; the text is: " + text; });
    });
    return b;
  }

  /* The card's text: title › section, badges, why it matched (the reason sentence only when the
     snippet does not already show it), the snippet. */
  function cardBody(li, s, terms, mark) {
    var title = el("a", { href: KB.url(s.url), "class": "kb-assistant__open" });
    KB.highlightInto(title, s.title + " › " + s.heading, terms);
    li.appendChild(el("h3", { "class": "kb-card__title" })).appendChild(title);
    var meta = el("div", { "class": "kb-card__meta" });
    meta.appendChild(el("span", { "class": "kb-badge kb-type-" + s.type }, s.type));
    meta.appendChild(el("span", { "class": "kb-badge kb-area" }, s.service_area));
    meta.appendChild(el("span", { "class": "kb-search__id" }, s.article_id));
    meta.appendChild(mark);
    li.appendChild(meta);
    if (s.reason.identifiers.length) li.appendChild(el("p", { "class": "kb-card__why" }, "Matched identifiers: " + s.reason.identifiers.join(", ")));
    li.appendChild(el("p", { "class": "kb-card__why" }, "Matched by: " + s.reason.lanes.join(", ")));
    var snippet = KB.plain(s.snippet), sentence = KB.plain(s.reason.sentence);
    if (sentence && snippet.indexOf(sentence.slice(0, 60)) < 0) li.appendChild(el("blockquote", { "class": "kb-card__reason" }, s.reason.sentence));
    li.appendChild(KB.snippetInto(el("p", { "class": "kb-snippet" }), s.snippet));
  }

  /* Signed in (a login session, or the local user of a server without login): links are written as
     that user, and the API token field is not needed (auth.js). */
  function signedIn() { return !!(window.kbAuth && window.kbAuth.signedIn()); }

  function Assistant(box) {
    this.f = buildForm();
    this.side = el("section", { "class": "kb-assistant__suggestions", "aria-label": "Suggested sections" });
    this.status = el("p", { "class": "kb-assistant__status", role: "status", "data-kb-assistant-status": "" },
      "Paste a ticket and press Suggest articles (Ctrl+Enter).");
    this.cleaned = el("p", { "class": "kb-assistant__cleaned" });
    this.results = el("ol", { "class": "kb-assistant__results", "data-kb-assistant-results": "" });
    [this.status, this.cleaned, this.results].forEach(function (n) { this.side.appendChild(n); }, this);
    box.appendChild(this.f.form);
    box.appendChild(this.side);
    this.st = { writes: false, linked: {}, cards: [] };
  }

  Assistant.prototype.refreshCards = function () { this.st.cards.forEach(function (c) { c.update(); }); };

  Assistant.prototype.checkWrites = function () {
    var self = this;
    var auth = window.kbAuth ? window.kbAuth.ready : Promise.resolve();
    KB.fetchWithin(KB.url("readyz"), 3000, { headers: { Accept: "application/json" } })
      .then(function (r) { return r.json(); })
      .then(function (body) { return auth.then(function () { return body; }); })
      .then(function (body) {
        self.st.writes = body.writes_enabled === true;
        self.f.tokenField.hidden = !self.st.writes || signedIn();   // signed in: the session writes, no token
        self.refreshCards();
      })
      .catch(function () { /* service down: no link buttons */ });
  };

  Assistant.prototype.loadLinks = function () {
    var self = this, st = this.st, ticket = this.f.ticket, id = ticket.value.trim();
    st.linked = {};
    if (!id) { this.refreshCards(); return; }
    KB.fetchWithin(KB.api("links?ticket_id=" + encodeURIComponent(id)), 5000, { headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : { links: [] }; })
      .then(function (body) {
        if (ticket.value.trim() !== id) return;
        (body.links || []).forEach(function (l) { st.linked[key(l)] = l.id; });
        self.refreshCards();
      }).catch(function () { self.refreshCards(); });
  };

  Assistant.prototype.write = function (method, path, payload) {
    var token = this.f.token.value.trim();
    sessionStorage.setItem(TOKEN_KEY, token);
    var auth = token && !signedIn() ? { Authorization: "Bearer " + token } : {};   // signed in: the session (auth.js adds its CSRF token)
    var init = { method: method, headers: Object.assign(auth, JSON_HEADERS) };
    if (payload) init.body = JSON.stringify(payload);
    return KB.fetchWithin(KB.api(path), 8000, init).then(function (resp) {
      if (resp.status === 204) return { resp: resp, body: {} };
      return resp.json().then(function (body) { return { resp: resp, body: body }; });
    });
  };

  Assistant.prototype.toggleLink = function (s, out) {
    var self = this, f = this.f, st = this.st, id = f.ticket.value.trim(), linkId = st.linked[key(s)];
    if (!id) { out.textContent = "Enter the ticket id first."; f.ticket.focus(); return; }
    if (!signedIn() && !f.token.value.trim()) { out.textContent = "Enter the API token first."; f.token.focus(); return; }
    out.textContent = linkId ? "Unlinking…" : "Linking…";
    var call = linkId ? this.write("DELETE", "links/" + linkId)
      : this.write("POST", "links", { ticket_id: id, article_id: s.article_id, anchor: s.anchor, source: "suggested" });
    call.then(function (r) {
      if (r.resp.status === 401) sessionStorage.removeItem(TOKEN_KEY);
      if (!r.resp.ok) { out.textContent = (linkId ? "Not unlinked: " : "Not linked: ") + KB.errorMessage(r.body, "error " + r.resp.status); return; }
      if (linkId) delete st.linked[key(s)]; else st.linked[key(s)] = r.body.id;
      self.refreshCards();
      out.textContent = linkId ? "Unlinked from " + id + "." : "Linked to " + id + ".";
    }).catch(function (err) { out.textContent = "Search service unreachable (" + err.message + "); nothing changed."; });
  };

  Assistant.prototype.card = function (s, terms) {
    var self = this, st = this.st;
    var li = el("li", { "class": "kb-card", "data-kb-suggestion": s.article_id });
    var mark = el("span", { "class": "kb-badge kb-linked" }, "linked to this ticket");
    cardBody(li, s, terms, mark);
    var actions = el("div", { "class": "kb-card__actions" });
    var out = el("span", { "class": "kb-card__outcome", role: "status" });
    var stable = KB.url(s.stable_url);
    actions.appendChild(copyButton("Copy stable link", stable, out));
    actions.appendChild(copyButton("Copy as Markdown link", markdownLink(s, stable), out));
    var linkBtn = el("button", { type: "button", "class": "md-button kb-small", "data-kb-link": s.article_id });
    linkBtn.addEventListener("click", function () { self.toggleLink(s, out); });
    actions.appendChild(linkBtn);
    actions.appendChild(out);
    li.appendChild(actions);
    if (window.KBFeedback && window.KBFeedback.signedIn()) {   // votes and flags on this suggestion (feedback.js)
      li.appendChild(window.KBFeedback.widget({ articleId: s.article_id, anchor: s.anchor, source: "assistant",
        question: "Did this suggestion help?", ticketId: function () { return self.f.ticket.value.trim(); } }));
    }
    var state = { update: function () {
      var linked = st.linked[key(s)] !== undefined;
      mark.hidden = !linked;
      linkBtn.hidden = !st.writes;
      linkBtn.textContent = linked ? "Unlink" : "Link to ticket";
      linkBtn.setAttribute("data-kb-linked", String(linked));
    } };
    state.update();
    st.cards.push(state);
    return li;
  };

  Assistant.prototype.show = function (data) {
    var self = this;
    this.results.textContent = "";
    this.st.cards = [];
    this.cleaned.textContent = data.cleaned.identifiers.length ? "Identifiers found: " + data.cleaned.identifiers.join(", ") : "";
    this.status.className = "kb-assistant__status" + (data.no_confident_match ? " kb-search__status--weak" : "");
    this.status.textContent = data.no_confident_match
      ? "No confident match: the knowledge base may not cover this ticket. Closest sections:"
      : data.suggestions.length + " suggested sections, best first";
    var terms = data.cleaned.identifiers.join(" ");
    data.suggestions.forEach(function (s) { self.results.appendChild(self.card(s, terms)); });
    this.loadLinks();
    // stacked layout (phone): the suggestions are below the ticket; bring them into view
    if (this.side.getBoundingClientRect().top > window.innerHeight * 0.6) this.side.scrollIntoView({ block: "start" });
  };

  Assistant.prototype.failed = function (err) {
    this.results.textContent = "";
    this.status.className = "kb-assistant__status kb-search__status--weak";
    this.status.textContent = err && err.name === "Timeout"
      ? "The search service did not answer within " + SUGGEST_TIMEOUT_MS / 1000 + " s. Try again in a moment, or use the search box."
      : "Search service unreachable. Start it with 'kb serve' or use the search box (offline search).";
  };

  Assistant.prototype.submit = function () {
    var self = this, f = this.f;
    this.status.className = "kb-assistant__status";
    this.status.textContent = "Searching…";
    var payload = { body: f.body.value, subject: f.subject.value };
    if (f.ticket.value.trim()) payload.ticket_id = f.ticket.value.trim();
    KB.fetchWithin(KB.api("suggest"), SUGGEST_TIMEOUT_MS, { method: "POST", headers: JSON_HEADERS, body: JSON.stringify(payload) })
      .then(function (resp) {
        return resp.json().then(function (data) {
          if (resp.ok) { self.show(data); return; }
          self.results.textContent = "";
          self.status.textContent = KB.errorMessage(data, "Error " + resp.status);
        });
      })
      .catch(function (err) { self.failed(err); });
  };

  Assistant.prototype.bind = function () {
    var self = this, f = this.f;
    f.token.value = sessionStorage.getItem(TOKEN_KEY) || "";
    f.token.addEventListener("change", function () { sessionStorage.setItem(TOKEN_KEY, f.token.value.trim()); });
    f.form.addEventListener("submit", function (ev) { ev.preventDefault(); self.submit(); });
    f.form.addEventListener("keydown", function (ev) {
      if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) { ev.preventDefault(); f.form.requestSubmit(); }
    });
    f.ticket.addEventListener("change", function () { self.loadLinks(); });
    this.checkWrites();
  };

  document.addEventListener("DOMContentLoaded", function () {
    var box = document.querySelector("[data-kb-assistant]");
    if (box) new Assistant(box).bind();
  });
})();
