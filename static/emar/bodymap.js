// The body map (R-MAR-17): a tap on a site of the drawing ticks or unticks the site's checkbox
// (the checkboxes are the form: labelled, keyboard-usable, and work without JavaScript), and
// the drawing shows what is ticked. On the line form, a site's instructions field shows while
// the site is ticked. No inline scripts: the Content-Security-Policy allows 'self' only.
(function () {
  "use strict";

  function setup(scope) {
    var boxes = {};
    scope.querySelectorAll("input[name='sites']").forEach(function (box) { boxes[box.value] = box; });

    function sync() {
      scope.querySelectorAll(".bm-region").forEach(function (region) {
        var box = boxes[region.dataset.site];
        region.classList.toggle("bm-chosen", !!(box && box.checked));
      });
      scope.querySelectorAll("[data-site-instructions]").forEach(function (field) {
        var box = boxes[field.dataset.siteInstructions];
        var input = field.querySelector("input");
        field.hidden = !(box && box.checked) && !(input && input.value);
      });
    }

    scope.querySelectorAll(".bm-region").forEach(function (region) {
      var box = boxes[region.dataset.site];
      if (!box || box.disabled) { region.classList.add("bm-off"); return; }
      region.classList.add("bm-pickable");
      region.addEventListener("click", function () {
        box.checked = !box.checked;
        box.dispatchEvent(new Event("change", { bubbles: true }));
      });
    });
    scope.addEventListener("change", function (event) {
      if (event.target.name === "sites") { sync(); }
    });
    sync();
  }

  function init(root) {
    var scopes = Array.prototype.slice.call(root.querySelectorAll("[data-body-map]"));
    if (root.matches && root.matches("[data-body-map]")) { scopes.push(root); }
    scopes.forEach(function (scope) {
      if (scope.dataset.bodyMapReady) { return; }
      scope.dataset.bodyMapReady = "1";
      setup(scope);
    });
  }

  init(document);
  // A dose row swapped in by htmx after recording brings a new map.
  document.addEventListener("htmx:load", function (event) { init(event.detail.elt); });
})();
