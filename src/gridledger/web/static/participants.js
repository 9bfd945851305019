// The consumer page: one-click choice of clean or grid power, signed in this browser.
// The seed of the account's key is kept in sessionStorage only (this tab, until it closes);
// it is checked against the account's public key as soon as it is pasted.
"use strict";

(function consumerPage() {
  const textsEl = document.getElementById("sign-texts");
  if (!textsEl) return;
  const texts = JSON.parse(textsEl.textContent);
  const status = document.getElementById("sign-status");
  const keyForm = document.getElementById("key-form");
  const seedInput = document.getElementById("seed");
  const chainId = document.body.dataset.chain;

  function storageKey(account) { return "gridledger.seed." + account; }

  function say(text, kind, detail) {
    status.textContent = "";
    const p = document.createElement("p");
    p.className = "notice" + (kind ? " " + kind : "");
    p.dataset.outcome = kind === "bad" ? "error" : "info";
    p.textContent = text + (detail ? " " + detail : "");
    status.appendChild(p);
  }

  if (keyForm) {
    const account = keyForm.dataset.account;
    keyForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      const seed = seedInput.value.trim().toLowerCase();
      if (!/^[0-9a-f]{64}$/.test(seed)) { say(texts.bad_seed, "bad"); seedInput.focus(); return; }
      if (!window.GridLedgerSign.supported()) { say(texts.no_webcrypto, "bad"); return; }
      let key;
      try { key = await window.GridLedgerSign.importSeed(seed); } catch (_) {
        say(texts.no_webcrypto, "bad"); return;
      }
      if (key.publicKey !== keyForm.dataset.publicKey) {
        say(texts.wrong_key, "bad"); seedInput.select(); return;
      }
      sessionStorage.setItem(storageKey(account), seed);
      seedInput.value = "";
      say(texts.key_saved, "ok");
    });
    document.getElementById("forget-key").addEventListener("click", () => {
      sessionStorage.removeItem(storageKey(account));
      say(texts.key_forgotten, "");
    });
  }

  for (const form of document.querySelectorAll('form[data-sign="browser"]')) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const account = form.dataset.account;
      const button = form.querySelector("button");
      const seed = sessionStorage.getItem(storageKey(account));
      if (!seed) {
        say(texts.no_key, "bad");
        const details = document.getElementById("key");
        if (details) details.open = true;
        if (seedInput) seedInput.focus();
        return;
      }
      if (!window.GridLedgerSign.supported()) { say(texts.no_webcrypto, "bad"); return; }
      button.disabled = true;
      say(texts.signing, "");
      try {
        const key = await window.GridLedgerSign.importSeed(seed);
        if (key.publicKey !== keyForm.dataset.publicKey) { say(texts.wrong_key, "bad"); return; }
        const body = JSON.parse(form.dataset.body);
        const result = await window.GridLedgerSign.submit(key, chainId, account, form.dataset.kind, body, 10);
        if (result.status === 200 || result.status === 202) {
          if (result.status === 202) say(texts.timeout, "");
          // reload with the outcome, staying in this signing mode (?sign=browser stays)
          const next = new URL(window.location.href);
          next.searchParams.set("tx", result.json.hash);
          window.location.assign(next.pathname + next.search);
          return;
        }
        const err = result.json.error || {};
        say(texts.refused, "bad", (err.code || result.status) + ": " + (err.message || ""));
      } catch (error) {
        say(texts.refused, "bad", String(error && error.message ? error.message : error));
      } finally {
        button.disabled = false;
      }
    });
  }
})();
