// eMAR service worker (R-OFF-1 groundwork, R-OFF-5). Served from /sw.js so that its scope is
// the whole site; no inline scripts anywhere (the Content-Security-Policy allows 'self' only).
//
// What it keeps: the project's static files, and the round pages and downtime MAR of the unit
// the person last opened, so a reload without a connection still shows them. Nothing else is
// kept, and the pages are cleared on sign-out, on the sign-in page (idle logout and a user
// switch both pass through it) and when the server answers a page with the sign-in page.
// Recording offline (the queue of R-OFF-1/2) is static/emar/offline-queue.js: it lives in the
// page and IndexedDB, which this worker never clears.
"use strict";

var STATIC_CACHE = "emar-static-v2";
var ROUND_CACHE = "emar-round-v1";
var ROUND_PAGE = /^\/homes\/\d+\/round\/$/;
var DOWNTIME_MAR = /^\/homes\/\d+\/units\/\d+\/downtime-mar\.pdf$/;
var SIGNED_OUT = /^\/(login|logout)\//;

self.addEventListener("install", function () { self.skipWaiting(); });

self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches.keys().then(function (names) {
      return Promise.all(names.filter(function (n) {
        return n !== STATIC_CACHE && n !== ROUND_CACHE;
      }).map(function (n) { return caches.delete(n); }));
    }).then(function () { return self.clients.claim(); })
  );
});

function clearRounds() { return caches.delete(ROUND_CACHE); }

self.addEventListener("message", function (event) {
  if (event.data === "clear-rounds") { event.waitUntil(clearRounds()); }
});

// The unit's pages: from the network when there is one (and kept), else the kept copy.
function networkFirst(request) {
  return fetch(request).then(function (response) {
    var path = new URL(response.url).pathname;
    if (SIGNED_OUT.test(path)) {
      return clearRounds().then(function () { return response; });
    }
    if (response.ok && !response.redirected) {
      var copy = response.clone();
      // Only the unit last opened is kept: a new unit's page replaces the others.
      caches.open(ROUND_CACHE).then(function (cache) {
        return cache.keys().then(function (keys) {
          return Promise.all(keys.filter(function (k) {
            return ROUND_PAGE.test(new URL(k.url).pathname) && ROUND_PAGE.test(path) &&
              new URL(k.url).searchParams.get("unit") !== new URL(request.url).searchParams.get("unit");
          }).map(function (k) { return cache.delete(k); }));
        }).then(function () { return cache.put(request, copy); });
      });
    }
    return response;
  }).catch(function () {
    return caches.open(ROUND_CACHE).then(function (cache) {
      return cache.match(request).then(function (kept) {
        return kept || Response.error();
      });
    });
  });
}

// The kept copy at once (it works offline), refreshed from the network for the next load, so
// a new release's files (unhashed in the embedded run) reach the tablet.
function staleWhileRevalidate(request) {
  return caches.open(STATIC_CACHE).then(function (cache) {
    return cache.match(request).then(function (kept) {
      var fresh = fetch(request).then(function (response) {
        if (response.ok) { cache.put(request, response.clone()); }
        return response;
      });
      if (kept) {
        fresh.catch(function () { /* offline: the kept copy serves */ });
        return kept;
      }
      return fresh;
    });
  });
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) { return; }
  if (SIGNED_OUT.test(url.pathname)) {
    event.waitUntil(clearRounds());
    return;
  }
  if (request.method !== "GET") { return; }
  if (url.pathname.indexOf("/static/") === 0) {
    event.respondWith(staleWhileRevalidate(request));
  } else if (ROUND_PAGE.test(url.pathname) && request.mode === "navigate") {
    event.respondWith(networkFirst(request));
  } else if (DOWNTIME_MAR.test(url.pathname)) {
    event.respondWith(networkFirst(request));
  }
});
