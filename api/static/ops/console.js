"use strict";
/* The dispatcher console: a live map of couriers, stores and open orders per H3 cell; the board of
 * every active order as on time / at risk / late; and the dispatcher's hand (reassign an order, move
 * all of a courier's open stops to another, take a courier off shift). Each action is queued with its
 * own Idempotency-Key (a retry is the same action) and its outcome comes back on /ws/ops. */
(function () {
  const PREFIX = "o2o.ops.";
  const REFRESH_MS = 3000;
  const SOON_MS = 15 * 60 * 1000;
  const $ = (id) => document.getElementById(id);
  let S = load(), ws = null, retry = 0, timer = null, couriers = {}, zones = [], stores = [], orders = [], controls = [], seq = 0, n = 0;

  function load() { try { return JSON.parse(localStorage.getItem(PREFIX + "state") || "{}"); } catch (e) { return {}; } }
  function save() { localStorage.setItem(PREFIX + "state", JSON.stringify(S)); }
  const { el, svg, hhmm, notice } = window.O2O;
  async function api(method, path, body, headers) {
    try {
      return await window.O2O.api(method, path, { token: S.token, json: body, headers });
    } catch (e) {
      if (e.status === 401 && S.token) { signOut(); notice("Your sign-in expired: sign in again.", "bad"); }
      throw e;
    }
  }

  function keepSignIn(out, user) {
    S = { token: out.access_token, user, session: String(Date.now()) }; save();
    start();
  }
  function signOut() {
    S = {}; save(); clearInterval(timer); timer = null;
    if (ws) { ws.onclose = null; ws.close(1000); ws = null; }
    $("conn").dataset.state = "idle"; $("conn").textContent = "signed out";
    render();
  }

  // -- actions: queued with an Idempotency-Key; the outcome is an `action` frame ----------------------
  async function act(path, body, what) {
    n += 1;
    const key = "console." + S.session + "." + n;
    try {
      const out = await api("POST", path, body, { "Idempotency-Key": key });
      logLine({ ref: out.ref, ok: null, text: what + ": queued", what });
    } catch (e) { notice(what + ": " + e.message, "bad"); }
  }
  const pending = {};
  function logLine(item) {
    const log = $("log");
    if (log.firstElementChild && log.firstElementChild.classList.contains("empty")) log.replaceChildren();
    const li = el("li", { "data-ref": item.ref || "", "data-ok": String(item.ok), "data-what": item.what || "" }, null, item.text);
    log.prepend(li);
    if (item.ref) pending[item.ref] = li;
  }
  function onAction(d) {
    const li = pending[d.ref];
    const what = (li && li.dataset.what) || d.kind.replace("ops_", "").replace(/_/g, " ");
    const text = what + (d.ok ? ": done" : ": refused: " + (d.detail || "")) + " (by " + d.by + ", " + new Date(d.at).toLocaleTimeString() + ")";
    if (d.repeated) return;
    if (li) { li.textContent = text; li.dataset.ok = String(d.ok); delete pending[d.ref]; } else logLine({ ok: d.ok, text });
    if (!d.ok && li) notice(text, "bad");
    refresh();
  }

  // -- the ops socket: couriers move, actions are answered --------------------------------------------
  function connect() {
    if (!S.token) return;
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const sock = new WebSocket(scheme + "//" + location.host + "/ws/ops?token=" + encodeURIComponent(S.token) + (seq ? "&after=" + seq : ""));
    ws = sock;
    sock.onmessage = (m) => {
      const f = JSON.parse(m.data);
      if (typeof f.seq === "number" && f.seq > seq) seq = f.seq;
      const d = f.data || {};
      if (f.type === "hello") { retry = 0; $("conn").dataset.state = "live"; $("conn").textContent = "live"; for (const z of d.regions || []) takeZones(z); drawMap(); }
      else if (f.type === "zones") { takeZones(d); drawMap(); renderCouriers(); }
      else if (f.type === "action") onAction(d);
      else if (f.type === "handover") logLine({ ok: true, text: d.courier + " moved to region " + d.to + " (" + d.reason + ")" });
      else if (f.type === "ping") sock.send(JSON.stringify({ type: "pong" }));
    };
    sock.onclose = (ev) => {
      if (ws !== sock) return;
      ws = null;
      if (ev.code === 4401 || ev.code === 4403) { signOut(); notice("The ops stream refused this sign-in.", "bad"); return; }
      $("conn").dataset.state = "offline"; $("conn").textContent = "reconnecting\u2026";
      setTimeout(connect, Math.min(15000, 1000 * Math.pow(2, retry++)));
    };
  }
  function takeZones(body) {
    for (const id in couriers) if (couriers[id].region === body.region) delete couriers[id];
    for (const [id, c] of Object.entries(body.couriers || {})) couriers[id] = Object.assign({ id, region: body.region }, c);
  }

  async function refresh() {
    if (!S.token) return;
    try {
      [orders, zones, stores, controls] = await Promise.all([api("GET", "/ops/orders"), api("GET", "/ops/zones"),
        stores.length ? stores : api("GET", "/stores"), api("GET", "/ops/delivery-zones")]);
      render();
    } catch (e) { if (S.token) $("board-summary").textContent = "not updated: " + e.message; }
  }

  // -- drawing ---------------------------------------------------------------------------------------------
  function courierSelect(region, exclude) {
    const sel = el("select", { class: "to" });
    el("option", { value: "" }, sel, "courier\u2026");
    for (const c of Object.values(couriers).sort((a, b) => a.id.localeCompare(b.id, undefined, { numeric: true }))) {
      if (c.id === exclude || (region && c.region !== region)) continue;
      el("option", { value: c.id }, sel, c.id + " \u00b7 " + c.status);
    }
    return sel;
  }
  function render() {
    const signedIn = !!S.token;
    for (const id of ["board-card", "map-card", "couriers-card", "zones-card", "log-card", "signout"]) $(id).hidden = !signedIn;
    $("signin").hidden = signedIn;
    $("who").textContent = signedIn ? S.user : "";
    if (!signedIn) return;
    const zf = $("zone-filter"), chosen = zf.value;
    const zonesSeen = [...new Set(orders.map((o) => o.zone))].sort();
    zf.replaceChildren(); el("option", { value: "" }, zf, "all");
    for (const z of zonesSeen) el("option", { value: z }, zf, z);
    zf.value = zonesSeen.includes(chosen) ? chosen : "";
    const soon = $("soon-filter").checked, now = Date.now();
    const shown = orders.filter((o) => (!zf.value || o.zone === zf.value) && (!soon || new Date(o.window.promise) - now <= SOON_MS));
    const count = { on_time: 0, at_risk: 0, late: 0 };
    for (const o of orders) count[o.board] += 1;
    $("board-count").textContent = orders.length + " active";
    $("board-summary").textContent = count.late + " late \u00b7 " + count.at_risk + " at risk \u00b7 " + count.on_time + " on time";
    const tbody = $("board"); tbody.replaceChildren();
    for (const o of shown) {
      const tr = el("tr", { "data-order": o.id, "data-board": o.board }, tbody);
      el("td", {}, tr, o.id); el("td", {}, tr, o.store_id); el("td", {}, tr, o.status.replace(/_/g, " "));
      el("td", {}, tr, hhmm(o.window.promise)); el("td", {}, tr, hhmm(o.eta));
      el("span", { class: "pill", "data-board": o.board }, el("td", {}, tr), o.board.replace("_", " "));
      el("td", {}, tr, o.courier || "");
      const td = el("td", { class: "actions" }, tr);
      if (o.status !== "picked_up") {
        const sel = courierSelect(o.region, o.courier); td.appendChild(sel);
        const b = el("button", { "data-action": "reassign" }, td, "Reassign");
        b.addEventListener("click", () => { if (!sel.value) return notice("Choose the courier who takes " + o.id + ".", "bad"); act("/ops/orders/" + encodeURIComponent(o.id) + "/reassign", { to: sel.value }, "reassign " + o.id + " to " + sel.value); });
      }
    }
    if (!shown.length) el("td", { colspan: "8", class: "empty" }, el("tr", {}, tbody), orders.length ? "none with these filters" : "no active order");
    renderCouriers();
    renderZones();
    drawMap();
  }
  function renderZones() {
    const list = $("door-zones"); list.replaceChildren();
    for (const z of [...new Set(orders.map((o) => o.door_zone))].sort()) el("option", { value: z }, list);
    const tbody = $("zone-controls"); tbody.replaceChildren();
    for (const c of controls) {
      const tr = el("tr", { "data-zone": c.zone }, tbody);
      el("td", {}, tr, c.zone); el("td", { class: "paused" }, tr, c.paused || ""); el("td", { class: "capacity" }, tr, c.slot_capacity === null ? "default" : String(c.slot_capacity));
    }
    if (!controls.length) el("td", { colspan: "3", class: "empty" }, el("tr", {}, tbody), "every zone open, default capacity");
  }
  async function zoneCall(method, suffix, body, what) {
    const zone = $("zone-cell").value.trim();
    if (!zone) return notice("Name the zone (an H3 cell of resolution 7; the board's doors are offered).", "bad");
    try {
      await api(method, "/ops/delivery-zones/" + encodeURIComponent(zone) + suffix, body);
      logLine({ ok: true, text: what + " " + zone });
    } catch (e) { notice(what + " " + zone + ": " + e.message, "bad"); }
    refresh();
  }
  function renderCouriers() {
    const tbody = $("couriers"); tbody.replaceChildren();
    const list = Object.values(couriers).sort((a, b) => a.id.localeCompare(b.id, undefined, { numeric: true }));
    for (const c of list) {
      const tr = el("tr", { "data-courier": c.id }, tbody);
      el("td", {}, tr, c.id); el("td", {}, tr, c.status.replace(/_/g, " "));
      const td = el("td", { class: "actions" }, tr);
      const sel = courierSelect(c.region, c.id); td.appendChild(sel);
      const move = el("button", { class: "secondary", "data-action": "move" }, td, "Move stops");
      move.addEventListener("click", () => { if (!sel.value) return notice("Choose the courier who takes " + c.id + "'s stops.", "bad"); act("/ops/couriers/" + encodeURIComponent(c.id) + "/reassign", { to: sel.value }, "move " + c.id + "'s stops to " + sel.value); });
      const off = el("button", { class: "danger", "data-action": "off" }, el("td", {}, tr), "Off shift");
      off.addEventListener("click", () => act("/ops/couriers/" + encodeURIComponent(c.id) + "/off-shift", undefined, "take " + c.id + " off shift"));
    }
    if (!list.length) el("td", { colspan: "4", class: "empty" }, el("tr", {}, tbody), "nobody on shift");
  }
  function drawMap() {
    const map = $("map");
    if ($("map-card").hidden) return;
    map.replaceChildren();
    const pts = [...stores.map((s) => [s.lat, s.lng]), ...Object.values(couriers).map((c) => [c.lat, c.lng]), ...zones.map((z) => [z.lat, z.lng])];
    if (!pts.length) return;
    const W = 640, H = 420, pad = 30, k = Math.cos(pts[0][0] * Math.PI / 180);
    const xs = pts.map((p) => p[1] * k), ys = pts.map((p) => p[0]);
    const x0 = Math.min(...xs), x1 = Math.max(...xs), y0 = Math.min(...ys), y1 = Math.max(...ys);
    const scale = Math.min((W - 2 * pad) / Math.max(x1 - x0, 0.01), (H - 2 * pad) / Math.max(y1 - y0, 0.01));
    const xy = (lat, lng) => [W / 2 + (lng * k - (x0 + x1) / 2) * scale, H / 2 - (lat - (y0 + y1) / 2) * scale];
    const hexR = Math.max(6, 460 * scale / 111320);  // a resolution-8 cell is about 460 m across
    for (const z of zones) {
      const [x, y] = xy(z.lat, z.lng);
      const corners = [0, 1, 2, 3, 4, 5].map((i) => { const a = Math.PI / 3 * i + Math.PI / 6; return (x + hexR * Math.cos(a)).toFixed(1) + "," + (y + hexR * Math.sin(a)).toFixed(1); });
      svg("polygon", { class: "zone" + (z.open_orders ? "" : " idle"), points: corners.join(" "), "data-cell": z.cell }, map);
      if (z.open_orders) svg("text", { x: x - 4, y: y + 4 }, map).textContent = String(z.open_orders);
    }
    for (const s of stores) { const [x, y] = xy(s.lat, s.lng); svg("rect", { class: "store", x: x - 4, y: y - 4, width: 8, height: 8 }, map); }
    for (const c of Object.values(couriers)) { const [x, y] = xy(c.lat, c.lng); svg("circle", { class: "courier", cx: x, cy: y, r: 5, "data-courier": c.id, "data-status": c.status }, map); }
    $("map-note").textContent = Object.keys(couriers).length + " couriers \u00b7 " + zones.reduce((a, z) => a + z.open_orders, 0) + " open orders";
  }

  function start() {
    render();
    if (!S.token) return;
    S.session = S.session || String(Date.now()); save();
    connect();
    refresh();
    clearInterval(timer);
    timer = setInterval(() => { if (!document.querySelector("select:focus")) refresh(); }, REFRESH_MS);
  }
  window.O2O.signInForm(["planner", "admin"], "the console is for planners and admins", keepSignIn);
  $("signout").addEventListener("click", signOut);
  $("zone-filter").addEventListener("change", render);
  $("zone-pause").addEventListener("click", () => {
    const reason = $("zone-reason").value.trim();
    if (!reason) return notice("Say why: customers who order are told.", "bad");
    zoneCall("PUT", "/pause", { reason }, "pause");
  });
  $("zone-resume").addEventListener("click", () => zoneCall("DELETE", "/pause", undefined, "resume"));
  $("zone-capacity-set").addEventListener("click", () => zoneCall("PUT", "/slot-capacity", { capacity: Number($("zone-capacity").value) }, "slot capacity " + $("zone-capacity").value + " for"));
  $("zone-capacity-reset").addEventListener("click", () => zoneCall("DELETE", "/slot-capacity", undefined, "default slot capacity for"));
  $("soon-filter").addEventListener("change", render);
  start();
})();
