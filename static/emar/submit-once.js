// One request per tap (R-SEC-1, H-5): a form's submit buttons are disabled while its request is
// in flight, so a double tap on a slow tablet sends the form once. The server does not rely on
// this: each form carries an idempotency key that the database keeps unique. No inline scripts:
// the Content-Security-Policy allows 'self' only.
(function () {
  "use strict";

  function isSubmit(el) {
    var type = (el.getAttribute("type") || "submit").toLowerCase();
    return (el.tagName === "BUTTON" && type === "submit") ||
      (el.tagName === "INPUT" && (type === "submit" || type === "image"));
  }

  function buttonsOf(target) {
    if (target.tagName === "FORM") {
      return Array.prototype.filter.call(target.elements, isSubmit);
    }
    return target.tagName === "BUTTON" || target.tagName === "INPUT" ? [target] : [];
  }

  function lock(target) {
    target.dataset.inFlight = "1";
    target.setAttribute("aria-busy", "true");
    // Disabled after the event: the button that was pressed still sends its name and value.
    setTimeout(function () {
      if (!target.dataset.inFlight) { return; }
      buttonsOf(target).forEach(function (b) {
        if (!b.disabled) { b.disabled = true; b.dataset.lockedInFlight = "1"; }
      });
    }, 0);
  }

  function unlock(target) {
    delete target.dataset.inFlight;
    target.removeAttribute("aria-busy");
    buttonsOf(target).forEach(function (b) {
      if (b.dataset.lockedInFlight) { b.disabled = false; delete b.dataset.lockedInFlight; }
    });
  }

  function isPost(form) {
    return (form.getAttribute("method") || "get").toLowerCase() === "post";
  }

  function htmxManaged(form) {
    return ["hx-post", "hx-put", "hx-patch", "hx-delete"].some(function (a) {
      return form.hasAttribute(a);
    });
  }

  // A second submit of a form whose request is still going is dropped before htmx sees it.
  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (form.tagName === "FORM" && form.dataset.inFlight) {
      e.preventDefault();
      e.stopImmediatePropagation();
    }
  }, true);

  // An ordinary post: locked until the next page arrives (or comes back from the cache).
  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (form.tagName !== "FORM" || e.defaultPrevented || !isPost(form) || htmxManaged(form)) {
      return;
    }
    lock(form);
  });

  function requestTarget(e) {
    var elt = e.detail && e.detail.elt;
    if (!elt) { return null; }
    return elt.tagName === "FORM" ? elt : (elt.form || elt.closest("form") || elt);
  }

  document.addEventListener("htmx:beforeRequest", function (e) {
    var verb = ((e.detail.requestConfig && e.detail.requestConfig.verb) || "get").toLowerCase();
    if (verb === "get") { return; }
    var target = requestTarget(e);
    if (!target) { return; }
    if (target.dataset.inFlight) { e.preventDefault(); return; }
    lock(target);
  });

  ["htmx:afterRequest", "htmx:sendError", "htmx:responseError", "htmx:timeout"].forEach(
    function (name) {
      document.addEventListener(name, function (e) {
        var target = requestTarget(e);
        if (target && target.dataset.inFlight) { unlock(target); }
      });
    }
  );

  // Back to a page from the browser's cache: its forms are usable again.
  window.addEventListener("pageshow", function (e) {
    if (!e.persisted) { return; }
    Array.prototype.forEach.call(document.querySelectorAll("[data-in-flight]"), unlock);
  });
})();
