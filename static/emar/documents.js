// Resident documents (R-RES-7): a file over the limit is refused here before it is sent, so a
// tablet on slow Wi-Fi does not upload 50 MB only to be told no. The server checks again
// (413 before reading the body) and checks the content; this only saves the wait.
(function () {
  "use strict";

  function tooBig(form) {
    var max = parseInt(form.dataset.maxBytes || "0", 10);
    var input = form.querySelector("input[type=file]");
    var file = input && input.files && input.files[0];
    return max > 0 && file && file.size > max ? input : null;
  }

  function say(form, text) {
    var box = form.querySelector(".document-too-big");
    if (!box) {
      box = document.createElement("div");
      box.className = "alert alert-danger document-too-big";
      box.setAttribute("role", "alert");
      form.insertBefore(box, form.firstChild);
    }
    box.textContent = text;
    box.hidden = !text;
  }

  document.addEventListener("change", function (event) {
    var form = event.target.form;
    if (!form || !form.classList.contains("document-upload")) { return; }
    say(form, tooBig(form) ? "The file is larger than " + form.dataset.maxText +
      ": scan it at a lower resolution or split it, and choose that." : "");
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.classList || !form.classList.contains("document-upload")) { return; }
    if (tooBig(form)) {
      event.preventDefault();
      event.stopImmediatePropagation();
      say(form, "The file is larger than " + form.dataset.maxText + ": nothing was uploaded.");
    }
  }, true);
})();
