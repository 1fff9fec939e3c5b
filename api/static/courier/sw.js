"use strict";
/* The courier app's service worker: the app's own files from the network when there is one, from
 * the cache when there is not, so the app opens without signal. Nothing else is cached: the API and
 * the socket are always live (the app keeps its unsent reports itself). */
const CACHE = "o2o-courier-v2";
const SHELL = ["./", "kit.js", "app.js", "manifest.webmanifest", "icon.svg"];

self.addEventListener("install", (ev) => {
  ev.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (ev) => {
  ev.waitUntil(caches.keys()
    .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
    .then(() => self.clients.claim()));
});

self.addEventListener("fetch", (ev) => {
  const url = new URL(ev.request.url);
  if (ev.request.method !== "GET" || url.origin !== self.location.origin || !url.pathname.startsWith("/courier/")) return;
  ev.respondWith(fetch(ev.request).then((reply) => {
    if (reply.ok) { const copy = reply.clone(); caches.open(CACHE).then((c) => c.put(ev.request, copy)); }
    return reply;
  }).catch(() => caches.match(ev.request).then((hit) => hit || caches.match("./"))));
});
