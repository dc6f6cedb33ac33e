/* "Helpful / Not helpful" and "Flag this section" (POST /api/feedback), at the end of every article
   (the [data-kb-feedback] box the site builder writes) and on each suggestion of the ticket assistant
   (assistant.js calls KBFeedback.widget). Shown only to a signed-in user (or auth none's local
   user); the service's answer (stored, refused, rate limited) is shown beside the buttons. */
(function () {
  "use strict";
  var KB = window.KB, el = KB.el;
  var REASONS = [["outdated", "Outdated"], ["wrong", "Wrong"], ["unclear", "Unclear"], ["missing_step", "A step is missing"]];
  var MAX_COMMENT = 1000;
  var counter = 0;

  function field(label, control, hint) {
    var id = "kb-fb-" + (++counter);
    control.id = id;
    var box = el("div", { "class": "kb-field" });
    box.appendChild(el("label", { "for": id, "class": "kb-field__label" }, label));
    box.appendChild(control);
    if (hint) {
      var h = el("span", { "class": "kb-field__hint", id: id + "-hint" }, hint);
      control.setAttribute("aria-describedby", h.id);
      box.appendChild(h);
    }
    return box;
  }

  function reasonSet(name) {
    var set = el("fieldset", { "class": "kb-flag__reasons" });
    set.appendChild(el("legend", { "class": "kb-field__label" }, "What is wrong?"));
    REASONS.forEach(function (r, i) {
      var id = "kb-fb-" + (++counter);
      var input = el("input", { type: "radio", name: name, value: r[0], id: id });
      if (i === 0) input.required = true;
      var label = el("label", { "for": id, "class": "kb-flag__reason" });
      label.appendChild(input);
      label.appendChild(document.createTextNode(" " + r[1]));
      set.appendChild(label);
    });
    return set;
  }

  /* The sections of the article this page shows (h2 with an id), for the flag's section choice. */
  function pageSections() {
    return Array.prototype.map.call(document.querySelectorAll(".md-content article h2[id]"), function (h) {
      return [h.id, h.textContent.replace(/¶$/, "").trim()];
    });
  }

  function send(payload, out, done) {
    out.textContent = "Sending…";
    KB.fetchWithin(KB.api("feedback"), 8000, { method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json" }, body: JSON.stringify(payload) })
      .then(function (resp) {
        return resp.json().then(function (body) {
          if (resp.ok) { done(body); return; }
          out.textContent = resp.status === 403 ? "Not sent: your account may not send feedback (" +
            KB.errorMessage(body, "forbidden") + ")." : "Not sent: " + KB.errorMessage(body, "error " + resp.status);
        });
      })
      .catch(function (err) { out.textContent = "Search service unreachable (" + err.message + "); nothing was sent."; });
  }

  function flagForm(opts, out, opener) {
    var form = el("form", { "class": "kb-flag", novalidate: "" });
    form.hidden = true;
    form.appendChild(reasonSet("kb-fb-reason-" + (++counter)));
    var section = null;
    if (opts.sections && opts.sections.length) {
      section = el("select", {});
      section.appendChild(el("option", { value: "" }, "The whole article"));
      opts.sections.forEach(function (s) { section.appendChild(el("option", { value: s[0] }, s[1])); });
      var here = decodeURIComponent(location.hash.slice(1));
      if (here && opts.sections.some(function (s) { return s[0] === here; })) section.value = here;
      form.appendChild(field("Section", section));
    }
    var comment = el("textarea", { rows: "3", maxlength: String(MAX_COMMENT) });
    form.appendChild(field("Comment (optional)", comment, "Up to 1,000 characters. E-mail addresses, URLs, IP " +
      "addresses, long numbers and secrets are removed before it is stored."));
    var ticket = el("input", { type: "text", autocomplete: "off", spellcheck: "false", maxlength: "128" });
    if (!opts.ticketId) form.appendChild(field("Ticket id (optional)", ticket, "The ticket that showed the problem."));
    var buttons = el("div", { "class": "kb-flag__buttons" });
    buttons.appendChild(el("button", { type: "submit", "class": "md-button md-button--primary kb-small" }, "Send flag"));
    var cancel = el("button", { type: "button", "class": "md-button kb-small" }, "Cancel");
    buttons.appendChild(cancel);
    form.appendChild(buttons);
    function close() { form.hidden = true; opener.setAttribute("aria-expanded", "false"); opener.focus(); }
    cancel.addEventListener("click", close);
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var picked = form.querySelector("input[type=radio]:checked");
      if (!picked) { out.textContent = "Choose what is wrong first."; form.querySelector("input[type=radio]").focus(); return; }
      var payload = { article_id: opts.articleId, kind: "flag", reason: picked.value, source: opts.source,
        anchor: section ? section.value : (opts.anchor || ""), comment: comment.value };
      var id = opts.ticketId ? opts.ticketId() : ticket.value.trim();
      if (id) payload.ticket_id = id;
      send(payload, out, function (body) {
        out.textContent = "Thank you: flag #" + body.id + " sent to the article's owner.";
        comment.value = "";
        picked.checked = false;
        close();
      });
    });
    return form;
  }

  /* The feedback controls for one article (opts: articleId, anchor, source "article"|"assistant",
     sections [[anchor, heading]…] for a section choice, ticketId() giving the assistant's ticket id). */
  function widget(opts) {
    var box = el("div", { "class": "kb-feedback", "data-kb-feedback-for": opts.articleId });
    var row = el("div", { "class": "kb-feedback__row" });
    row.appendChild(el("span", { "class": "kb-feedback__question" }, opts.question || "Was this helpful?"));
    var out = el("span", { "class": "kb-feedback__outcome", role: "status" });
    [["helpful", "Helpful"], ["not_helpful", "Not helpful"]].forEach(function (v) {
      var b = el("button", { type: "button", "class": "md-button kb-small", "data-kb-vote": v[0], "aria-pressed": "false" }, v[1]);
      b.addEventListener("click", function () {
        var payload = { article_id: opts.articleId, kind: v[0], anchor: opts.anchor || "", source: opts.source };
        var id = opts.ticketId && opts.ticketId();
        if (id) payload.ticket_id = id;
        send(payload, out, function () {
          row.querySelectorAll("[data-kb-vote]").forEach(function (o) { o.setAttribute("aria-pressed", String(o === b)); });
          out.textContent = v[0] === "helpful" ? "Thank you for the feedback." :
            "Thank you: the owner will see it. Flag a section to say what is wrong.";
        });
      });
      row.appendChild(b);
    });
    var opener = el("button", { type: "button", "class": "md-button kb-small", "aria-expanded": "false",
      "data-kb-flag": opts.articleId }, opts.anchor || opts.sections ? "Flag this section" : "Flag this article");
    var form = flagForm(opts, out, opener);
    opener.addEventListener("click", function () {
      form.hidden = !form.hidden;
      opener.setAttribute("aria-expanded", String(!form.hidden));
      if (!form.hidden) form.querySelector("input[type=radio]").focus();
    });
    row.appendChild(opener);
    box.appendChild(row);
    box.appendChild(form);
    box.appendChild(out);
    return box;
  }

  function signedIn() { return !!(window.kbAuth && window.kbAuth.signedIn()); }

  function initArticle() {
    var place = document.querySelector("[data-kb-feedback]");
    if (!place || !window.kbAuth) return;
    window.kbAuth.ready.then(function () {
      if (!signedIn()) return;
      place.appendChild(el("h2", { "class": "kb-feedback__title", id: "kb-feedback" }, "Feedback"));
      place.appendChild(widget({ articleId: place.getAttribute("data-kb-feedback"), source: "article",
        sections: pageSections(), question: "Did this article help?" }));
      place.hidden = false;
    });
  }

  window.KBFeedback = { widget: widget, signedIn: signedIn };
  document.addEventListener("DOMContentLoaded", initArticle);
})();
