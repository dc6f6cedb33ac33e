// Forward a stable-id page (/id/<ID>/) to the article, keeping any #anchor of the request.
(function () {
  var me = document.currentScript;
  var target = me && me.getAttribute("data-target");
  if (target) { window.location.replace(target + window.location.hash); }
})();
