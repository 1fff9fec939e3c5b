"use strict";
/* The store console: the store's own orders (accept with a ready time, reject with a reason, mark
 * ready) with the courier's time at the store, and its stock (a correction names the level it was
 * made against, so a sale in between is never overwritten). Only the public REST API; a store
 * account sees nothing of another store (the server refuses it). */
(function () {
  const PREFIX = "o2o.store.";
  const REFRESH_MS = 3000;
  const INCOMING = new Set(["placed", "paid"]);
  const KITCHEN = new Set(["accepted", "preparing", "ready", "assigned"]);
  const READY_ALLOWED = new Set(["placed", "accepted", "preparing", "assigned"]);
  const $ = (id) => document.getElementById(id);
  let S = load(), timer = null, stockShown = {};

  function load() { try { return JSON.parse(localStorage.getItem(PREFIX + "state") || "{}"); } catch (e) { return {}; } }
  function save() { localStorage.setItem(PREFIX + "state", JSON.stringify(S)); }
  const { el, hhmm, notice } = window.O2O;
  function minutesFrom(iso) { return iso ? Math.round((new Date(iso) - Date.now()) / 60000) : null; }
  async function api(method, path, body) {
    try {
      return await window.O2O.api(method, path, { token: S.token, json: body });
    } catch (e) {
      if (e.status === 401 && S.token) { signOut(); notice("Your sign-in expired: sign in again.", "bad"); }
      throw e;
    }
  }

  function keepSignIn(out, user) {
    S = { token: out.access_token, store: out.entity, user, readied: [] }; save();
    start();
  }
  function signOut() { S = {}; save(); clearInterval(timer); timer = null; render([], []); }

  async function act(order, kind) {
    const base = "/stores/" + encodeURIComponent(S.store) + "/orders/" + encodeURIComponent(order.id);
    try {
      if (kind === "accept") {
        const minutes = Number(document.querySelector(`input.ready-in[data-order="${order.id}"]`).value || 0);
        await api("POST", base + "/accept", minutes > 0 ? { ready_in: minutes } : {});
        notice("Accepted " + order.id + ".", "info");
      } else if (kind === "reject") {
        const reason = window.prompt("Why can the store not make " + order.id + "? (the customer is told)", "out of stock");
        if (!reason) return;
        const out = await api("POST", base + "/reject", { reason });
        notice(out.detail, "info");
      } else if (kind === "ready") {
        await api("POST", base + "/ready");
        S.readied = (S.readied || []).concat([order.id]).slice(-200); save();
        notice(order.id + " is ready for its courier.", "info");
      }
    } catch (e) { notice("Could not " + kind + " " + order.id + ": " + e.message, "bad"); }
    refresh();
  }

  async function correct(sku, input) {
    const units = Number(input.value);
    if (!Number.isInteger(units) || units < 0) { notice("A count is a whole number of units, 0 or more.", "bad"); return; }
    try {
      const out = await api("PUT", "/stores/" + encodeURIComponent(S.store) + "/stock/" + encodeURIComponent(sku), { units, expected: stockShown[sku] });
      notice(out.name + ": " + out.units + " units.", "info");
    } catch (e) { notice("Not saved: " + e.message, "bad"); }
    refresh();
  }

  async function refresh() {
    if (!S.token) return;
    try {
      const [orders, stock] = await Promise.all([
        api("GET", "/stores/" + encodeURIComponent(S.store) + "/orders?limit=50"),
        api("GET", "/stores/" + encodeURIComponent(S.store) + "/stock"),
      ]);
      render(orders, stock);
      $("updated").textContent = "updated " + new Date().toLocaleTimeString();
    } catch (e) {
      if (S.token) $("updated").textContent = "not updated: " + e.message;
    }
  }

  function button(parent, text, cls, onClick, attrs) {
    const b = el("button", Object.assign({ class: cls || "" }, attrs || {}), parent, text);
    b.addEventListener("click", onClick);
    return b;
  }
  function row(tbody, order) {
    const tr = el("tr", { "data-order": order.id, "data-status": order.status }, tbody);
    return tr;
  }
  function pill(td, status) { el("span", { class: "pill", "data-status": status }, td, status.replace(/_/g, " ")); }

  function render(orders, stock) {
    const signedIn = !!S.token;
    $("signin").hidden = signedIn; $("orders-card").hidden = !signedIn; $("stock-card").hidden = !signedIn; $("signout").hidden = !signedIn;
    $("who").textContent = signedIn ? S.user + " \u00b7 store " + S.store : "";
    for (const id of ["incoming", "kitchen", "done", "stock"]) $(id).replaceChildren();
    const readied = new Set(S.readied || []);
    for (const o of orders) {
      if (INCOMING.has(o.status)) {
        const tr = row($("incoming"), o);
        el("td", {}, tr, o.id); el("td", {}, tr, hhmm(o.placed_at)); pill(el("td", {}, tr), o.status);
        const td = el("td", { class: "actions" }, tr);
        el("input", { class: "ready-in", type: "number", min: "0", max: "240", placeholder: "ready in min", "data-order": o.id, style: "width:120px" }, td);
        button(td, "Accept", "", () => act(o, "accept"), { "data-action": "accept" });
        if (READY_ALLOWED.has(o.status)) button(td, "Ready", "secondary", () => act(o, "ready"), { "data-action": "ready" });
        button(td, "Reject", "danger", () => act(o, "reject"), { "data-action": "reject" });
      } else if (KITCHEN.has(o.status)) {
        const tr = row($("kitchen"), o);
        el("td", {}, tr, o.id); el("td", {}, tr, hhmm(o.window && o.window.promise)); pill(el("td", {}, tr), o.status);
        const mins = minutesFrom(o.courier_at_store);
        el("td", { class: "num courier-eta" }, tr, o.courier_at_store ? (o.courier || "courier") + " at " + hhmm(o.courier_at_store) + (mins > 0 ? " (in " + mins + " min)" : " (now)") : (o.courier ? o.courier : "no courier yet"));
        const td = el("td", { class: "actions" }, tr);
        if (o.status === "ready" || readied.has(o.id)) el("span", { class: "pill", "data-status": "ready" }, td, "ready \u2713");
        else if (READY_ALLOWED.has(o.status)) button(td, "Mark ready", "", () => act(o, "ready"), { "data-action": "ready" });
        button(td, "Reject", "danger", () => act(o, "reject"), { "data-action": "reject" });
      } else {
        const tr = row($("done"), o);
        el("td", {}, tr, o.id); pill(el("td", {}, tr), o.status); el("td", {}, tr, o.courier || ""); el("td", {}, tr, hhmm(o.picked_up_at));
      }
    }
    for (const id of ["incoming", "kitchen", "done"]) if (!$(id).children.length) el("td", { colspan: "5", class: "empty" }, el("tr", {}, $(id)), "none");
    stockShown = {};
    for (const item of stock) {
      stockShown[item.sku] = item.units;
      const tr = el("tr", { "data-sku": item.sku }, $("stock"));
      const name = el("td", {}, tr); el("b", {}, name, item.name); el("div", { style: "font-size:12px;color:var(--muted)" }, name, item.sku);
      el("td", { class: "num units-now" }, tr, String(item.units));
      const td = el("td", { class: "actions" }, tr);
      const input = el("input", { class: "units", type: "number", min: "0", step: "1", value: String(item.units), "aria-label": "counted units of " + item.name }, td);
      button(td, "Save", "secondary", () => correct(item.sku, input), { "data-action": "save" });
    }
  }

  function start() {
    render([], []);
    if (!S.token) return;
    refresh();
    clearInterval(timer);
    timer = setInterval(() => { if (!document.querySelector("input:focus")) refresh(); }, REFRESH_MS);  // not while typing
  }

  window.O2O.signInForm(["store"], "this console is for stores", keepSignIn);
  $("signout").addEventListener("click", signOut);
  start();
})();
