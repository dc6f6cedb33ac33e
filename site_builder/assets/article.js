/* Article pages and generated pages: "Linked to N tickets" (opens the list of tickets), copy
   buttons ([data-kb-copy]), the error-code index filter, and the 404 page (a stable id typed in
   another case forwards to the article; an unknown id or page offers a search). */
(function () {
  "use strict";
  var KB = window.KB, el = KB.el;

  function initCounts() {
    Array.prototype.forEach.call(document.querySelectorAll(".kb-ticket-count[data-kb-article]"), function (box) {
      var id = box.getAttribute("data-kb-article");
      KB.fetchWithin(KB.api("articles/" + encodeURIComponent(id)), 3000, { headers: { Accept: "application/json" } })
        .then(function (resp) { return resp.ok ? resp.json() : null; })
        .then(function (body) {
          if (!body || typeof body.linked_tickets !== "number") return;
          var n = body.linked_tickets, label = n === 1 ? "Linked to 1 ticket" : "Linked to " + n + " tickets";
          box.textContent = "";
          box.hidden = false;
          if (n === 0) { box.textContent = label; return; }
          var button = el("button", { type: "button", "class": "kb-linkbutton", "aria-expanded": "false" }, label);
          var listBox = el("ul", { "class": "kb-ticket-list" });
          listBox.hidden = true;
          button.addEventListener("click", function () { toggleList(id, button, listBox); });
          box.appendChild(button);
          box.appendChild(listBox);
        }).catch(function () { /* service down or slow: the count stays hidden */ });
    });
  }

  function toggleList(id, button, listBox) {
    var opening = listBox.hidden;
    listBox.hidden = !opening;
    button.setAttribute("aria-expanded", String(opening));
    if (!opening || listBox.childElementCount) return;
    listBox.appendChild(el("li", {}, "Loading…"));
    KB.fetchWithin(KB.api("links?article_id=" + encodeURIComponent(id)), 5000, { headers: { Accept: "application/json" } })
      .then(function (resp) { return resp.json(); })
      .then(function (body) {
        listBox.textContent = "";
        (body.links || []).forEach(function (link) {
          var text = link.ticket_id + (link.anchor ? " → #" + link.anchor : "") + " (" + link.source +
            (link.agent ? ", " + link.agent : "") + ", " + String(link.created_at || "").slice(0, 10) + ")";
          listBox.appendChild(el("li", {}, text));
        });
        if (!listBox.childElementCount) listBox.appendChild(el("li", {}, "No linked tickets."));
      }).catch(function () { listBox.textContent = ""; listBox.appendChild(el("li", {}, "Search service unreachable.")); });
  }

  function initCopy() {
    document.addEventListener("click", function (ev) {
      var b = ev.target.closest && ev.target.closest("button[data-kb-copy]");
      if (!b) return;
      var text = KB.url(b.getAttribute("data-kb-copy"));
      var out = b.parentNode.querySelector("[data-kb-copy-result]");
      KB.copyText(text).then(function () { if (out) out.textContent = "Copied " + text; },
        function () { if (out) out.textContent = "Copy failed: " + text; });
    });
  }

  function initCodeFilter() {
    var box = document.querySelector("[data-kb-code-filter]");
    var table = document.querySelector(".md-typeset table");
    if (!box || !table) return;
    var count = document.querySelector("[data-kb-code-count]");
    var rows = Array.prototype.slice.call(table.tBodies[0].rows);
    box.hidden = false;
    var input = box.querySelector("input");
    input.addEventListener("input", function () {
      var needle = input.value.trim().toLowerCase(), shown = 0;
      rows.forEach(function (row) {
        var hit = !needle || row.textContent.toLowerCase().indexOf(needle) >= 0;
        row.hidden = !hit;
        if (hit) shown += 1;
      });
      if (count) count.textContent = shown + " of " + rows.length + " codes";
    });
  }

  function initNotFound() {
    var box = document.querySelector("[data-kb-notfound]");
    if (!box) return;
    var path = decodeURIComponent(location.pathname.slice(new URL(KB.root).pathname.length));
    var m = /^id\/([^\/]+)\/?$/.exec(path);
    var term = m ? m[1] : path.replace(/\/+$/, "").split("/").pop().replace(/[-_]+/g, " ");
    KB.fetchWithin(KB.url("assets/kb/ids.json"), 3000).then(function (r) { return r.json(); }).then(function (ids) {
      var hit = m && ids.filter(function (id) { return id.toLowerCase() === m[1].toLowerCase(); })[0];
      if (hit) { location.replace(KB.url("id/" + hit + "/") + location.hash); return; }
      show(box, m, term);
    }).catch(function () { show(box, m, term); });
  }

  function show(box, idMatch, term) {
    box.textContent = "";
    box.appendChild(el("p", {}, idMatch ? "No article has the id “" + idMatch[1] + "”. Ids look like TYPE-AREA-NUMBER, the type being FAQ, RB or REF."
      : "There is no page at this address."));
    if (!term) return;
    var button = el("button", { type: "button", "class": "md-button md-button--primary" }, "Search the knowledge base for “" + term + "”");
    button.addEventListener("click", function () {
      var input = document.querySelector("[data-md-component=search-query]");
      if (!input) return;
      input.focus();
      input.value = term;
      input.dispatchEvent(new Event("input", { bubbles: true }));
    });
    box.appendChild(button);
  }

  /* Code blocks scroll sideways: keyboard users reach them with Tab (then the arrow keys scroll). */
  function initCodeScroll() {
    Array.prototype.forEach.call(document.querySelectorAll(".md-typeset pre > code"), function (code) {
      if (!code.hasAttribute("tabindex")) code.setAttribute("tabindex", "0");
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    initCounts(); initCopy(); initCodeFilter(); initNotFound(); initCodeScroll();
  });
})();
