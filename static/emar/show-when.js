// Progressive enhancement of long forms: a field marked data-show-when="days=weekdays" (or
// "dose_rule=tapering,variable") is shown only while the named select has one of those values,
// e.g. on "Add a medicine" only the chosen schedule type's fields show. Without JavaScript every
// field stays visible and usable. No inline scripts: the Content-Security-Policy allows 'self'.
(function () {
  "use strict";

  function wrapperOf(el) {
    return el.closest("[id^='div_id_'], fieldset") || el.parentElement;
  }

  function update(form) {
    var wrappers = new Map();
    form.querySelectorAll("[data-show-when]").forEach(function (el) {
      var rule = el.dataset.showWhen.split("=");
      var control = form.elements[rule[0]];
      if (!control || rule.length !== 2) { return; }
      var show = rule[1].split(",").indexOf(control.value) !== -1;
      var wrapper = wrapperOf(el);
      wrappers.set(wrapper, (wrappers.get(wrapper) || false) || show);
    });
    wrappers.forEach(function (show, wrapper) { wrapper.hidden = !show; });
  }

  document.querySelectorAll("form").forEach(function (form) {
    if (!form.querySelector("[data-show-when]")) { return; }
    form.addEventListener("change", function () { update(form); });
    update(form);
  });
})();
