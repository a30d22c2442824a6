// eMAR page behaviour. No inline scripts: the Content-Security-Policy allows 'self' only.
(function () {
  "use strict";
  // R-SEC-2: send an idle shared tablet back to the sign-in page; the server enforces it too.
  var minutes = parseInt(document.body.dataset.idleMinutes || "0", 10);
  if (!minutes || !document.querySelector("form[action$='/logout/']")) { return; }
  var timer;
  function reset() {
    clearTimeout(timer);
    timer = setTimeout(function () { window.location.reload(); }, minutes * 60 * 1000 + 5000);
  }
  ["click", "keydown", "touchstart"].forEach(function (e) {
    document.addEventListener(e, reset, { passive: true });
  });
  reset();
})();
