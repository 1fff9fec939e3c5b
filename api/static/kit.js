"use strict";
/* What the people's pages (courier app, store console, dispatcher console) share: DOM helpers, the
 * notice banner (an element with id "notice"), and REST calls with the signed-in bearer token.
 * Served beside each page as its own "kit.js", so the courier app's service worker caches it too. */
window.O2O = (function () {
  const SVG = "http://www.w3.org/2000/svg";

  function el(tag, attrs, parent, text) {
    const e = document.createElement(tag);
    for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    if (parent) parent.appendChild(e);
    return e;
  }
  function svg(tag, attrs, parent) {
    const e = document.createElementNS(SVG, tag);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    parent.appendChild(e);
    return e;
  }
  function hhmm(when) {  // epoch ms or an ISO time: the local clock time, HH:MM
    if (!when) return "";
    const d = new Date(when);
    return String(d.getHours()).padStart(2, "0") + ":" + String(d.getMinutes()).padStart(2, "0");
  }
  let noticeTimer = null;
  function notice(text, kind) {
    const n = document.getElementById("notice");
    n.textContent = text; n.dataset.kind = kind || "info"; n.classList.add("show");
    clearTimeout(noticeTimer);
    noticeTimer = setTimeout(() => n.classList.remove("show"), kind === "bad" ? 12000 : 6000);
  }
  /* fetch with the token; a JSON body or form fields; a non-2xx reply throws an Error whose message is the
   * server's reason (``detail``) and whose ``status`` is the HTTP status. */
  async function api(method, path, opts) {
    const o = opts || {};
    const headers = Object.assign({}, o.headers || {});
    if (o.token) headers.Authorization = "Bearer " + o.token;
    let body;
    if (o.form) body = new URLSearchParams(o.form);
    else if (o.json !== undefined) { headers["Content-Type"] = "application/json"; body = JSON.stringify(o.json); }
    const reply = await fetch(path, { method, headers, body });
    let data = null;
    try { data = await reply.json(); } catch (e) { data = null; }
    if (!reply.ok) {
      const d = data && data.detail;
      const err = new Error(Array.isArray(d) ? d.join("; ") : (d || reply.statusText || ("HTTP " + reply.status)));
      err.status = reply.status;
      throw err;
    }
    return data;
  }
  function signIn(user, password) { return api("POST", "/auth/token", { form: { username: user, password } }); }
  /* The page's sign-in form (#signin-form, #user, #password, #signin-button): only ``roles`` get in (``refusal``
   * says whom the page is for); ``done(reply, user)`` keeps the token and starts the page. */
  function signInForm(roles, refusal, done) {
    const $ = (id) => document.getElementById(id);
    $("signin-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      $("signin-button").disabled = true;
      try {
        const user = $("user").value.trim();
        const out = await signIn(user, $("password").value);
        if (!roles.includes(out.role)) throw new Error(refusal + "; " + user + " is a " + out.role);
        $("password").value = "";
        done(out, user);
      } catch (e) {
        notice("Sign-in failed: " + e.message, "bad");
      } finally {
        $("signin-button").disabled = false;
      }
    });
  }
  return { el, svg, hhmm, notice, api, signIn, signInForm };
})();
