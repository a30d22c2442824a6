// Pack barcodes (R-SCAN-1, H-14): the scan field of templates/medications/_scan_field.html.
//
// A keyboard-wedge scanner types the barcode and Enter: Enter here checks the scan at once
// instead of submitting the form, and shows what the pack is. On a tablet the Camera button
// reads the barcode with the browser's BarcodeDetector where there is one; otherwise it sends a
// frame now and then to the server, which decodes it (zxing-cpp). The server checks the scan
// again when the form is saved, so nothing here is trusted. No inline scripts (CSP 'self').
(function () {
  "use strict";

  var LEVEL_CLASS = { ok: "text-success", warning: "text-warning-emphasis", error: "text-danger" };
  var LEVEL_WORD = { ok: "", warning: "Warning: ", error: "Stop: " };

  function boxOf(el) { return el.closest("[data-scan]"); }

  function show(box, level, message) {
    var out = box.querySelector("[data-scan-result]");
    out.classList.remove("text-success", "text-warning-emphasis", "text-danger", "fw-semibold");
    if (LEVEL_CLASS[level]) { out.classList.add(LEVEL_CLASS[level]); }
    if (level !== "ok") { out.classList.add("fw-semibold"); }
    out.textContent = (LEVEL_WORD[level] || "") + message;
  }

  function fill(id, value) {
    var input = id && document.getElementById(id);
    if (input && value) { input.value = value; }
  }

  function check(box) {
    var input = box.querySelector("[data-scan-input]");
    var code = input.value;
    if (!code.trim()) { show(box, "", ""); return; }
    // Checked already (Enter, then the change as focus leaves): the page stays still, so the
    // tap on "Given" lands where it was aimed.
    if (box.dataset.scanChecked === code) { return; }
    box.dataset.scanChecked = code;
    var url = box.dataset.scanCheck;
    url += (url.indexOf("?") < 0 ? "?" : "&") + "code=" + encodeURIComponent(code);
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.json(); })
      .then(function (data) {
        if (input.value !== code) { return; } // scanned again meanwhile
        show(box, data.level, data.message);
        if (data.level !== "error") {
          fill(box.dataset.scanBatch, data.batch);
          fill(box.dataset.scanExpiry, data.expiry);
        }
      })
      .catch(function () {
        delete box.dataset.scanChecked;
        show(box, "warning", "Could not check the scan now: it is checked when you save.");
      });
  }

  document.addEventListener("keydown", function (e) {
    if (e.key !== "Enter" || !e.target.matches("[data-scan-input]")) { return; }
    e.preventDefault(); // a scanner's Enter checks the pack; it does not record the dose
    check(boxOf(e.target));
  });
  document.addEventListener("change", function (e) {
    if (e.target.matches("[data-scan-input]")) { check(boxOf(e.target)); }
  });

  // --- Camera ------------------------------------------------------------------------------------

  var running = null; // { box, stream, timer }

  function stop() {
    if (!running) { return; }
    clearTimeout(running.timer);
    running.stream.getTracks().forEach(function (t) { t.stop(); });
    running.box.querySelector("[data-scan-camera-box]").hidden = true;
    running = null;
  }

  function found(box, text) {
    stop();
    var input = box.querySelector("[data-scan-input]");
    input.value = text;
    check(box);
  }

  function csrf(box) {
    var form = box.closest("form");
    var token = form && form.querySelector("input[name=csrfmiddlewaretoken]");
    return token ? token.value : "";
  }

  function viaServer(box, video) {
    var canvas = document.createElement("canvas");
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    if (!canvas.width) { return Promise.resolve(""); }
    canvas.getContext("2d").drawImage(video, 0, 0);
    return new Promise(function (resolve) { canvas.toBlob(resolve, "image/jpeg", 0.85); })
      .then(function (blob) {
        var body = new FormData();
        body.append("frame", blob, "frame.jpg");
        return fetch(box.dataset.scanDecode, {
          method: "POST", body: body, credentials: "same-origin",
          headers: { "X-CSRFToken": csrf(box), Accept: "application/json" }
        });
      })
      .then(function (r) { return r.json(); })
      .then(function (data) { return data.text || ""; });
  }

  function start(box) {
    stop();
    var video = box.querySelector("[data-scan-video]");
    var detector = "BarcodeDetector" in window
      ? new window.BarcodeDetector({ formats: ["data_matrix", "ean_13"] }) : null;
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false })
      .then(function (stream) {
        running = { box: box, stream: stream, timer: null };
        video.srcObject = stream;
        box.querySelector("[data-scan-camera-box]").hidden = false;
        return video.play();
      })
      .then(function () {
        show(box, "", "Hold the pack's barcode in front of the camera.");
        var look = function () {
          if (!running || running.box !== box) { return; }
          var reading = detector
            ? detector.detect(video).then(function (codes) { return codes.length ? codes[0].rawValue : ""; })
            : viaServer(box, video);
          reading.then(function (text) {
            if (!running || running.box !== box) { return; }
            if (text) { found(box, text); } else { running.timer = setTimeout(look, detector ? 250 : 1000); }
          }, function () { if (running) { running.timer = setTimeout(look, 1000); } });
        };
        look();
      })
      .catch(function () {
        stop();
        show(box, "warning", "The camera could not start: type or scan the barcode instead.");
      });
  }

  document.addEventListener("click", function (e) {
    var camera = e.target.closest("[data-scan-camera]");
    if (camera) { start(boxOf(camera)); return; }
    if (e.target.closest("[data-scan-stop]")) { stop(); }
  });

  // The Camera button only where the browser can reach a camera (a secure page on a tablet).
  function offerCamera(root) {
    if (!(navigator.mediaDevices && navigator.mediaDevices.getUserMedia)) { return; }
    root.querySelectorAll("[data-scan-camera]").forEach(function (b) { b.hidden = false; });
  }
  document.addEventListener("DOMContentLoaded", function () { offerCamera(document); });
  document.addEventListener("htmx:afterSwap", function () {
    if (running && !document.contains(running.box)) { stop(); } // its row was replaced
    offerCamera(document);
  });
})();
