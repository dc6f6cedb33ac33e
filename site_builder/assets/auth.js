/* Who is signed in (GET /auth/whoami), shown in the header with a "Log out" link; and the session's
   CSRF token added to every same-origin write this page sends with fetch (X-CSRF-Token), so no
   other script has to know about it. On a site served without the service, it does nothing. */
(function () {
  "use strict";
  var root = (typeof __md_scope !== "undefined") ? __md_scope : new URL("/", location);
  var SAFE = ["GET", "HEAD", "OPTIONS"];
  var me = null;
  var plainFetch = window.fetch.bind(window);

  window.fetch = function (input, init) {
    init = init || {};
    var method = String(init.method || (input && input.method) || "GET").toUpperCase();
    var url = new URL(typeof input === "string" || input instanceof URL ? input : input.url, location.href);
    if (me && me.csrf_token && url.origin === location.origin && SAFE.indexOf(method) < 0) {
      var headers = new Headers(init.headers || {});
      if (!headers.has("X-CSRF-Token")) headers.set("X-CSRF-Token", me.csrf_token);
      init = Object.assign({}, init, { headers: headers });
    }
    return plainFetch(input, init);
  };

  var resolveReady;
  window.kbAuth = {
    signedIn: function () { return !!(me && me.authenticated); },   // a login session, or auth none's local user
    user: function () { return me && me.user; },
    ready: new Promise(function (resolve) { resolveReady = resolve; })   // settles once whoami answered (or failed)
  };

  function show() {
    if (!me || me.kind !== "session") return;
    var where = document.querySelector(".md-header__inner");
    if (!where) return;
    var box = document.createElement("span");
    box.className = "kb-user";
    box.setAttribute("data-kb-user", me.user);
    box.textContent = me.user + " · ";
    var out = document.createElement("a");
    out.href = new URL("auth/logout", root).toString();
    out.textContent = "Log out";
    out.setAttribute("data-kb-logout", "");
    box.appendChild(out);
    where.appendChild(box);
  }

  plainFetch(new URL("auth/whoami", root).toString(), { headers: { Accept: "application/json" }, credentials: "same-origin" })
    .then(function (resp) { return resp.ok ? resp.json() : null; })
    .then(function (body) {
      me = body;
      resolveReady();
      if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", show); else show();
    })
    .catch(function () { resolveReady(); /* no service behind this site: nothing to show */ });
})();
