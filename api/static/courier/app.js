"use strict";
/* The courier app: the /ws/courier protocol (docs/websocket-protocol.md) for a person with a phone.
 *
 * What it keeps on the phone (localStorage), so a reload or a night without signal loses nothing:
 * the token, the last frame's seq (a reconnect resumes after it), the route as the dispatcher last
 * said it, and every report (accept, decline, pickup, dropoff) that has no verdict yet. Each report
 * has an id of its own; it is sent again, with that id, on every reconnect and after a while without
 * an answer, and the dispatcher applies an id once: exactly once, however often the line drops.
 */
(function () {
  const PREFIX = "o2o.courier.";
  const POSITION_EVERY_MS = 5000;  // a position at most this often (the server throttles fan-out anyway)
  const POSITION_SOON_M = 50;  // ... or sooner, after a move this far (but at most once a second)
  const RESEND_MS = 8000;  // a report with no answer this long is sent again (same id)
  const KEPT_DONE = 200;  // order ids remembered as picked up or dropped, like the server's verdicts
  const FINAL = new Set(["not_yours", "wrong_pin", "pin_locked", "bad_frame", "no_shift", "unknown_type", "bad_json", "too_large"]);
  const $ = (id) => document.getElementById(id);

  function fresh() {
    return { token: null, courier: null, session: String(Date.now()), n: 0, seq: 0, status: "off_shift",
             offers: {}, open: null, route: [], picked: [], dropped: [], pending: {}, order: [] };
  }
  function load() {
    try { return Object.assign(fresh(), JSON.parse(localStorage.getItem(PREFIX + "state") || "{}")); } catch (e) { return fresh(); }
  }
  let S = load();
  function save() { localStorage.setItem(PREFIX + "state", JSON.stringify(S)); }

  let ws = null, retry = 0, retryTimer = null, skew = 0, stores = {}, here = null, lastPos = null, sentAt = {};

  const { el, svg, hhmm, notice } = window.O2O;
  function metres(a, b) {
    const r = Math.PI / 180, x = (b.lng - a.lng) * r * Math.cos((a.lat + b.lat) * r / 2), y = (b.lat - a.lat) * r;
    return 6371000 * Math.hypot(x, y);
  }
  function setConn(state, text) { const c = $("conn"); c.dataset.state = state; c.textContent = text; }
  function remember(list, ids) { for (const id of ids) if (!list.includes(id)) list.push(id); list.splice(0, Math.max(0, list.length - KEPT_DONE)); }

  // -- REST -------------------------------------------------------------------------------------
  function api(method, path, body) { return window.O2O.api(method, path, { token: S.token, json: body }); }

  function keepSignIn(out, user) {
    const courier = out.entity || user;
    if (S.courier !== courier) S = fresh();  // another courier on this phone: nothing of the last one's carries over
    S.token = out.access_token; S.courier = courier;
    save();
    start();
  }

  function signOut() {
    if (Object.keys(S.pending).length) {
      notice("Reports are still waiting for signal; they are kept until the dispatcher answers them.", "bad");
      return;
    }
    const old = S;
    S = fresh(); save();
    if (ws) { ws.onclose = null; ws.close(1000); ws = null; }
    clearTimeout(retryTimer);
    setConn("idle", "signed out");
    render();
    return old;
  }

  async function shift(on) {
    const body = { on };
    if (on) {
      if (!here) { notice("Allow location on this phone to start a shift: the dispatcher needs to know where you are.", "bad"); return; }
      body.lat = here.lat; body.lng = here.lng;
    }
    try {
      const out = await api("POST", "/couriers/me/shift", body);
      notice(on ? "Shift starting: offers come here." : "Shift ending after the stops on your route.", "info");
      return out;
    } catch (e) {
      if (e.status === 401) return expired();
      notice((on ? "Could not start the shift: " : "Could not end the shift: ") + e.message, "bad");
    }
  }

  function expired() {
    S.token = null; save();
    if (ws) { ws.onclose = null; ws.close(1000); ws = null; }
    setConn("idle", "signed out");
    notice("Your sign-in expired: sign in again (reports not yet answered are kept and sent after).", "bad");
    render();
  }

  // -- the socket ---------------------------------------------------------------------------------
  function connect() {
    clearTimeout(retryTimer);
    if (!S.token) return;
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const url = scheme + "//" + location.host + "/ws/courier?token=" + encodeURIComponent(S.token) + "&after=" + S.seq;
    setConn("offline", retry ? "reconnecting\u2026" : "connecting\u2026");
    const sock = new WebSocket(url);
    ws = sock;
    sock.onmessage = (m) => { if (ws === sock) handle(JSON.parse(m.data)); };
    sock.onclose = (ev) => {
      if (ws !== sock) return;
      ws = null;
      if (ev.code === 4401) return expired();
      if (ev.code === 4403) { notice("This account cannot work as a courier.", "bad"); return signOut(); }
      setConn("offline", "offline \u00b7 reports are kept");
      const wait = Math.min(15000, 1000 * Math.pow(2, retry++));
      retryTimer = setTimeout(connect, wait);
    };
    sock.onerror = () => {};
  }
  function online() { return ws !== null && ws.readyState === WebSocket.OPEN; }
  function sendRaw(frame) { if (online()) { ws.send(JSON.stringify(frame)); return true; } return false; }

  function report(frame) {
    S.n += 1;
    const id = S.courier + "." + S.session + "." + S.n;
    const full = Object.assign({}, frame, { id });
    S.pending[id] = full; S.order.push(id);
    save();
    if (sendRaw(full)) sentAt[id] = Date.now();
    render();
    return id;
  }
  function resend(olderThan) {
    const now = Date.now();
    for (const id of S.order) {
      const f = S.pending[id];
      if (f && now - (sentAt[id] || 0) >= olderThan && sendRaw(f)) sentAt[id] = now;
    }
  }
  function settle(ref) {
    if (!(ref in S.pending)) return null;
    const f = S.pending[ref];
    delete S.pending[ref]; delete sentAt[ref];
    S.order = S.order.filter((id) => id !== ref);
    for (const s of S.route) if (s.ref === ref) delete s.ref;
    return f;
  }

  // -- frames from the dispatcher -------------------------------------------------------------------
  function handle(f) {
    if (typeof f.seq === "number" && f.seq > S.seq) S.seq = f.seq;
    const d = f.data || {};
    switch (f.type) {
      case "hello":
        retry = 0;
        skew = (f.ts || Date.now()) - Date.now();
        setConn("live", "online");
        S.status = d.status || S.status;
        resend(0);  // every report without a verdict, again, with its id
        sendPosition(true);
        break;
      case "ping": sendRaw({ type: "pong" }); break;
      case "offer":
        S.offers[d.offer] = { orders: d.orders || [], stops: d.stops || [], expires: d.expires };
        pruneOffers();
        if ((d.expires || 0) > Date.now() + skew) S.open = d.offer;
        break;
      case "offer_accepted": {
        if (S.open === d.offer) S.open = null;
        const got = S.offers[d.offer];
        if (got) merge(got.stops);
        break;
      }
      case "offer_withdrawn":
        if (S.open === d.offer) { S.open = null; if (d.reason !== "declined") notice("Offer withdrawn: " + d.reason, "info"); }
        break;
      case "route_changed":
        S.route = [];
        merge(d.stops || []);
        if (d.reason && !/^picked up/.test(d.reason)) notice("Route changed: " + d.reason, "info");
        break;
      case "status":
        S.status = d.status || S.status;
        break;
      case "verdict": {
        const sent = settle(d.ref);
        if (d.ok) {
          if (d.kind === "pickup" && sent) { remember(S.picked, sent.orders || []); S.route = S.route.filter((s) => !(s.kind === "pickup" && (s.orders || []).every((o) => S.picked.includes(o)))); }
          if (d.kind === "dropoff" && sent) { remember(S.dropped, [sent.order]); S.route = S.route.filter((s) => !(s.kind === "dropoff" && s.orders.includes(sent.order))); notice("Delivered " + sent.order + ".", "info"); }
        } else if (sent) {
          notice("The dispatcher refused your " + d.kind + ": " + (d.detail || "no reason given"), "bad");
        }
        break;
      }
      case "error":
        if (d.ref && d.ref in S.pending) {
          if (d.code === "unavailable") { sentAt[d.ref] = Date.now() - RESEND_MS + 2000; break; }  // not stored: again shortly
          if (FINAL.has(d.code)) settle(d.ref);
        }
        notice(errorText(d), "bad");
        break;
      case "shift_ending": notice("Your shift is ending: " + d.stops_left + " stop(s) left to finish.", "info"); break;
      case "handed_over": notice("You now work for region " + d.to + " (" + d.reason + ").", "info"); break;
      case "reposition": notice("Busy soon near " + d.lat.toFixed(4) + ", " + d.lng.toFixed(4) + ": a suggestion to wait there; work comes first.", "info"); break;
      default: break;
    }
    save();
    render();
  }
  function errorText(d) {
    if (d.code === "wrong_pin") return "Wrong PIN: " + d.detail;
    if (d.code === "pin_locked") return "Drop-off locked: " + d.detail;
    if (d.code === "no_shift") return "Start a shift first.";
    if (d.code === "unavailable") return "The server could not store that just now; it is sent again.";
    return (d.code || "error") + ": " + (d.detail || "");
  }
  function pruneOffers() {
    const ids = Object.keys(S.offers);
    for (const id of ids.slice(0, Math.max(0, ids.length - 20))) if (id !== S.open) delete S.offers[id];
  }
  function merge(stops) {
    // as the dispatcher said, leaving out stops of orders done already; a stop with a report on its way keeps its ref
    const have = new Set(S.route.flatMap((s) => s.orders.map((o) => s.kind + ":" + o)));
    for (const stop of stops) {
      if (stop.kind !== "pickup" && stop.kind !== "dropoff") continue;
      const done = stop.kind === "pickup" ? S.picked : S.dropped;
      const left = (stop.orders || []).filter((o) => !have.has(stop.kind + ":" + o) && !done.includes(o));
      if (left.length) S.route.push(Object.assign({}, stop, { orders: left }));
    }
    for (const id of S.order) {
      const f = S.pending[id];
      const s = f && stopOf(f);
      if (s) s.ref = id;
    }
  }
  function stopOf(f) {
    if (f.type === "pickup") return S.route.find((s) => s.kind === "pickup" && s.orders.some((o) => f.orders.includes(o)));
    if (f.type === "dropoff") return S.route.find((s) => s.kind === "dropoff" && s.orders.includes(f.order));
    return null;
  }

  // -- what the courier does ------------------------------------------------------------------------
  function answer(kind) {
    if (!S.open) return;
    report({ type: kind, offer: S.open });
    if (kind === "decline") S.open = null;  // gone from this phone at once; the verdict settles it
    save(); render();
  }
  function nextStop() { return S.route.find((s) => !s.ref) || null; }
  function pickedUp() {
    const s = nextStop();
    if (!s || s.kind !== "pickup") return;
    s.ref = report({ type: "pickup", orders: s.orders });
    save(); render();
  }
  function delivered(ev) {
    ev.preventDefault();
    const s = nextStop();
    const pin = $("pin").value.trim();
    if (!s || s.kind !== "dropoff") return;
    if (!/^[0-9]{4}$/.test(pin)) { notice("The PIN is the customer's 4 digits.", "bad"); return; }
    for (const order of s.orders) s.ref = report({ type: "dropoff", order, pin });
    $("pin").value = "";
    save(); render();
  }

  // -- position ----------------------------------------------------------------------------------------
  function sendPosition(force) {
    if (!here || !online() || S.status === "off_shift") return;
    const now = Date.now();
    const due = !lastPos || force || now - lastPos.at >= POSITION_EVERY_MS || (now - lastPos.at >= 1000 && metres(lastPos, here) >= POSITION_SOON_M);
    if (!due) return;
    sendRaw({ type: "location", lat: here.lat, lng: here.lng, at: now });
    lastPos = { lat: here.lat, lng: here.lng, at: now };
  }
  function watchPosition() {
    if (!("geolocation" in navigator)) { $("position").textContent = "no location on this device"; return; }
    navigator.geolocation.watchPosition((p) => {
      here = { lat: +p.coords.latitude.toFixed(6), lng: +p.coords.longitude.toFixed(6) };
      $("position").textContent = here.lat.toFixed(5) + ", " + here.lng.toFixed(5);
      sendPosition(false);
      drawMap();
    }, (e) => { $("position").textContent = "location: " + e.message; }, { enableHighAccuracy: true, maximumAge: 5000 });
  }

  // -- drawing -----------------------------------------------------------------------------------------
  function stopTitle(s) {
    if (s.kind === "pickup") return "Pick up at " + ((stores[s.node] && stores[s.node].name) || s.node);
    return "Drop off " + s.orders.join(", ");
  }
  function stopWhere(s) {
    if (s.kind === "pickup") return "Store " + s.node + " \u00b7 orders " + s.orders.join(", ");
    if (s.exact === false) return "Near cell " + s.cell + ": the door shows once you have the food";
    return "Door at " + s.lat.toFixed(5) + ", " + s.lng.toFixed(5);
  }
  function mapsLink(s, parent) {
    const a = el("a", { class: "maps", href: "geo:" + s.lat + "," + s.lng + "?q=" + s.lat + "," + s.lng, "data-kind": s.kind }, parent, "open in maps");
    return a;
  }
  function stopItem(s, i, parent) {
    const li = el("li", { "data-kind": s.kind, "data-orders": s.orders.join(","), "data-exact": String(s.exact !== false) }, parent);
    el("div", { class: "kind " + s.kind }, li, String(i + 1));
    const what = el("div", { class: "what" }, li);
    el("b", {}, what, stopTitle(s) + (s.ref ? " \u00b7 sent, waiting for signal" : ""));
    el("small", {}, what, stopWhere(s));
    mapsLink(s, what);
    el("div", { class: "when" }, li, hhmm(s.at));
    return li;
  }

  function render() {
    const signedIn = !!S.token;
    $("signin").hidden = signedIn;
    $("shift").hidden = !signedIn;
    $("who").textContent = S.courier || "";
    const onShift = S.status && S.status !== "off_shift";
    $("shift-status").textContent = S.status ? S.status.replace(/_/g, " ") : "";
    $("shift-status").dataset.status = S.status || "";
    $("shift-start").hidden = onShift; $("shift-end").hidden = !onShift;
    const waiting = Object.keys(S.pending).length;
    const p = $("pending");
    p.dataset.count = String(waiting);
    p.textContent = waiting + (waiting === 1 ? " report waiting" : " reports waiting");
    p.classList.toggle("show", waiting > 0);

    const offer = S.open && S.offers[S.open];
    $("offer").hidden = !signedIn || !offer;
    $("offer").dataset.offer = offer ? S.open : "";
    if (offer) {
      $("offer-title").textContent = offer.orders.length + (offer.orders.length === 1 ? " order" : " orders");
      const list = $("offer-stops"); list.replaceChildren();
      offer.stops.forEach((s, i) => stopItem(s, i, list));
      const answered = S.order.some((id) => S.pending[id].offer === S.open);
      $("accept").disabled = answered; $("decline").disabled = answered;
      tick();
    }

    const next = nextStop();
    $("next").hidden = !signedIn || !next;
    if (next) {
      $("next").dataset.kind = next.kind; $("next").dataset.orders = next.orders.join(",");
      $("next-title").textContent = stopTitle(next);
      const where = $("next-where"); where.replaceChildren();
      el("span", {}, where, stopWhere(next) + " \u00b7 ");
      mapsLink(next, where);
      $("next-pickup").hidden = next.kind !== "pickup";
      $("next-dropoff").hidden = next.kind !== "dropoff";
    }
    $("route-card").hidden = !signedIn || (!S.route.length && !offer);
    const route = $("route"); route.replaceChildren();
    S.route.forEach((s, i) => stopItem(s, i, route));
    drawMap();
  }
  function tick() {
    const offer = S.open && S.offers[S.open];
    if (!offer) return;
    const left = Math.max(0, offer.expires - (Date.now() + skew));
    $("offer-clock").textContent = Math.ceil(left / 1000) + " s";
    const total = Math.max(1, offer.expires - (offer.shown || (offer.shown = Date.now() + skew)));
    $("offer-bar").firstElementChild.style.width = (100 * left / total).toFixed(1) + "%";
  }

  function drawMap() {
    const map = $("map");
    if (!map || $("route-card").hidden) return;
    map.replaceChildren();
    const offer = S.open && S.offers[S.open];
    const stops = S.route.concat(offer ? offer.stops : []);
    const pts = stops.map((s) => ({ lat: s.lat, lng: s.lng }));
    if (here) pts.push(here);
    if (!pts.length) return;
    const W = 600, H = 320, pad = 44;
    const k = Math.cos(pts[0].lat * Math.PI / 180);
    const x0 = Math.min(...pts.map((p) => p.lng * k)), x1 = Math.max(...pts.map((p) => p.lng * k));
    const y0 = Math.min(...pts.map((p) => p.lat)), y1 = Math.max(...pts.map((p) => p.lat));
    const span = 0.004;  // at least about 400 m across, so one point is not a whole map
    const scale = Math.min((W - 2 * pad) / Math.max(x1 - x0, span), (H - 2 * pad) / Math.max(y1 - y0, span * H / W));
    const cx = (x0 + x1) / 2, cy = (y0 + y1) / 2;
    const xy = (p) => [W / 2 + (p.lng * k - cx) * scale, H / 2 - (p.lat - cy) * scale];
    const legs = (here ? [here] : []).concat(stops.map((s) => ({ lat: s.lat, lng: s.lng })));
    if (legs.length > 1) svg("polyline", { class: "leg", points: legs.map((p) => xy(p).join(",")).join(" ") }, map);
    stops.forEach((s, i) => {
      const [x, y] = xy(s);
      if (s.kind === "dropoff" && s.exact === false) svg("circle", { class: "cell", cx: x, cy: y, r: Math.min(60, Math.max(10, 174 * scale / 111320)) }, map);
      if (s.kind === "pickup") svg("rect", { class: "store", x: x - 8, y: y - 8, width: 16, height: 16, rx: 3 }, map);
      else svg("circle", { class: "door", cx: x, cy: y, r: 8 }, map);
      svg("text", { x: x + 11, y: y + 4 }, map).textContent = String(i + 1);
    });
    if (here) { const [x, y] = xy(here); svg("circle", { class: "me", id: "me", cx: x, cy: y, r: 8 }, map); }
  }

  async function loadStores() {
    try { for (const s of await api("GET", "/stores")) stores[s.id] = s; render(); } catch (e) { /* names only; ids do */ }
  }

  function start() {
    render();
    if (!S.token) return;
    loadStores();
    connect();
  }

  window.O2O.signInForm(["courier"], "this app is for couriers", keepSignIn);
  $("signout").addEventListener("click", signOut);
  $("shift-start").addEventListener("click", () => shift(true));
  $("shift-end").addEventListener("click", () => shift(false));
  $("accept").addEventListener("click", () => answer("accept"));
  $("decline").addEventListener("click", () => answer("decline"));
  $("picked-up").addEventListener("click", pickedUp);
  $("next-dropoff").addEventListener("submit", delivered);
  setInterval(() => { tick(); if (online()) { resend(RESEND_MS); sendPosition(false); } }, 1000);
  window.addEventListener("online", () => { if (!ws && S.token) { retry = 0; connect(); } });
  if ("serviceWorker" in navigator) navigator.serviceWorker.register("sw.js").catch(() => {});
  watchPosition();
  start();
})();
