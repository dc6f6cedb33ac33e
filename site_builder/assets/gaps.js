/* The "Knowledge gaps" section of the staff /review/ page: GET /api/gaps?days=N rendered per service
   area (what people searched for or pasted and did not find: no confident match), and the top
   confident queries with their top article. Only queries asked by enough distinct people appear
   (the service's gaps_min_callers rule); the page says so. */
(function () {
  "use strict";
  var KB = window.KB, el = KB.el;
  var DAYS = [7, 30, 90];

  function people(n) { return n + (n === 1 ? " person" : " people"); }

  function countText(entry) {
    var what = entry.kind === "suggest" ? "ticket identifiers" : "search";
    return entry.no_confident_match + " without a confident match (" + what + ", " + entry.days +
      (entry.days === 1 ? " day" : " days") + ", " + "asked by " + people(entry.callers_at_least) +
      (entry.callers_at_least >= 20 ? " or more" : "") + " on one day)";
  }

  function gapRow(entry) {
    var li = el("li", { "class": "kb-gaps__query", "data-kb-gap": entry.query });
    li.appendChild(el("code", {}, entry.query || "(no identifiers)"));
    li.appendChild(el("span", { "class": "kb-gaps__count" }, " · " + countText(entry)));
    if (entry.undeclared_identifiers && entry.undeclared_identifiers.length) {
      li.appendChild(el("p", { "class": "kb-gaps__note" }, "No article declares: " + entry.undeclared_identifiers.join(", ")));
    }
    return li;
  }

  function areaBlock(group) {
    var block = el("li", { "class": "kb-card kb-gaps__area", "data-kb-gaps-area": group.area });
    block.appendChild(el("h3", { "class": "kb-card__title" }, group.area ? "Area: " + group.area : "Any area"));
    var list = el("ul", { "class": "kb-gaps__queries" });
    group.queries.forEach(function (entry) { list.appendChild(gapRow(entry)); });
    block.appendChild(list);
    return block;
  }

  function topTable(box, entries) {
    box.appendChild(el("h3", {}, "Most frequent confident queries"));
    var table = el("table", { tabindex: "0", "aria-label": "Most frequent confident queries" });   // scrolls on a phone
    var head = el("tr", {});
    ["Query", "Kind", "Answered", "Top article"].forEach(function (t) { head.appendChild(el("th", { scope: "col" }, t)); });
    table.appendChild(el("thead", {})).appendChild(head);
    var body = el("tbody", {});
    entries.forEach(function (e) {
      var tr = el("tr", { "data-kb-top": e.query });
      tr.appendChild(el("td", {}, e.query));
      tr.appendChild(el("td", {}, e.kind === "suggest" ? "ticket" : "search"));
      tr.appendChild(el("td", {}, String(e.requests - e.no_confident_match)));
      tr.appendChild(el("td", {}, e.top_article || "–"));
      body.appendChild(tr);
    });
    table.appendChild(body);
    box.appendChild(table);
  }

  function render(body, status, results, top) {
    var n = body.gaps.reduce(function (sum, g) { return sum + g.queries.length; }, 0);
    status.textContent = (n ? n + (n === 1 ? " query" : " queries") + " without a confident match since " + body.since :
      "No knowledge gaps since " + body.since + ": every frequent query found a confident match") +
      " (only queries asked by at least " + people(body.min_callers) + " on one day are shown" +
      (body.recording ? "" : "; query recording is switched off") + ").";
    body.gaps.forEach(function (group) { results.appendChild(areaBlock(group)); });
    if (body.top_queries.length) topTable(top, body.top_queries);
  }

  function load(days, status, results, top) {
    status.textContent = "Loading…";
    results.textContent = "";
    top.textContent = "";
    KB.fetchWithin(KB.api("gaps?days=" + days), 8000, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (resp) {
        return resp.json().then(function (body) {
          if (!resp.ok) {
            status.textContent = resp.status === 403 ? "Your account may not see the knowledge gaps (it needs the " +
              "editor role)." : KB.errorMessage(body, "Error " + resp.status);
            return;
          }
          render(body, status, results, top);
        });
      })
      .catch(function (err) { status.textContent = "Search service unreachable (" + err.message + ")."; });
  }

  function init(box) {
    var form = el("form", { "class": "kb-review__form" });
    var select = el("select", { id: "kb-gaps-days" });
    DAYS.forEach(function (d) { select.appendChild(el("option", { value: String(d) }, "last " + d + " days")); });
    select.value = "30";
    var field = el("div", { "class": "kb-field" });
    field.appendChild(el("label", { "for": select.id, "class": "kb-field__label" }, "Period"));
    field.appendChild(select);
    form.appendChild(field);
    var status = el("p", { "class": "kb-assistant__status", role: "status" });
    var results = el("ul", { "class": "kb-assistant__results kb-gaps__results" });
    var top = el("div", { "class": "kb-gaps__top-box" });
    [form, status, results, top].forEach(function (n) { box.appendChild(n); });
    select.addEventListener("change", function () { load(select.value, status, results, top); });
    form.addEventListener("submit", function (ev) { ev.preventDefault(); load(select.value, status, results, top); });
    load(select.value, status, results, top);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var box = document.querySelector("[data-kb-gaps]");
    if (box) init(box);
  });
})();
