/* The "Usage and outcomes" section of the staff /review/ page, drawn from GET /api/review/usage (the
   report of GET /api/reports without its ticket ids; scope review): headline
   numbers, suggestion requests per day with the share that found a confident match (inline SVG bars,
   hidden from screen readers, with the same numbers in a table), and the articles linked to the most
   tickets. Nothing is stored here; the service keeps the aggregates (retention_days applies). */
(function () {
  "use strict";
  var KB = window.KB, el = KB.el;
  var SVG = "http://www.w3.org/2000/svg";
  var WIDTH = 600, HEIGHT = 160, MIN_SLOTS = 14;   // a few days still read as bars, not one block

  function pct(part, whole) { return whole ? Math.round(100 * part / whole) + " %" : "–"; }

  function svgNode(tag, attrs) {
    var node = document.createElementNS(SVG, tag);
    Object.keys(attrs).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    return node;
  }

  /* One bar per day: its height the requests, its lower, coloured part those with a confident match. */
  function bars(days) {
    var max = Math.max.apply(null, days.map(function (d) { return d.requests; }).concat([1]));
    var step = WIDTH / Math.max(days.length, MIN_SLOTS), gap = Math.min(4, step / 4);
    var svg = svgNode("svg", { viewBox: "0 0 " + WIDTH + " " + HEIGHT, "class": "kb-dash__chart",
                               "aria-hidden": "true", focusable: "false", preserveAspectRatio: "none" });
    days.forEach(function (d, i) {
      var confident = d.requests - d.no_confident_match;
      var total = HEIGHT * d.requests / max, sure = HEIGHT * confident / max, x = i * step + gap / 2;
      svg.appendChild(svgNode("rect", { x: x, y: HEIGHT - total, width: step - gap, height: total - sure,
                                        "class": "kb-dash__bar--unsure" }));
      svg.appendChild(svgNode("rect", { x: x, y: HEIGHT - sure, width: step - gap, height: sure,
                                        "class": "kb-dash__bar--sure" }));
    });
    return svg;
  }

  function table(label, heads, rows) {
    var t = el("table", { tabindex: "0", "aria-label": label });   // scrolls on a phone
    var head = el("tr", {});
    heads.forEach(function (h) { head.appendChild(el("th", { scope: "col" }, h)); });
    t.appendChild(el("thead", {})).appendChild(head);
    var body = t.appendChild(el("tbody", {}));
    rows.forEach(function (cells) {
      var tr = body.appendChild(el("tr", {}));
      cells.forEach(function (c) {
        if (typeof c === "string") tr.appendChild(el("td", {}, c)); else tr.appendChild(el("td", {})).appendChild(c);
      });
    });
    return t;
  }

  function headline(report) {
    var n = report.suggestion_requests, sure = n - report.no_confident_match_requests;
    var items = [["Suggestion requests", String(n)], ["With a confident match", pct(sure, n)],
      ["Tickets with suggestions", String(report.tickets_with_suggestions)],
      ["Linked from a suggestion", report.tickets_linked_from_suggestion + " (" +
        pct(report.tickets_linked_from_suggestion, report.tickets_with_suggestions) + " of those tickets)"]];
    var list = el("dl", { "class": "kb-dash__numbers", "data-kb-dash-numbers": "" });
    items.forEach(function (pair) {
      var item = list.appendChild(el("div", { "class": "kb-dash__number" }));
      item.appendChild(el("dt", {}, pair[0]));
      item.appendChild(el("dd", {}, pair[1]));
    });
    return list;
  }

  function perDay(box, days) {
    var figure = box.appendChild(el("figure", { "class": "kb-dash__figure", "data-kb-dash-chart": "" }));
    figure.appendChild(el("figcaption", {}, "Suggestion requests per day, " + days[0].day + " to " +
      days[days.length - 1].day + ": the lower, coloured part found a confident match"));
    figure.appendChild(bars(days));
    var legend = figure.appendChild(el("p", { "class": "kb-dash__legend", "aria-hidden": "true" }));
    legend.appendChild(el("span", { "class": "kb-dash__key kb-dash__key--sure" }, "confident match"));
    legend.appendChild(el("span", { "class": "kb-dash__key kb-dash__key--unsure" }, "no confident match"));
    var details = box.appendChild(el("details", { "class": "kb-dash__details" }));
    details.appendChild(el("summary", {}, "The numbers per day (table)"));
    details.appendChild(table("Suggestion requests per day", ["Day", "Requests", "Confident match"],
      days.map(function (d) {
        var sure = d.requests - d.no_confident_match;
        return [d.day, String(d.requests), sure + " (" + pct(sure, d.requests) + ")"];
      })));
  }

  function topArticles(box, top) {
    box.appendChild(el("h3", {}, "Articles that resolved the most tickets"));
    if (!top.length) { box.appendChild(el("p", {}, "No ticket has been linked to an article yet.")); return; }
    box.appendChild(table("Articles that resolved the most tickets", ["Article", "Tickets linked"],
      top.map(function (a) {
        return [el("a", { href: KB.url("id/" + encodeURIComponent(a.article_id) + "/") }, a.article_id), String(a.tickets)];
      })));
  }

  function render(box, status, report) {
    var days = report.days || [];
    if (!report.suggestion_requests && !report.top_articles.length) {
      status.textContent = "No data yet: nobody has asked the ticket assistant for suggestions or linked a ticket " +
        "to an article in the kept period. The figures appear here once they do.";
      return;
    }
    status.textContent = "Figures over the kept period (older records are purged by the retention setting).";
    box.appendChild(headline(report));
    if (days.length) perDay(box, days);
    topArticles(box, report.top_articles);
  }

  function load(box) {
    var status = box.appendChild(el("p", { "class": "kb-assistant__status", role: "status" }, "Loading…"));
    KB.fetchWithin(KB.api("review/usage"), 8000, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (resp) {
        return resp.json().then(function (body) {
          if (resp.ok) { render(box, status, body); return; }
          status.textContent = resp.status === 403 ? "Your account may not see usage and outcomes (it needs the " +
            "review permission; ask an administrator)." : KB.errorMessage(body, "Error " + resp.status);
        });
      })
      .catch(function (err) { status.textContent = "Search service unreachable (" + err.message + ")."; });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var box = document.querySelector("[data-kb-dashboard]");
    if (box) load(box);
  });
})();
