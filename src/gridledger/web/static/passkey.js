// Passkeys (WebAuthn): register one with an enrolment code, or sign in with one.
// The node hands out a challenge (POST .../options), the browser's authenticator signs it
// (navigator.credentials), and the node checks the answer; nothing secret leaves the device.
// Every request carries the page's CSRF token (X-CSRF-Token) and, being same-origin, its Origin.
"use strict";

(function passkeys() {
  const textsEl = document.getElementById("passkey-texts");
  const status = document.getElementById("passkey-status");
  if (!textsEl || !status) return;
  const texts = JSON.parse(textsEl.textContent);

  function say(text, kind, detail) {
    status.textContent = "";
    const p = document.createElement("p");
    p.className = "notice" + (kind ? " " + kind : "");
    p.dataset.outcome = kind === "bad" ? "error" : kind || "info";
    p.textContent = text + (detail ? " " + detail : "");
    status.appendChild(p);
  }

  // base64url <-> bytes: WebAuthn speaks ArrayBuffers, JSON speaks text
  function toBytes(text) {
    const b64 = text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4);
    const raw = atob(b64);
    const out = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    return out.buffer;
  }
  function toText(buffer) {
    if (!buffer) return null;
    const bytes = new Uint8Array(buffer);
    let raw = "";
    for (const b of bytes) raw += String.fromCharCode(b);
    return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function descriptors(list) {
    return (list || []).map((d) => ({ ...d, id: toBytes(d.id) }));
  }

  function usable() {
    if (!window.PublicKeyCredential || !navigator.credentials || !window.isSecureContext) {
      say(texts.unsupported, "bad");
      return false;
    }
    // an IP address cannot be a relying party id: passkeys need a host name
    if (/^[0-9.]+$/.test(location.hostname) || location.hostname.includes(":")) {
      say(texts.needs_name, "bad");
      return false;
    }
    return true;
  }

  async function post(url, csrf, body) {
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body),
    });
    let json = {};
    try { json = await response.json(); } catch (_) { /* an empty or HTML answer */ }
    if (!response.ok) {
      const err = json.error || {};
      throw new Error((err.code || response.status) + ": " + (err.message || ""));
    }
    return json;
  }

  function failed(error) {
    if (error && (error.name === "NotAllowedError" || error.name === "AbortError")) {
      say(texts.cancelled, "bad");
    } else {
      say(texts.failed, "bad", String(error && error.message ? error.message : error));
    }
  }

  async function register(box, button) {
    if (!usable()) return;
    button.disabled = true;
    try {
      const csrf = box.dataset.csrf;
      const start = await post("/enrol/passkey/options", csrf, { code: box.dataset.code });
      const o = start.publicKey;
      const publicKey = {
        ...o,
        challenge: toBytes(o.challenge),
        user: { ...o.user, id: toBytes(o.user.id) },
        excludeCredentials: descriptors(o.excludeCredentials),
      };
      say(texts.waiting, "");
      const cred = await navigator.credentials.create({ publicKey });
      const answer = {
        id: cred.id,
        rawId: toText(cred.rawId),
        type: cred.type,
        response: {
          clientDataJSON: toText(cred.response.clientDataJSON),
          attestationObject: toText(cred.response.attestationObject),
          transports: cred.response.getTransports ? cred.response.getTransports() : [],
        },
        clientExtensionResults: cred.getClientExtensionResults(),
        authenticatorAttachment: cred.authenticatorAttachment || undefined,
      };
      const done = await post("/enrol/passkey", csrf, { ceremony: start.ceremony, credential: answer });
      say(texts.done, "ok");
      window.location.assign(done.redirect);
    } catch (error) {
      failed(error);
    } finally {
      button.disabled = false;
    }
  }

  async function signIn(box, form) {
    if (!usable()) return;
    const button = form.querySelector("button");
    button.disabled = true;
    try {
      const csrf = box.dataset.csrf;
      const account = form.querySelector("input[name=account]").value.trim();
      const start = await post("/login/passkey/options", csrf, { account });
      const o = start.publicKey;
      const publicKey = {
        ...o,
        challenge: toBytes(o.challenge),
        allowCredentials: descriptors(o.allowCredentials),
      };
      say(texts.waiting, "");
      const cred = await navigator.credentials.get({ publicKey });
      const answer = {
        id: cred.id,
        rawId: toText(cred.rawId),
        type: cred.type,
        response: {
          clientDataJSON: toText(cred.response.clientDataJSON),
          authenticatorData: toText(cred.response.authenticatorData),
          signature: toText(cred.response.signature),
          userHandle: toText(cred.response.userHandle),
        },
        clientExtensionResults: cred.getClientExtensionResults(),
        authenticatorAttachment: cred.authenticatorAttachment || undefined,
      };
      const done = await post("/login/passkey", csrf, {
        ceremony: start.ceremony, credential: answer, next: box.dataset.next || "",
      });
      say(texts.done, "ok");
      window.location.assign(done.redirect);
    } catch (error) {
      failed(error);
    } finally {
      button.disabled = false;
    }
  }

  const enrolBox = document.querySelector('[data-passkey="enrol"]');
  const enrolButton = document.getElementById("passkey-enrol");
  if (enrolBox && enrolButton) enrolButton.addEventListener("click", () => register(enrolBox, enrolButton));

  const loginBox = document.querySelector('[data-passkey="login"]');
  const loginForm = document.getElementById("passkey-login");
  if (loginBox && loginForm) {
    loginForm.addEventListener("submit", (event) => { event.preventDefault(); signIn(loginBox, loginForm); });
  }
})();
