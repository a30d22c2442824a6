// Rounds without a connection (R-OFF-1, R-OFF-2, R-OFF-3, R-OFF-5, H-13). No inline scripts: the
// Content-Security-Policy allows 'self' only.
//
// "Given" / "Not given" on a round row while offline (or when the send fails) is kept in this
// tablet's IndexedDB with the form's fields, its idempotency key, the time of the tap and who
// tapped. The row says "Saved on this tablet, not yet sent" and a banner counts what waits.
// When the network returns (and on every page load online) the records of the person signed in
// are sent in order through the round's own form view, as htmx would send them, and each row is
// swapped for the server's answer. A refusal stays on the tablet as a conflict, with the
// server's message and two ways out: open the dose, or discard it with a reason (kept and
// audited by the server). Records of someone else wait for them to sign in again; signing out
// never clears the queue (static/emar/sw.js clears only the kept pages).
//
// Not queued: controlled drugs (the printed CD register, R-OFF-3) and any row that needs a
// second person's password (a witness, an allergy check): a password is never stored.
(function () {
  "use strict";
  var body = document.body;
  if (!("indexedDB" in window) || !body.dataset.userId) { return; }
  var me = { id: Number(body.dataset.userId), name: body.dataset.userName || "" };
  var DOSE_FORMS = ".dose-given, .dose-not-given";

  // --- A small wrapper over IndexedDB: one store, the queue, in the order of the taps. ---------
  var opened = null;
  function db() {
    if (!opened) {
      opened = new Promise(function (resolve, reject) {
        var request = indexedDB.open("emar-offline", 1);
        request.onupgradeneeded = function () {
          request.result.createObjectStore("queue", { keyPath: "seq", autoIncrement: true });
        };
        request.onsuccess = function () { resolve(request.result); };
        request.onerror = function () { reject(request.error); };
      });
    }
    return opened;
  }
  function withStore(mode, work) {
    return db().then(function (database) {
      return new Promise(function (resolve, reject) {
        var tx = database.transaction("queue", mode);
        var request = work(tx.objectStore("queue"));
        tx.oncomplete = function () { resolve(request.result); };
        tx.onerror = tx.onabort = function () { reject(tx.error); };
      });
    });
  }
  function queueAll() { return withStore("readonly", function (s) { return s.getAll(); }); }
  function queuePut(entry) { return withStore("readwrite", function (s) { return s.put(entry); }); }
  function queueDelete(seq) { return withStore("readwrite", function (s) { return s.delete(seq); }); }

  // --- Online or not ----------------------------------------------------------------------
  var offline = !navigator.onLine;
  function setOffline(value) {
    offline = value;
    body.classList.toggle("is-offline", value);
    paint();
  }
  window.addEventListener("offline", function () { setOffline(true); });
  window.addEventListener("online", function () { setOffline(false); send(); });

  function queueable(form) {
    return !form.closest("[data-offline]") && !form.querySelector("input[type=password]");
  }
  function doseIdOf(row) { return row.id.replace("dose-", ""); }
  function describe(row) {
    var card = row.closest(".resident-card");
    var what = row.querySelector(".dose-what strong");
    var time = row.querySelector(".dose-what .fw-semibold");
    return (card ? card.getAttribute("aria-label") + ": " : "") +
      (what ? what.textContent.trim() : "a dose") + (time ? " (" + time.textContent.trim() + ")" : "");
  }
  function clock(iso) {
    var d = new Date(iso);
    return ("0" + d.getHours()).slice(-2) + ":" + ("0" + d.getMinutes()).slice(-2);
  }

  var queuedNow = {};  // dose ids queued by this page, against a double tap before the repaint
  function enqueue(form) {
    var row = form.closest(".dose-row");
    var doseId = doseIdOf(row);
    if (queuedNow[doseId]) { return Promise.resolve(); }
    queuedNow[doseId] = true;
    var tapped = form.dataset.tappedAt || new Date().toISOString();
    var fields = [];
    new FormData(form).forEach(function (value, name) {
      if (name !== "csrfmiddlewaretoken") { fields.push([name, String(value)]); }
    });
    fields.push(["queued_at", tapped], ["queued_by", String(me.id)]);
    return queuePut({
      key: form.elements.idempotency_key.value,
      doseId: doseId,
      action: form.getAttribute("action"),
      fields: fields,
      outcome: form.elements.outcome.value,
      tappedAt: tapped,
      userId: me.id,
      userName: me.name,
      what: describe(row),
      status: "waiting",
      message: ""
    }).then(paint);
  }

  // Tapped offline: kept here, htmx never sees it. Online, htmx sends it; if that fails for want
  // of a network, it is kept here then, with the time of the tap.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.tagName !== "FORM" || !form.matches(DOSE_FORMS)) { return; }
    form.dataset.tappedAt = new Date().toISOString();
    if (!offline) { return; }
    event.preventDefault();
    event.stopImmediatePropagation();
    if (queueable(form)) { enqueue(form); }
  }, true);
  document.addEventListener("htmx:sendError", function (event) {
    var form = event.detail.elt;
    if (!form || form.tagName !== "FORM" || !form.matches(DOSE_FORMS) || !queueable(form)) {
      return;
    }
    enqueue(form).then(function () { setOffline(true); });
  });

  // --- Sending, in order, as the person who tapped ----------------------------------------
  function csrfToken() {
    try {
      return JSON.parse(body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || "";
    } catch (e) { return ""; }
  }

  // The server's row (and the round's counts) replace the ones on this page, if shown here.
  function swapFromAnswer(html, doseId) {
    var template = document.createElement("template");
    template.innerHTML = html;
    var fresh = template.content.getElementById("dose-" + doseId);
    var shown = document.getElementById("dose-" + doseId);
    var message = "";
    if (fresh) {
      var alert = fresh.querySelector(".alert-danger");
      if (alert) { message = alert.textContent.replace("Not saved.", "").replace(/\s+/g, " ").trim(); }
    }
    if (fresh && shown) {
      shown.replaceWith(fresh);
      if (window.htmx) { window.htmx.process(fresh); }
    }
    var counts = template.content.getElementById("round-counts");
    var shownCounts = document.getElementById("round-counts");
    if (counts && shownCounts) {
      counts.removeAttribute("hx-swap-oob");
      shownCounts.replaceWith(counts);
    }
    return message;
  }

  var notSentBecause = "";
  // Resolves true to go on with the next record, false to stop (no network, signed out).
  function sendOne(entry) {
    var data = new URLSearchParams();
    entry.fields.forEach(function (field) { data.append(field[0], field[1]); });
    return fetch(entry.action, {
      method: "POST",
      body: data,
      credentials: "same-origin",
      redirect: "manual",  // a session that ended answers with the sign-in page: not a refusal
      headers: { "X-CSRFToken": csrfToken(), "HX-Request": "true", "HX-Current-URL": location.href }
    }).then(function (response) {
      if (response.ok) {
        return response.text().then(function (html) {
          swapFromAnswer(html, entry.doseId);
          return queueDelete(entry.seq).then(function () { return true; });
        });
      }
      if ([400, 404, 409, 422].indexOf(response.status) !== -1) {
        return response.text().then(function (html) {
          entry.status = "conflict";
          entry.message = swapFromAnswer(html, entry.doseId) ||
            "The server did not accept this record (" + response.status + ").";
          return queuePut(entry).then(function () { return true; });
        });
      }
      notSentBecause = response.type === "opaqueredirect" || response.status === 403 ?
        "Sign in again to send them." : "The server did not answer; they are sent again shortly.";
      return false;
    }, function () {
      notSentBecause = "";
      setOffline(true);
      return false;
    });
  }

  var sending = null;
  function send() {
    if (sending) { return sending; }
    sending = queueAll().then(function (entries) {
      var mine = entries.filter(function (e) { return e.userId === me.id && e.status === "waiting"; });
      return mine.reduce(function (previous, entry) {
        return previous.then(function (goOn) { return goOn ? sendOne(entry) : false; });
      }, Promise.resolve(true));
    }).then(function (allSent) {
      if (allSent) { notSentBecause = ""; }
      if (allSent && offline && navigator.onLine) { offline = false; body.classList.remove("is-offline"); }
    }).catch(function () { /* kept; tried again at the next chance */ }).then(function () {
      sending = null;
      queuedNow = {};
      return paint();
    });
    return sending;
  }

  // --- Discarding a conflict, with a reason (kept and audited by the server, R-OFF-2) ------
  function discard(entry, reason, errorBox) {
    var data = new URLSearchParams();
    var payload = {};
    entry.fields.forEach(function (field) { payload[field[0]] = field[1]; });
    data.append("idempotency_key", entry.key);
    data.append("tapped_at", entry.tappedAt);
    data.append("outcome", entry.outcome);
    data.append("reason", reason);
    data.append("refusal", entry.message);
    data.append("payload", JSON.stringify(payload));
    return fetch(entry.action.replace(/record\/$/, "offline-discard/"), {
      method: "POST", body: data, credentials: "same-origin", redirect: "manual",
      headers: { "X-CSRFToken": csrfToken() }
    }).then(function (response) {
      if (response.ok) { return queueDelete(entry.seq).then(paint); }
      return response.json().then(function (answer) {
        errorBox.textContent = answer.error || "Not discarded.";
      }, function () { errorBox.textContent = "Not discarded: sign in again and retry."; });
    }, function () { errorBox.textContent = "Not discarded: this needs the connection."; });
  }

  // --- What the page shows ----------------------------------------------------------------
  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text) { node.textContent = text; }
    return node;
  }
  function plural(n, word) { return n + " " + word + (n === 1 ? "" : "s"); }

  function conflictBox(entry) {
    var box = el("div", "alert alert-danger offline-conflict mb-2");
    box.setAttribute("role", "alert");
    box.appendChild(el("strong", "", "Not sent: " + entry.what + ", " +
      (entry.outcome === "given" ? "given" : "not given") + " at " + clock(entry.tappedAt) + ". "));
    box.appendChild(el("span", "", entry.message));
    var actions = el("div", "d-flex flex-wrap align-items-end gap-2 mt-2");
    var open = el("a", "btn btn-outline-dark", "Open the dose to correct");
    open.href = entry.action.replace(/record\/$/, "");
    actions.appendChild(open);
    var form = el("form", "d-flex flex-wrap align-items-end gap-2 offline-discard");
    var id = "discard-" + entry.seq;
    var field = el("div", "");
    var label = el("label", "form-label small mb-0", "Why discard it");
    label.htmlFor = id;
    var input = el("input", "form-control");
    input.id = id;
    input.name = "reason";
    input.required = true;
    input.maxLength = 500;
    field.appendChild(label);
    field.appendChild(input);
    form.appendChild(field);
    form.appendChild(el("button", "btn btn-outline-danger", "Discard this record"));
    var errorBox = el("div", "small text-danger w-100");
    errorBox.setAttribute("aria-live", "assertive");
    form.appendChild(errorBox);
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      discard(entry, input.value, errorBox);
    });
    actions.appendChild(form);
    box.appendChild(actions);
    return box;
  }

  function banner() {
    var box = document.getElementById("offline-banner");
    if (!box) {
      box = el("section", "offline-banner");
      box.id = "offline-banner";
      box.setAttribute("aria-label", "Records saved on this tablet");
      var main = document.getElementById("main") || body;
      main.insertBefore(box, main.firstChild);
    }
    return box;
  }

  function markRow(row, text, className) {
    var mark = el("p", "offline-mark mb-0 mt-1 " + className, text);
    mark.setAttribute("role", "status");
    row.appendChild(mark);
    var actions = row.querySelector(".dose-actions");
    if (actions && !actions.hidden) { actions.hidden = true; actions.dataset.offlineHidden = "1"; }
  }

  function paintRows(entries) {
    Array.prototype.forEach.call(document.querySelectorAll(".offline-mark"), function (m) { m.remove(); });
    Array.prototype.forEach.call(document.querySelectorAll("[data-offline-hidden]"), function (a) {
      a.hidden = false;
      delete a.dataset.offlineHidden;
    });
    entries.forEach(function (entry) {
      var row = document.getElementById("dose-" + entry.doseId);
      if (!row) { return; }
      if (entry.userId !== me.id) {
        markRow(row, "Saved on this tablet by " + entry.userName + ", not yet sent.", "text-warning-emphasis");
      } else if (entry.status === "waiting") {
        markRow(row, "Saved on this tablet, not yet sent (" +
          (entry.outcome === "given" ? "given" : "not given") + " at " + clock(entry.tappedAt) + ").",
          "offline-waiting");
      } else {
        markRow(row, "Saved on this tablet but not sent: choose what to do at the top of the page.",
          "text-danger fw-semibold");
      }
    });
    // R-OFF-3: offline, a controlled drug (or a row needing a second person) offers nothing.
    Array.prototype.forEach.call(document.querySelectorAll(".dose-row"), function (row) {
      var form = row.querySelector(DOSE_FORMS);
      var actions = row.querySelector(".dose-actions");
      if (!form || !actions || queueable(form)) { return; }
      var note = row.querySelector("[data-offline-note]");
      if (!note) {
        note = el("p", "offline-note mb-0", "No connection: this dose needs a second person's " +
          "password, which needs the network. Record it once the connection is back.");
        note.setAttribute("data-offline-note", "");
        row.appendChild(note);
      }
      note.hidden = !offline;
      if (offline && !actions.hidden) { actions.hidden = true; actions.dataset.offlineHidden = "1"; }
    });
  }

  function paint() {
    return queueAll().then(function (entries) {
      var box = banner();
      var typed = {};  // a reason being typed survives the repaint
      Array.prototype.forEach.call(box.querySelectorAll("input"), function (i) { typed[i.id] = i.value; });
      box.textContent = "";
      var mine = entries.filter(function (e) { return e.userId === me.id; });
      var waiting = mine.filter(function (e) { return e.status === "waiting"; });
      var conflicts = mine.filter(function (e) { return e.status === "conflict"; });
      if (offline) {
        var off = el("div", "alert alert-warning mb-2", "Offline — " + plural(waiting.length, "record") + " waiting");
        off.setAttribute("role", "status");
        off.id = "offline-status";
        box.appendChild(off);
      } else if (waiting.length) {
        box.appendChild(el("div", "alert alert-info mb-2", plural(waiting.length, "record") +
          " saved on this tablet, not yet sent. " + (notSentBecause || "Sending…")));
      }
      var others = {};
      entries.forEach(function (e) { if (e.userId !== me.id) { others[e.userName] = (others[e.userName] || 0) + 1; } });
      Object.keys(others).forEach(function (name) {
        box.appendChild(el("div", "alert alert-secondary mb-2", "Records of " + name + " waiting (" +
          others[name] + ") — they are sent when " + name + " signs in on this tablet."));
      });
      conflicts.forEach(function (entry) { box.appendChild(conflictBox(entry)); });
      Array.prototype.forEach.call(box.querySelectorAll("input"), function (i) {
        if (typed[i.id]) { i.value = typed[i.id]; }
      });
      box.hidden = !box.childElementCount;
      body.dataset.offlineWaiting = String(waiting.length);  // what a browser test waits on
      paintRows(entries);
    }).catch(function () { /* no IndexedDB (a private window): the page works as before */ });
  }

  body.classList.toggle("is-offline", offline);
  paint().then(function () { if (!offline) { send(); } });
  // A send that failed with the network still "on" (Wi-Fi without internet) is tried again.
  setInterval(function () { if (offline && navigator.onLine) { send(); } }, 30000);
})();
