// GridLedger proof checks, run in the browser with WebCrypto (SHA-256 and Ed25519); nothing is
// fetched from outside the node. Each function mirrors the Python verifier step for step, so a
// proof accepted here is one the SDK accepts and the other way round:
//
//   canonical JSON           gridledger.core.encoding.canonical      (docs/formats.md §1)
//   header hash, signature   gridledger.core.types.BlockHeader,
//                            gridledger.sdk.proofs.verify_header_signature   (§2, §3)
//   RFC 6962 inclusion       gridledger.core.merkle.verify_inclusion (RFC 9162 §2.1.3.2; §4)
//   sparse Merkle proof      gridledger.state.tree.verify_proof      (§5)
//   whole proofs             gridledger.sdk.proofs.verify_state_proof / verify_tx_proof
//
// The node keys that signatures are checked with come from the page (the genesis document's
// organisations), never from the answer being checked.
"use strict";

(function () {
  const utf8 = new TextEncoder();
  const DOMAIN_BLOCK = utf8.encode("gridledger/block/v1\n");
  const EMPTY = new Uint8Array(32); // the empty subtree of the state tree
  const FANOUT = 16;
  const LEVELS = 64; // nibbles in a SHA-256 path
  const HEADER_FIELDS = {
    chain_id: "string", height: "int", prev_hash: "string", time: "int", tx_root: "string",
    receipt_root: "string", state_root: "string", proposer: "string", tx_count: "int",
  };

  /** A failed check: `code` names the catalogue text, `fields` fill its {placeholders}. */
  class VerifyError extends Error {
    constructor(code, fields) {
      super(code);
      this.code = code;
      this.fields = fields || {};
    }
  }

  // bytes ----------------------------------------------------------------------------------
  function fromHex(hex, what, length) {
    if (typeof hex !== "string" || hex.length % 2 !== 0 || !/^[0-9a-f]*$/.test(hex)) {
      throw new VerifyError("malformed", { detail: `${what}: not lower-case hex` });
    }
    const out = new Uint8Array(hex.length / 2);
    for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(2 * i, 2), 16);
    if (length !== undefined && out.length !== length) {
      throw new VerifyError("malformed", { detail: `${what}: ${length} bytes expected` });
    }
    return out;
  }

  function toHex(bytes) {
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function concat(...parts) {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) { out.set(p, at); at += p.length; }
    return out;
  }

  function equal(a, b) {
    if (a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }

  async function sha256(bytes) {
    return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  }

  // canonical JSON (docs/formats.md §1) ------------------------------------------------------
  const ESCAPES = { 0x22: '\\"', 0x5c: "\\\\", 0x08: "\\b", 0x09: "\\t", 0x0a: "\\n", 0x0c: "\\f", 0x0d: "\\r" };

  function canonicalString(text) {
    let out = '"';
    for (const ch of text) { // by code point, so non-BMP characters stay whole
      const c = ch.codePointAt(0);
      if (ESCAPES[c] !== undefined) out += ESCAPES[c];
      else if (c < 0x20) out += "\\u00" + c.toString(16).padStart(2, "0");
      else out += ch;
    }
    return out + '"';
  }

  // Keys sort by Unicode code point, not by UTF-16 unit as JavaScript's default sort does.
  function byCodePoint(a, b) {
    const x = Array.from(a, (c) => c.codePointAt(0));
    const y = Array.from(b, (c) => c.codePointAt(0));
    for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i];
    return x.length - y.length;
  }

  function canonical(value) {
    if (value === null) return "null";
    if (value === true) return "true";
    if (value === false) return "false";
    if (typeof value === "number") {
      if (!Number.isInteger(value)) throw new VerifyError("malformed", { detail: "non-integer number" });
      return Object.is(value, -0) ? "0" : String(value);
    }
    if (typeof value === "string") return canonicalString(value);
    if (Array.isArray(value)) return "[" + value.map(canonical).join(",") + "]";
    if (typeof value === "object") {
      const keys = Object.keys(value).sort(byCodePoint);
      return "{" + keys.map((k) => canonicalString(k) + ":" + canonical(value[k])).join(",") + "}";
    }
    throw new VerifyError("malformed", { detail: `unsupported ${typeof value}` });
  }

  // block headers (formats.md §3) --------------------------------------------------------------
  function checkHeaderShape(header) {
    if (header === null || typeof header !== "object" || Array.isArray(header)) {
      throw new VerifyError("malformed", { detail: "header" });
    }
    const names = Object.keys(header);
    if (names.length !== Object.keys(HEADER_FIELDS).length) {
      throw new VerifyError("malformed", { detail: "header fields" });
    }
    for (const name of names) {
      const kind = HEADER_FIELDS[name];
      const v = header[name];
      const ok = kind === "int" ? Number.isInteger(v) && v >= 0 : typeof v === "string";
      if (!ok) throw new VerifyError("malformed", { detail: `header.${name}` });
    }
  }

  /** SHA-256 of the canonical header: the block's id. */
  async function headerHash(header) {
    checkHeaderShape(header);
    return sha256(utf8.encode(canonical(header)));
  }

  function parseTagged(value, length) {
    if (typeof value !== "string" || !value.startsWith("ed25519:")) return null;
    const hex = value.slice("ed25519:".length);
    if (hex.length !== 2 * length || !/^[0-9a-f]*$/.test(hex)) return null;
    return fromHex(hex, "key", length);
  }

  /** The proposer's node key signed DOMAIN_BLOCK || header hash (verify_header_signature). */
  async function checkSignature(header, hash, signature, nodeKeys) {
    const tagged = nodeKeys[header.proposer];
    if (!tagged) throw new VerifyError("no_key", { proposer: header.proposer });
    const raw = parseTagged(tagged, 32);
    const sig = parseTagged(signature, 64);
    if (raw === null || sig === null) throw new VerifyError("signature", { proposer: header.proposer });
    let ok = false;
    try {
      const key = await crypto.subtle.importKey("raw", raw, { name: "Ed25519" }, false, ["verify"]);
      ok = await crypto.subtle.verify({ name: "Ed25519" }, key, sig, concat(DOMAIN_BLOCK, hash));
    } catch (err) {
      if (err && err.name === "NotSupportedError") throw new VerifyError("no_crypto", {});
      ok = false;
    }
    if (!ok) throw new VerifyError("signature", { proposer: header.proposer });
  }

  /** The header hashes to block_hash, its height is the proof's, and it is signed (_checked_header). */
  async function checkedHeader(proof, nodeKeys) {
    const header = proof.header;
    const hash = await headerHash(header);
    if (toHex(hash) !== proof.block_hash) throw new VerifyError("header_hash", {});
    if ("height" in proof && proof.height !== header.height) {
      throw new VerifyError("malformed", { detail: "height" });
    }
    await checkSignature(header, hash, proof.signature, nodeKeys);
    return header;
  }

  // RFC 6962 inclusion (core/merkle.py verify_inclusion; RFC 9162 §2.1.3.2) ---------------------
  async function verifyInclusion(leaf, index, treeSize, path, root) {
    if (!(Number.isInteger(index) && Number.isInteger(treeSize) && index >= 0 && index < treeSize)) {
      throw new VerifyError("audit_path", {});
    }
    let fn = index;
    let sn = treeSize - 1;
    let r = await sha256(concat(new Uint8Array([0]), leaf));
    for (const p of path) {
      if (sn === 0) throw new VerifyError("audit_path", {}); // longer than the tree is deep
      if (fn % 2 === 1 || fn === sn) {
        r = await sha256(concat(new Uint8Array([1]), p, r));
        if (fn % 2 === 0) {
          while (fn !== 0 && fn % 2 === 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
        }
      } else {
        r = await sha256(concat(new Uint8Array([1]), r, p));
      }
      fn = Math.floor(fn / 2);
      sn = Math.floor(sn / 2);
    }
    if (sn !== 0 || !equal(r, root)) throw new VerifyError("audit_path", {});
  }

  // the hexary sparse Merkle tree (state/tree.py verify_proof; formats.md §5) -------------------
  function nibble(path, d) {
    const byte = path[d >> 1];
    return d % 2 === 0 ? byte >> 4 : byte & 0x0f;
  }

  function leafHash(path, value) {
    return sha256(concat(new Uint8Array([0]), path, value));
  }

  function parseStateProof(obj) {
    if (obj === null || typeof obj !== "object" || !Array.isArray(obj.levels)) {
      throw new VerifyError("malformed", { detail: "levels" });
    }
    const levels = obj.levels.map((level, d) => {
      if (!Array.isArray(level) || level.length !== FANOUT) {
        throw new VerifyError("malformed", { detail: `level ${d}` });
      }
      // fixed-size children, or uneven ones could shift a real child into the key's slot
      return level.map((h) => (h === null ? null : fromHex(h, `level ${d}`, 32)));
    });
    let terminal = null;
    if (obj.terminal !== null && obj.terminal !== undefined) {
      const t = obj.terminal;
      terminal = {
        path: fromHex(t.path, "terminal.path", 32),
        leafHash: fromHex(t.leaf_hash, "terminal.leaf_hash", 32),
        value: t.value === undefined || t.value === null ? null : fromHex(t.value, "terminal.value"),
      };
    }
    return { levels, terminal };
  }

  /** `key` maps to `value` (null: is absent) in the state whose root is `root`. */
  async function verifyStateTree(root, key, value, proof) {
    const path = await sha256(key);
    const depth = proof.levels.length;
    if (depth > LEVELS) throw new VerifyError("state_proof", {});
    const t = proof.terminal;
    let node;
    if (value !== null) {
      // inclusion: the path ends at the key's own leaf, whose hash covers the value
      if (t === null || !equal(t.path, path)) throw new VerifyError("state_proof", {});
      node = await leafHash(path, value);
      if (!equal(node, t.leafHash)) throw new VerifyError("value", {});
    } else if (t === null) {
      node = EMPTY; // absence at an empty slot
    } else {
      // absence at another key's leaf, recomputed: a bare hash could hide an internal node
      if (equal(t.path, path) || t.value === null) throw new VerifyError("state_proof", {});
      if (!equal(await leafHash(t.path, t.value), t.leafHash)) throw new VerifyError("state_proof", {});
      for (let d = 0; d < depth; d++) {
        if (nibble(t.path, d) !== nibble(path, d)) throw new VerifyError("state_proof", {});
      }
      node = t.leafHash;
    }
    for (let d = depth - 1; d >= 0; d--) {
      const level = proof.levels[d];
      const own = nibble(path, d);
      if (level[own] !== null) throw new VerifyError("state_proof", {});
      const children = level.map((h, i) => (i === own ? node : h === null ? EMPTY : h));
      node = await sha256(concat(new Uint8Array([1]), ...children));
    }
    if (!equal(node, root)) throw new VerifyError("state_proof", {});
  }

  function decodedJson(bytes) {
    try { return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes)); } catch (_) { return undefined; }
  }

  // whole proofs (sdk/proofs.py) -----------------------------------------------------------------
  /**
   * Check a state proof (GET /v1/state/{key}/proof). Resolves to {height, proposer, value}
   * (value: hex, or null when the proof shows the key is absent); rejects with a VerifyError.
   */
  async function verifyStateProof(proof, nodeKeys) {
    if (proof === null || typeof proof !== "object" || typeof proof.key !== "string") {
      throw new VerifyError("malformed", { detail: "key" });
    }
    const value = proof.value_hex === null || proof.value_hex === undefined
      ? null : fromHex(proof.value_hex, "value_hex");
    if ("value" in proof) {
      // the decoded value shown beside the bytes must be those bytes
      const parsed = value === null ? null : decodedJson(value);
      const shown = parsed === undefined ? null : parsed;
      if (canonical(proof.value) !== canonical(shown)) throw new VerifyError("value", {});
    }
    const header = await checkedHeader(proof, nodeKeys);
    const tree = parseStateProof(proof.proof);
    await verifyStateTree(fromHex(header.state_root, "state_root", 32), utf8.encode(proof.key), value, tree);
    return { height: header.height, proposer: header.proposer, value: value === null ? null : toHex(value) };
  }

  /** Check a transaction inclusion proof (GET /v1/txs/{hash}/proof). Resolves to {height, proposer, index}. */
  async function verifyTxProof(proof, nodeKeys) {
    if (proof === null || typeof proof !== "object") throw new VerifyError("malformed", { detail: "proof" });
    const leaf = fromHex(proof.tx_hex, "tx_hex");
    if (toHex(await sha256(leaf)) !== proof.hash) throw new VerifyError("tx_hash", {});
    const tx = decodedJson(leaf);
    if (tx === undefined) throw new VerifyError("tx_shown", {});
    if ("tx" in proof && canonical(proof.tx) !== canonical(tx)) throw new VerifyError("tx_shown", {});
    const header = await checkedHeader(proof, nodeKeys);
    if (proof.tree_size !== header.tx_count) throw new VerifyError("audit_path", {});
    if (!Array.isArray(proof.audit_path)) throw new VerifyError("malformed", { detail: "audit_path" });
    const path = proof.audit_path.map((p) => fromHex(p, "audit_path", 32));
    await verifyInclusion(leaf, proof.index, proof.tree_size, path, fromHex(header.tx_root, "tx_root", 32));
    return { height: header.height, proposer: header.proposer, index: proof.index };
  }

  /** Check a header on its own (GET /v1/blocks/{h}/header): its hash and its signature. */
  async function verifyHeader(view, nodeKeys) {
    const header = await checkedHeader({ header: view.header, block_hash: view.hash, signature: view.signature, height: view.height }, nodeKeys);
    return { height: header.height, proposer: header.proposer };
  }

  // the page: Verify buttons ----------------------------------------------------------------------
  function texts() {
    const el = document.getElementById("gl-verify-texts");
    return el ? JSON.parse(el.textContent) : {};
  }

  function nodeKeysOfPage() {
    const el = document.getElementById("gl-node-keys");
    return el ? JSON.parse(el.textContent) : {};
  }

  function fill(text, fields) {
    return String(text).replace(/\{(\w+)\}/g, (all, name) => (name in fields ? String(fields[name]) : all));
  }

  /** The catalogue's sentence for a failure. */
  function message(err) {
    const all = texts();
    const code = err instanceof VerifyError ? err.code : "malformed";
    const fields = err instanceof VerifyError ? err.fields : { detail: String(err && err.message) };
    const why = fill(all[code] || code, fields);
    return fill(all.fail || "{why}", { why });
  }

  async function getJson(url) {
    let response;
    try {
      response = await fetch(url, { headers: { accept: "application/json" }, cache: "no-store" });
    } catch (err) {
      throw new VerifyError("fetch", { detail: String(err && err.message) });
    }
    if (!response.ok) throw new VerifyError("fetch", { detail: `${response.status} ${url}` });
    return response.json();
  }

  // The node's own header of the proof's block must be the proof's header.
  async function sameHeaderAsNode(proof) {
    const view = await getJson(`/v1/blocks/${proof.height}/header`);
    if (view.hash !== proof.block_hash) throw new VerifyError("header_differs", { height: proof.height });
  }

  function stateKeyUrl(key) {
    return "/v1/state/" + key.split("/").map(encodeURIComponent).join("/") + "/proof";
  }

  async function runButton(button) {
    const nodeKeys = nodeKeysOfPage();
    const kind = button.dataset.verify;
    if (!window.crypto || !crypto.subtle) throw new VerifyError("no_crypto", {});
    if (kind === "state") {
      const proof = await getJson(stateKeyUrl(button.dataset.key));
      if (proof.key !== button.dataset.key) throw new VerifyError("malformed", { detail: "key" });
      const result = await verifyStateProof(proof, nodeKeys);
      await sameHeaderAsNode(proof);
      const shown = button.dataset.absent === "true" ? null : button.dataset.valueHex;
      if (result.value !== shown) throw new VerifyError("changed", {});
      return fill(texts()[result.value === null ? "ok_absent" : "ok_state"], result);
    }
    if (kind === "tx") {
      const proof = await getJson(`/v1/txs/${button.dataset.hash}/proof`);
      if (proof.hash !== button.dataset.hash) throw new VerifyError("tx_hash", {});
      const result = await verifyTxProof(proof, nodeKeys);
      await sameHeaderAsNode(proof);
      return fill(texts().ok_tx, result);
    }
    const view = await getJson(`/v1/blocks/${button.dataset.height}/header`);
    if (view.hash !== button.dataset.hash) throw new VerifyError("header_differs", { height: button.dataset.height });
    return fill(texts().ok_header, await verifyHeader(view, nodeKeys));
  }

  function wire() {
    for (const button of document.querySelectorAll("button[data-verify]")) {
      const out = document.getElementById(button.dataset.result);
      button.addEventListener("click", async () => {
        button.disabled = true;
        out.className = "verify-result";
        out.textContent = texts().running || "…";
        let ok = false;
        let text;
        try {
          text = await runButton(button);
          ok = true;
        } catch (err) {
          text = message(err);
        }
        out.textContent = text;
        out.className = "verify-result " + (ok ? "ok" : "bad");
        out.dataset.outcome = ok ? "verified" : "failed";
        button.disabled = false;
      });
    }
  }

  window.GridLedgerVerify = {
    VerifyError, canonical, headerHash, verifyStateProof, verifyTxProof, verifyHeader, message,
    nodeKeys: nodeKeysOfPage, toHex,
  };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", wire);
  else wire();
})();
