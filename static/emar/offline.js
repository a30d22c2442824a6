// Registers the service worker that keeps the unit's round pages and downtime MAR for a reload
// without a connection (R-OFF-1 groundwork, static/emar/sw.js), and clears them on sign-out
// (R-OFF-5). No inline scripts: the Content-Security-Policy allows 'self' only.
(function () {
  "use strict";
  if (!("serviceWorker" in navigator) || !document.body.dataset.serviceWorker) { return; }
  navigator.serviceWorker.register(document.body.dataset.serviceWorker, { scope: "/" })
    .catch(function () { /* an old browser or a private window: the site works without it */ });
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.action && /\/logout\/$/.test(form.action) && navigator.serviceWorker.controller) {
      navigator.serviceWorker.controller.postMessage("clear-rounds");
    }
  });
})();
