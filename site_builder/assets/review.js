/* The review queue page (/review/): GET /api/review?owner=… rendered per article, most urgent first,
   with a "Resolve" button on each open flag and "not helpful" vote (POST /api/feedback/ID/resolve).
   The owner chosen is kept in the address (?owner=team-x) so a team can bookmark its queue. */
(function () {
  "use strict";
  var KB = window.KB, el = KB.el;
  var REASON = { outdated: "Outdated", wrong: "Wrong", unclear: "Unclear", missing_step: "A step is missing" };

  function day(iso) { return String(iso || "").slice(0, 10); }

  function resolveButton(item, li, out) {
    var b = el("button", { type: "button", "class": "md-button kb-small", "data-kb-resolve": String(item.id) }, "Resolve");
    b.addEventListener("click", function () {
      b.disabled = true;
      KB.fetchWithin(KB.api("feedback/" + item.id + "/resolve"), 8000, { method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "application/json" }, body: "{}" })
        .then(function (resp) {
          return resp.json().then(function (body) {
            if (!resp.ok) { b.disabled = false; out.textContent = "Not resolved: " + KB.errorMessage(body, "error " + resp.status); return; }
            li.classList.add("kb-review__item--done");
            b.remove();
            out.textContent = "Resolved by " + body.resolved_by + ".";
          });
        })
        .catch(function (err) { b.disabled = false; out.textContent = "Search service unreachable (" + err.message + ")."; });
    });
    return b;
  }

  function itemRow(item) {
    var li = el("li", { "class": "kb-review__item", "data-kb-item": String(item.id) });
    var head = item.kind === "flag" ? "Flag: " + (REASON[item.reason] || item.reason) : "Not helpful";
    var text = el("p", { "class": "kb-review__what" });
    text.appendChild(el("strong", {}, head));
    text.appendChild(document.createTextNode((item.anchor ? " · section #" + item.anchor : " · whole article") +
      " · " + item.author + ", " + day(item.created_at) + (item.ticket_id ? " · ticket " + item.ticket_id : "") +
      (item.source === "assistant" ? " · from the ticket assistant" : "")));
    li.appendChild(text);
    if (item.comment) li.appendChild(el("blockquote", { "class": "kb-review__comment" }, item.comment));
    var out = el("span", { "class": "kb-card__outcome", role: "status" });
    var actions = el("div", { "class": "kb-card__actions" });
    actions.appendChild(resolveButton(item, li, out));
    actions.appendChild(out);
    li.appendChild(actions);
    return li;
  }

  function articleCard(entry) {
    var card = el("li", { "class": "kb-card kb-review__article", "data-kb-review-article": entry.article_id });
    var title = el("h2", { "class": "kb-card__title" });
    if (entry.url) title.appendChild(el("a", { href: KB.url(entry.url) }, entry.title)); else title.textContent = entry.title;
    card.appendChild(title);
    var facts = [entry.article_id, entry.owner || "no owner", "urgency " + entry.urgency];
    if (entry.overdue_days > 0) facts.push("review overdue by " + entry.overdue_days + " days (due " + entry.review_due + ")");
    if (entry.votes) facts.push(entry.votes.helpful + " helpful, " + entry.votes.not_helpful + " not helpful");
    card.appendChild(el("p", { "class": "kb-card__why" }, facts.join(" · ")));
    var items = entry.flags.concat(entry.not_helpful);
    if (items.length) {
      var list = el("ul", { "class": "kb-review__items" });
      items.forEach(function (item) { list.appendChild(itemRow(item)); });
      card.appendChild(list);
    }
    return card;
  }

  function load(box, owner, status, results) {
    status.textContent = "Loading…";
    results.textContent = "";
    var query = owner ? "?owner=" + encodeURIComponent(owner) : "";
    KB.fetchWithin(KB.api("review" + query), 8000, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (resp) {
        return resp.json().then(function (body) {
          if (!resp.ok) {
            status.textContent = resp.status === 403 ? "Your account may not see the review queue (it needs the " +
              "editor role)." : KB.errorMessage(body, "Error " + resp.status);
            return;
          }
          var n = body.articles.length;
          status.textContent = n ? n + (n === 1 ? " article" : " articles") + " to look at" +
            (owner ? " for " + owner : "") + ", most urgent first (" + body.today + ")" :
            "Nothing to review" + (owner ? " for " + owner : "") + ": no open flags, no review due.";
          body.articles.forEach(function (entry) { results.appendChild(articleCard(entry)); });
          fillOwners(box, body.articles);
        });
      })
      .catch(function (err) { status.textContent = "Search service unreachable (" + err.message + ")."; });
  }

  function fillOwners(box, entries) {
    var list = box.querySelector("datalist");
    var known = {};
    Array.prototype.forEach.call(list.options, function (o) { known[o.value] = true; });
    entries.forEach(function (e) {
      if (e.owner && !known[e.owner]) { known[e.owner] = true; list.appendChild(el("option", { value: e.owner })); }
    });
  }

  function init(box) {
    var form = el("form", { "class": "kb-review__form", role: "search" });
    var input = el("input", { type: "text", id: "kb-review-owner", list: "kb-review-owners", autocomplete: "off",
      spellcheck: "false", placeholder: "e.g. team-drm" });
    input.value = new URLSearchParams(location.search).get("owner") || "";
    var fieldBox = el("div", { "class": "kb-field" });
    fieldBox.appendChild(el("label", { "for": input.id, "class": "kb-field__label" }, "Owner (team; empty: every team)"));
    fieldBox.appendChild(input);
    form.appendChild(fieldBox);
    form.appendChild(el("datalist", { id: "kb-review-owners" }));
    form.appendChild(el("button", { type: "submit", "class": "md-button md-button--primary kb-small" }, "Show queue"));
    var status = el("p", { "class": "kb-assistant__status", role: "status" });
    var results = el("ul", { "class": "kb-assistant__results kb-review__results" });
    [form, status, results].forEach(function (n) { box.appendChild(n); });
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var owner = input.value.trim();
      history.replaceState(null, "", owner ? "?owner=" + encodeURIComponent(owner) : location.pathname);
      load(box, owner, status, results);
    });
    load(box, input.value.trim(), status, results);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var box = document.querySelector("[data-kb-review]");
    if (box) init(box);
  });
})();
