// GridLedger transactions signed in the browser: canonical JSON, Ed25519 with WebCrypto, submit.
// The same bytes as gridledger.core.types.Transaction.signing_bytes: the domain tag
// "gridledger/tx/v1\n" followed by the canonical JSON of {body, chain_id, kind, nonce, sender}
// (keys sorted by code point, no whitespace, integers only; see docs/formats.md).
"use strict";

window.GridLedgerSign = (function () {
  const DOMAIN_TX = "gridledger/tx/v1\n";
  const PKCS8_ED25519 = "302e020100300506032b657004220420";

  function escapeString(s) {
    let out = '"';
    for (const ch of s) {
      const c = ch.codePointAt(0);
      if (ch === '"') out += '\\"';
      else if (ch === "\\") out += "\\\\";
      else if (c === 0x08) out += "\\b";
      else if (c === 0x09) out += "\\t";
      else if (c === 0x0a) out += "\\n";
      else if (c === 0x0c) out += "\\f";
      else if (c === 0x0d) out += "\\r";
      else if (c < 0x20) out += "\\u" + c.toString(16).padStart(4, "0");
      else out += ch;
    }
    return out + '"';
  }

  function byCodePoint(a, b) {
    const x = Array.from(a), y = Array.from(b);
    for (let i = 0; i < Math.min(x.length, y.length); i++) {
      const d = x[i].codePointAt(0) - y[i].codePointAt(0);
      if (d !== 0) return d;
    }
    return x.length - y.length;
  }

  // Canonical JSON of strings, safe integers, booleans, null, arrays and plain objects.
  function canonical(value) {
    if (value === null) return "null";
    if (value === true) return "true";
    if (value === false) return "false";
    if (typeof value === "string") return escapeString(value);
    if (typeof value === "number") {
      if (!Number.isSafeInteger(value)) throw new Error("numbers must be integers");
      return String(value === 0 ? 0 : value);
    }
    if (Array.isArray(value)) return "[" + value.map(canonical).join(",") + "]";
    if (typeof value === "object") {
      const keys = Object.keys(value).sort(byCodePoint);
      return "{" + keys.map((k) => escapeString(k) + ":" + canonical(value[k])).join(",") + "}";
    }
    throw new Error("cannot encode " + typeof value);
  }

  function hexToBytes(hex) {
    if (!/^([0-9a-f]{2})*$/.test(hex)) throw new Error("not hex");
    const out = new Uint8Array(hex.length / 2);
    for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(i * 2, 2), 16);
    return out;
  }

  function bytesToHex(bytes) {
    return Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function supported() {
    return Boolean(window.crypto && window.crypto.subtle);
  }

  // The seed (64 hex digits) as a WebCrypto key pair: the private key from PKCS#8, the public
  // key read back from its JWK ("x", base64url).
  async function importSeed(seedHex) {
    const pkcs8 = hexToBytes(PKCS8_ED25519 + seedHex);
    const privateKey = await crypto.subtle.importKey("pkcs8", pkcs8, { name: "Ed25519" }, true, ["sign"]);
    const jwk = await crypto.subtle.exportKey("jwk", privateKey);
    const b64 = jwk.x.replace(/-/g, "+").replace(/_/g, "/");
    const raw = atob(b64 + "===".slice((b64.length + 3) % 4));
    const publicHex = bytesToHex(Uint8Array.from(raw, (c) => c.charCodeAt(0)));
    return { privateKey, publicKey: "ed25519:" + publicHex };
  }

  function signingBytes(unsigned) {
    return new TextEncoder().encode(DOMAIN_TX + canonical(unsigned));
  }

  async function sign(privateKey, unsigned) {
    const signature = await crypto.subtle.sign({ name: "Ed25519" }, privateKey, signingBytes(unsigned));
    return Object.assign({}, unsigned, { signature: "ed25519:" + bytesToHex(signature) });
  }

  async function account(id) {
    const response = await fetch("/v1/accounts/" + encodeURIComponent(id));
    if (!response.ok) throw new Error("account " + id + ": HTTP " + response.status);
    return response.json();
  }

  // Sign and submit one transaction for `sender`, waiting up to `waitS` for its receipt.
  // Resolves to {status: 200 | 202 | 4xx, json}.
  async function submit(key, chainId, sender, kind, body, waitS) {
    const info = await account(sender);
    const unsigned = { body: body, chain_id: chainId, kind: kind, nonce: info.next_nonce, sender: sender };
    const tx = await sign(key.privateKey, unsigned);
    const response = await fetch("/v1/txs?wait=" + (waitS || 10), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: canonical(tx),
    });
    return { status: response.status, json: await response.json() };
  }

  return { canonical, importSeed, signingBytes, sign, submit, supported, account, hexToBytes, bytesToHex };
})();
