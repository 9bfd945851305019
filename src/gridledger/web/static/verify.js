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
//   consortium keys file     gridledger.sdk.consortium_keys.parse_keys       (§6b)
//   attestations, finality   gridledger.sdk.proofs.verify_finality / proof_finality (§6b)
//   certificates, QR codes   gridledger.sdk.certificate_proofs.verify_certificate_proof /
//                            verify_qr_payload  ("Certificates as documents")
//
// The keys that signatures are checked with come from the page (the genesis document's
// organisations) or from a consortium keys file the user loads, never from the answer being
// checked. A keys object is either a checked consortium keys file (parseKeys) or, as before,
// a plain {org: node_key} map, which checks the block signature only.
"use strict";

(function () {
  const utf8 = new TextEncoder();
  const DOMAIN_BLOCK = utf8.encode("gridledger/block/v1\n");
  const DOMAIN_ATTESTATION = utf8.encode("gridledger/attestation/v1\n");
  const KEYS_FORMAT = "gridledger/consortium-keys/v1";
  const ORG_ID = /^[a-z0-9][a-z0-9._-]{0,63}$/;
  const ATTESTATION_FIELDS = ["block_hash", "chain_id", "height", "org", "signature", "state_root"];
  const STORED_KEYS = "gridledger.consortium-keys"; // sessionStorage: {name, keys} loaded by the user
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

  /** Whether `signature` (tagged) over `message` verifies with the tagged `publicKey`; false for
   * anything malformed, as gridledger.core.crypto.verify. */
  async function ed25519(publicKey, message, signature) {
    const raw = parseTagged(publicKey, 32);
    const sig = parseTagged(signature, 64);
    if (raw === null || sig === null) return false;
    try {
      const key = await crypto.subtle.importKey("raw", raw, { name: "Ed25519" }, false, ["verify"]);
      return await crypto.subtle.verify({ name: "Ed25519" }, key, sig, message);
    } catch (err) {
      if (err && err.name === "NotSupportedError") throw new VerifyError("no_crypto", {});
      return false;
    }
  }

  /** The proposer's node key signed DOMAIN_BLOCK || header hash (verify_header_signature), the
   * key taken from a plain {org: node_key} map. */
  async function checkSignature(header, hash, signature, nodeKeys) {
    const tagged = nodeKeys[header.proposer];
    if (!tagged) throw new VerifyError("no_key", { proposer: header.proposer });
    if (!(await ed25519(tagged, concat(DOMAIN_BLOCK, hash), signature))) {
      throw new VerifyError("signature", { proposer: header.proposer });
    }
  }

  /** The header hashes to block_hash, its height is the proof's, and it is signed
   * (_checked_header); with a consortium keys file also its attestations and final claim, the
   * result of which is returned beside the header. */
  async function checkedHeader(proof, keys) {
    const header = proof.header;
    const hash = await headerHash(header);
    const hashField = "block_hash" in proof ? "block_hash" : "hash";
    if (toHex(hash) !== proof[hashField]) throw new VerifyError("header_hash", {});
    if ("height" in proof && proof.height !== header.height) {
      throw new VerifyError("malformed", { detail: "height" });
    }
    if (!isConsortiumKeys(keys)) {
      await checkSignature(header, hash, proof.signature, keys);
      return { header, finality: null };
    }
    return { header, finality: await proofFinality(proof, keys) };
  }

  // the consortium keys file (sdk/consortium_keys.py parse_keys; formats.md §6b) ----------------
  function isConsortiumKeys(keys) {
    return keys !== null && typeof keys === "object" && keys.format === KEYS_FORMAT && Array.isArray(keys.proposers);
  }

  function keysError(detail) {
    return new VerifyError("keys_invalid", { detail });
  }

  function exactly(value, fields, what) {
    if (value === null || typeof value !== "object" || Array.isArray(value)) throw keysError(`${what} must be an object`);
    const names = Object.keys(value).sort();
    if (names.length !== fields.length || names.some((n, i) => n !== [...fields].sort()[i])) {
      throw keysError(`${what} must have exactly ${[...fields].sort().join(", ")}`);
    }
    return value;
  }

  function height(value, least, what) {
    if (!Number.isInteger(value) || value < least) throw keysError(`${what} must be an integer from ${least}`);
    return value;
  }

  function nonEmptyList(value, what) {
    if (!Array.isArray(value) || value.length === 0) throw keysError(`${what} must be a non-empty array`);
    return value;
  }

  /** A checked consortium keys file, or a VerifyError("keys_invalid"). */
  function parseKeys(obj) {
    const doc = exactly(obj, ["format", "chain_id", "up_to_height", "organisations", "proposers"], "the keys file");
    if (doc.format !== KEYS_FORMAT) throw keysError(`format must be ${KEYS_FORMAT}`);
    if (typeof doc.chain_id !== "string" || doc.chain_id === "") throw keysError("chain_id must be a non-empty string");
    height(doc.up_to_height, 1, "up_to_height");
    if (!Array.isArray(doc.organisations)) throw keysError("organisations must be an array");
    const nodeKeys = new Map();
    doc.organisations.forEach((item, i) => {
      const entry = exactly(item, ["org", "node_keys"], `organisations[${i}]`);
      if (typeof entry.org !== "string" || !ORG_ID.test(entry.org)) throw keysError(`organisations[${i}].org`);
      if (nodeKeys.has(entry.org)) throw keysError(`organisation ${entry.org} is listed twice`);
      const periods = nonEmptyList(entry.node_keys, `the node_keys of ${entry.org}`).map((p, j) => {
        const period = exactly(p, ["from_height", "node_key"], `node_keys[${j}] of ${entry.org}`);
        height(period.from_height, 0, `from_height of node_keys[${j}] of ${entry.org}`);
        if (parseTagged(period.node_key, 32) === null) throw keysError(`node_key of node_keys[${j}] of ${entry.org}`);
        return { from_height: period.from_height, node_key: period.node_key };
      });
      for (let j = 1; j < periods.length; j++) {
        if (periods[j].from_height <= periods[j - 1].from_height) throw keysError(`the node_keys of ${entry.org} must have increasing from_height`);
      }
      nodeKeys.set(entry.org, periods);
    });
    const keys = { format: KEYS_FORMAT, chain_id: doc.chain_id, up_to_height: doc.up_to_height, nodeKeys, proposers: [] };
    nonEmptyList(doc.proposers, "proposers").forEach((item, i) => {
      const entry = exactly(item, ["from_height", "orgs"], `proposers[${i}]`);
      const from = height(entry.from_height, 1, `from_height of proposers[${i}]`);
      if (i === 0 && from !== 1) throw keysError("the first proposers entry must be from height 1");
      if (i > 0 && from <= keys.proposers[i - 1].from_height) throw keysError("proposers must have increasing from_height");
      const orgs = nonEmptyList(entry.orgs, `proposers[${i}].orgs`);
      if (new Set(orgs).size !== orgs.length) throw keysError(`proposers[${i}] lists an organisation twice`);
      for (const org of orgs) {
        if (typeof org !== "string" || !ORG_ID.test(org)) throw keysError(`an org of proposers[${i}]`);
        if (nodeKeyAt(keys, org, from) === null) throw keysError(`${org} of proposers[${i}] has no node key at height ${from}`);
      }
      keys.proposers.push({ from_height: from, orgs: [...orgs] });
    });
    return keys;
  }

  /** The key that signs `org`'s block and attestation at height `h` (node_key_at). */
  function nodeKeyAt(keys, org, h) {
    let found = null;
    for (const p of keys.nodeKeys.get(org) || []) {
      if (p.from_height > h) break;
      found = p.node_key;
    }
    return found;
  }

  /** The organisations allowed to propose at height `h` (proposers_at). */
  function proposersAt(keys, h) {
    let found = [];
    for (const p of keys.proposers) {
      if (p.from_height > h) break;
      found = p.orgs;
    }
    return [...found];
  }

  // attestations and finality (sdk/proofs.py verify_finality; formats.md §6b) --------------------
  const quorum = (n) => Math.floor((n * 2) / 3) + 1;

  /** The first rule an attestation breaks (its reason), or null when it is valid. */
  async function attestationProblem(att, header, blockHash, keys, proposers) {
    if (att === null || typeof att !== "object" || Array.isArray(att)) return "malformed";
    const names = Object.keys(att).sort();
    if (names.length !== ATTESTATION_FIELDS.length || names.some((n, i) => n !== ATTESTATION_FIELDS[i])) return "malformed";
    if (!Number.isInteger(att.height) || att.height < 0) return "malformed";
    if (ATTESTATION_FIELDS.some((f) => f !== "height" && typeof att[f] !== "string")) return "malformed";
    if (att.chain_id !== header.chain_id) return "wrong_chain";
    if (att.height !== header.height) return "wrong_height";
    if (att.block_hash !== blockHash) return "wrong_block";
    if (att.state_root !== header.state_root) return "wrong_state_root";
    if (!proposers.includes(att.org)) return "not_a_proposer";
    const unsigned = { block_hash: blockHash, chain_id: header.chain_id, height: header.height, org: att.org, state_root: header.state_root };
    const message = concat(DOMAIN_ATTESTATION, utf8.encode(canonical(unsigned)));
    if (!(await ed25519(nodeKeyAt(keys, att.org, header.height) || "", message, att.signature))) return "bad_signature";
    return null;
  }

  /**
   * Who stands behind a block and whether they make it final: the proposer by its block
   * signature (when given; it must then be valid) and each organisation by a valid attestation,
   * each counted once. Resolves to {height, proposers, quorum, attested, proposerSigned,
   * rejected: [{index, org, reason}], final, beyond, upToHeight}; rejects with a VerifyError
   * whose code is the reason (other_chain, header_hash, genesis, proposer_not_allowed,
   * bad_block_signature).
   */
  async function verifyFinality(header, blockHash, signature, attestations, keys) {
    checkHeaderShape(header);
    if (header.chain_id !== keys.chain_id) {
      throw new VerifyError("other_chain", { keys_chain: keys.chain_id, chain: header.chain_id });
    }
    const hash = await headerHash(header);
    if (toHex(hash) !== blockHash) throw new VerifyError("header_hash", {});
    const h = header.height;
    if (h === 0) throw new VerifyError("genesis", {});
    const proposers = proposersAt(keys, h);
    const counted = new Set();
    if (signature !== null && signature !== undefined) {
      if (!proposers.includes(header.proposer)) throw new VerifyError("proposer_not_allowed", { proposer: header.proposer, height: h });
      const key = nodeKeyAt(keys, header.proposer, h) || "";
      if (!(await ed25519(key, concat(DOMAIN_BLOCK, hash), signature))) {
        throw new VerifyError("bad_block_signature", { proposer: header.proposer, height: h });
      }
      counted.add(header.proposer);
    }
    const seen = new Set();
    const rejected = [];
    for (let index = 0; index < attestations.length; index++) {
      const att = attestations[index];
      let reason = await attestationProblem(att, header, blockHash, keys, proposers);
      if (reason === null && seen.has(att.org)) reason = "duplicate";
      const org = att && typeof att === "object" && typeof att.org === "string" ? att.org : null;
      if (reason !== null) { rejected.push({ index, org, reason }); continue; }
      seen.add(org);
      counted.add(org);
    }
    const need = quorum(proposers.length);
    const attested = [...counted].sort(byCodePoint);
    return {
      height: h, proposers, quorum: need, attested, proposerSigned: signature !== null && signature !== undefined,
      rejected, final: attested.length >= need, beyond: h > keys.up_to_height, upToHeight: keys.up_to_height,
    };
  }

  /** The finality of a proof file with its claim checked (proof_finality). */
  async function proofFinality(proof, keys) {
    const attestations = "attestations" in proof ? proof.attestations : [];
    if (!Array.isArray(attestations)) throw new VerifyError("malformed", { detail: "attestations" });
    const claim = proof.final;
    if (claim !== undefined && claim !== null && typeof claim !== "boolean") throw new VerifyError("malformed", { detail: "final" });
    if (typeof proof.signature !== "string") throw new VerifyError("malformed", { detail: "signature" });
    const blockHash = "block_hash" in proof ? proof.block_hash : proof.hash;
    const result = await verifyFinality(proof.header, blockHash, proof.signature, attestations, keys);
    if (claim === true && !result.final) {
      throw new VerifyError("final_without_quorum", {
        height: result.height, count: result.attested.length, total: result.proposers.length,
        quorum: result.quorum, orgs: result.attested.join(", ") || "-",
      });
    }
    return result;
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
    const { header, finality } = await checkedHeader(proof, nodeKeys);
    const tree = parseStateProof(proof.proof);
    let key = utf8.encode(proof.key);
    let proven = value;
    if (proof.log !== null && proof.log !== undefined) {
      // a key of the readings log: its block's log, then that block's seal in the state
      [key, proven] = await logEntrySeal(key, value, proof.log);
    }
    await verifyStateTree(fromHex(header.state_root, "state_root", 32), key, proven, tree);
    return { height: header.height, proposer: header.proposer, value: value === null ? null : toHex(value), finality };
  }

  /** A readings-log entry checked against its block's seal (sdk/proofs.py verify_log_entry,
   * formats.md §5a); resolves to the seal's key and bytes for the state proof. */
  async function logEntrySeal(key, value, log) {
    if (value === null) throw new VerifyError("state_proof", {}); // the log never proves absence
    if (log === null || typeof log !== "object") throw new VerifyError("malformed", { detail: "log" });
    const { height, index, count } = log;
    if (![height, index, count].every((n) => Number.isInteger(n) && n >= 0)) {
      throw new VerifyError("malformed", { detail: "log" });
    }
    if (log.seal_key !== "metering/log/" + String(height).padStart(20, "0")) {
      throw new VerifyError("state_proof", {});
    }
    const seal = fromHex(log.seal_hex, "seal_hex");
    const sealed = decodedJson(seal);
    if (sealed === undefined || sealed === null || typeof sealed !== "object"
        || canonical(sealed) !== new TextDecoder().decode(seal)
        || !sameFields(sealed, ["count", "root"]) || sealed.count !== count) {
      throw new VerifyError("state_proof", {});
    }
    if (!Array.isArray(log.audit_path)) throw new VerifyError("malformed", { detail: "audit_path" });
    const path = log.audit_path.map((p) => fromHex(p, "audit_path", 32));
    const length = new Uint8Array([key.length >> 8, key.length & 0xff]);
    await verifyInclusion(concat(length, key, value), index, count, path, fromHex(sealed.root, "seal root", 32));
    return [utf8.encode(log.seal_key), seal];
  }

  /** Check a transaction inclusion proof (GET /v1/txs/{hash}/proof). Resolves to {height, proposer, index}. */
  async function verifyTxProof(proof, nodeKeys) {
    if (proof === null || typeof proof !== "object") throw new VerifyError("malformed", { detail: "proof" });
    const leaf = fromHex(proof.tx_hex, "tx_hex");
    if (toHex(await sha256(leaf)) !== proof.hash) throw new VerifyError("tx_hash", {});
    const tx = decodedJson(leaf);
    if (tx === undefined) throw new VerifyError("tx_shown", {});
    if ("tx" in proof && canonical(proof.tx) !== canonical(tx)) throw new VerifyError("tx_shown", {});
    const { header, finality } = await checkedHeader(proof, nodeKeys);
    if (proof.tree_size !== header.tx_count) throw new VerifyError("audit_path", {});
    if (!Array.isArray(proof.audit_path)) throw new VerifyError("malformed", { detail: "audit_path" });
    const path = proof.audit_path.map((p) => fromHex(p, "audit_path", 32));
    await verifyInclusion(leaf, proof.index, proof.tree_size, path, fromHex(header.tx_root, "tx_root", 32));
    return { height: header.height, proposer: header.proposer, index: proof.index, finality };
  }

  /** Check a header on its own (GET /v1/blocks/{h}/header): its hash and its signature, and
   * with a consortium keys file its attestations and final claim. */
  async function verifyHeader(view, nodeKeys) {
    const proof = { header: view.header, block_hash: view.hash, signature: view.signature, height: view.height };
    if ("final" in view) proof.final = view.final;
    if ("attestations" in view) proof.attestations = view.attestations;
    const { header, finality } = await checkedHeader(proof, nodeKeys);
    return { height: header.height, proposer: header.proposer, finality };
  }

  /** What a saved proof file is: "certificate", "tx", "state", "header", or null. */
  function proofKind(proof) {
    if (proof === null || typeof proof !== "object" || Array.isArray(proof)) return null;
    if (proof.format === CERT_FORMAT) return "certificate";
    if (proof.format === "gridledger/claim-proof/v1") return "claim";
    if (proof.format === "gridledger/product-proof/v1") return "product";
    if (proof.format === CARD_FORMAT) return "card";
    if ("tx_hex" in proof) return "tx";
    if ("proof" in proof && "key" in proof) return "state";
    if ("header" in proof && "hash" in proof) return "header";
    return null;
  }

  /** Check any saved proof file: resolves to {kind, ...the kind's result}. A certificate proof
   * file takes a consortium keys file, and may come with a later file of the same bundle. */
  async function verifyProofFile(proof, keys, later) {
    const kind = proofKind(proof);
    if (kind === "certificate") return verifyCertificateProof(proof, keys, later);
    if (kind === "claim") return verifyClaimProof(proof, keys);
    if (kind === "product") return verifyProductProof(proof, keys);
    if (kind === "card") return verifyCardProof(proof, keys);
    if (kind === "tx") return { kind, ...(await verifyTxProof(proof, keys)) };
    if (kind === "state") return { kind, ...(await verifyStateProof(proof, keys)) };
    if (kind === "header") return { kind, ...(await verifyHeader(proof, keys)) };
    throw new VerifyError("malformed", { detail: "not a transaction, state or header proof" });
  }

  // certificates (sdk/certificate_proofs.py; formats.md "Certificates as documents") ---------------
  // A certificate proof file is checked in the Python verifier's order, and fails with its
  // reasons (the codes below are those of certificates.json), so both give the same verdict.
  // JavaScript numbers are exact up to 2^53: Wh ids and times beyond that are not supported.
  const CERT_FORMAT = "gridledger/certificate-proof/v1";
  const DOMAIN_CERTIFICATE = utf8.encode("gridledger/certificate/v1\n");
  const CERT_FIELDS = ["attestations", "block_hash", "bundle", "bundle_id", "device", "final", "format",
    "header", "height", "signature"];
  const RECORD_FIELDS = ["key", "proof", "value"];
  const IMMUTABLE_FIELDS = ["id", "issuance", "bundle_type", "device", "range_start", "range_end",
    "quantity_wh", "production_start_s", "production_end_s", "technology", "fuel", "capacity_w",
    "commissioned", "support", "country", "grid_zone", "issuing_body", "issuer", "scheme", "issued_s",
    "issued_height", "expires_s", "origin", "parent_hash"];
  const BUNDLE_FIELDS = {
    id: "str", issuance: "str", bundle_type: "str", device: "str", range_start: "int", range_end: "int",
    quantity_wh: "int", production_start_s: "int", production_end_s: "int", technology: "str",
    fuel: "str", capacity_w: "int", commissioned: "str", support: "str", country: "str",
    grid_zone: "str", issuing_body: "str", issuer: "str", scheme: "str", issued_s: "int",
    issued_height: "int", expires_s: "int", origin: "str?", parent_hash: "str?", hash: "str",
    owner: "str", status: "str", updated_height: "int", locked_for: "str?", cancellation: "obj?",
    claimed_height: "int?", withdrawal: "obj?",
  };
  const DEVICE_FIELDS = {
    id: "str", name: "str", owner_org: "str", technology: "str", fuel: "str", capacity_w: "int",
    commissioned: "str", country: "str", grid_region: "str", support: "str",
  };
  const DEVICE_ATTRIBUTES = [["technology", "technology"], ["fuel", "fuel"], ["capacity_w", "capacity_w"],
    ["commissioned", "commissioned"], ["support", "support"], ["country", "country"], ["grid_zone", "grid_region"]];
  const STATUSES = ["active", "locked", "cancelled", "claimed", "withdrawn", "expired", "storage_charged", "gec_exported"];
  const LIVE = ["active", "locked"];
  const DECIMAL = /^(0|[1-9][0-9]{0,18})$/;
  const HEX64 = /^[0-9a-f]{64}$/;
  const LOWER_HEX = /^(?:[0-9a-f]{2})*$/;
  const CHAIN_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
  const INT_MAX = 9223372036854775807n;
  const QR_PREFIX = "GLC1:";

  function isObject(v) {
    return v !== null && typeof v === "object" && !Array.isArray(v);
  }

  function sameFields(obj, fields) {
    const names = Object.keys(obj).sort();
    return names.length === fields.length && names.every((n, i) => n === fields[i]);
  }

  /** {device, start: the decimal text, startNumber} of "<device>:<range_start>" (parse_bundle_id). */
  function parseBundleId(value) {
    if (typeof value !== "string") throw new VerifyError("bad_id", { id: String(value) });
    const at = value.lastIndexOf(":");
    const device = at < 0 ? "" : value.slice(0, at);
    const start = at < 0 ? "" : value.slice(at + 1);
    if (!ORG_ID.test(device) || !DECIMAL.test(start)) throw new VerifyError("bad_id", { id: value });
    const big = BigInt(start);
    if (big < 1n || big > INT_MAX) throw new VerifyError("bad_id", { id: value });
    return { device, start, startNumber: Number(start) };
  }

  /** certificates/bundle/<device>/<range_start, 19 digits> (formats.md §6). */
  function bundleStateKey(device, start) {
    return `certificates/bundle/${device}/${String(start).padStart(19, "0")}`;
  }

  function deviceStateKey(device) {
    return `registry/device/${device}`;
  }

  /** SHA-256 (hex) of DOMAIN_CERTIFICATE || canonical(the immutable fields), absent ones null. */
  async function bundleHashOf(record) {
    const fields = {};
    for (const name of IMMUTABLE_FIELDS) fields[name] = record[name] === undefined ? null : record[name];
    return toHex(await sha256(concat(DOMAIN_CERTIFICATE, utf8.encode(canonical(fields)))));
  }

  function typed(obj, spec, what) {
    for (const [name, kind] of Object.entries(spec)) {
      const v = obj[name];
      if (kind.endsWith("?") && (v === null || v === undefined)) continue;
      const base = kind.replace("?", "");
      const ok = (base === "str" && typeof v === "string") || (base === "int" && Number.isInteger(v))
        || (base === "obj" && isObject(v));
      if (!ok) throw new VerifyError("record_malformed", { what, field: name });
    }
  }

  /** A bundle's status at timeS: a live one at or past its expiry is expired (status_at). */
  function statusAt(bundle, timeS) {
    return LIVE.includes(bundle.status) && timeS >= bundle.expires_s ? "expired" : bundle.status;
  }

  /** Step 1: the file's fields, its bundle id, the header hashing to block_hash. */
  async function certificateShape(proof) {
    if (!isObject(proof) || proof.format !== CERT_FORMAT || !sameFields(proof, CERT_FIELDS)) {
      throw new VerifyError("malformed", { detail: "not a certificate proof file" });
    }
    const id = parseBundleId(proof.bundle_id);
    await checkFileHeader(proof);
    if (!HEX64.test(proof.header.state_root)) throw new VerifyError("malformed", { detail: "state_root" });
    for (const what of ["bundle", "device"]) {
      if (!isObject(proof[what]) || !sameFields(proof[what], RECORD_FIELDS)) throw new VerifyError("malformed", { detail: what });
    }
    return { id, header: proof.header, height: proof.height, blockHash: proof.block_hash };
  }

  /** A record entry's proof, every hash in lower-case hex as written (_strict_hex). */
  function strictStateProof(proof, what) {
    if (!isObject(proof) || !("levels" in proof) || !("terminal" in proof)) throw new VerifyError("malformed", { detail: `${what} proof` });
    const hashes = Array.isArray(proof.levels)
      ? proof.levels.flatMap((level) => (Array.isArray(level) ? level.filter((h) => h !== null) : [])) : [];
    const t = proof.terminal;
    if (isObject(t)) {
      hashes.push(t.path, t.leaf_hash);
      if (t.value !== undefined && t.value !== null && !(typeof t.value === "string" && LOWER_HEX.test(t.value))) {
        throw new VerifyError("malformed", { detail: `${what} proof` });
      }
    } else if (t !== null) {
      throw new VerifyError("malformed", { detail: `${what} proof` });
    }
    if (hashes.some((h) => typeof h !== "string" || !HEX64.test(h))) throw new VerifyError("malformed", { detail: `${what} proof` });
    return parseStateProof(proof);
  }

  /** The record of an entry, proven against the state root; its decoded JSON object. */
  async function provenRecord(entry, expectedKey, root, what) {
    if (typeof entry.key !== "string" || typeof entry.value !== "string") throw new VerifyError("malformed", { detail: what });
    const tree = strictStateProof(entry.proof, what);
    if (entry.key !== expectedKey) throw new VerifyError("wrong_key", { what, key: entry.key, expected: expectedKey });
    const value = utf8.encode(entry.value);
    try {
      await verifyStateTree(root, utf8.encode(entry.key), value, tree);
    } catch (err) {
      if (err instanceof VerifyError && (err.code === "state_proof" || err.code === "value")) throw new VerifyError("state_proof", { what });
      throw err;
    }
    let record;
    try { record = JSON.parse(entry.value); } catch (_) { record = undefined; }
    if (!isObject(record)) throw new VerifyError("record_malformed", { what, field: "-" });
    return record;
  }

  /** Steps 3 and 4: both records under their keys, in the state, agreeing with each other. */
  async function certificateRecords(proof, shape) {
    const { device, start, startNumber } = shape.id;
    const root = fromHex(shape.header.state_root, "state_root", 32);
    const bundle = await provenRecord(proof.bundle, bundleStateKey(device, start), root, "bundle");
    typed(bundle, BUNDLE_FIELDS, "bundle");
    if (bundle.id !== proof.bundle_id || bundle.device !== device || bundle.range_start !== startNumber) {
      throw new VerifyError("record_mismatch", { what: "bundle", id: String(bundle.id) });
    }
    if (!STATUSES.includes(bundle.status)) throw new VerifyError("record_malformed", { what: "bundle", field: "status" });
    if (bundle.range_end < bundle.range_start || bundle.quantity_wh !== bundle.range_end - bundle.range_start + 1) {
      throw new VerifyError("bad_quantity", { id: bundle.id });
    }
    if ((await bundleHashOf(bundle)) !== bundle.hash) throw new VerifyError("bundle_hash", { id: bundle.id });
    const deviceRecord = await provenRecord(proof.device, deviceStateKey(device), root, "device");
    typed(deviceRecord, DEVICE_FIELDS, "device");
    if (deviceRecord.id !== device) throw new VerifyError("record_mismatch", { what: "device", id: String(deviceRecord.id) });
    for (const [ours, theirs] of DEVICE_ATTRIBUTES) {
      if (bundle[ours] !== deviceRecord[theirs]) throw new VerifyError("device_mismatch", { field: ours });
    }
    return { bundle, device: deviceRecord, height: shape.height, blockHash: shape.blockHash, header: shape.header,
      timeS: Math.floor(shape.header.time / 1000) };
  }

  async function checkedCertificate(proof, keys) {
    const shape = await certificateShape(proof);
    const finality = await proofFinality(proof, keys);
    return { records: await certificateRecords(proof, shape), finality };
  }

  function consortiumKeys(keys) {
    if (!isConsortiumKeys(keys)) throw new VerifyError("keys_invalid", { detail: "a consortium keys file is needed" });
    return keys;
  }

  /**
   * Check a certificate proof file with a consortium keys file (verify_certificate_proof), and
   * a later file of the same bundle when given. Resolves to the summary; rejects with a
   * VerifyError whose code is the Python verifier's reason.
   */
  async function verifyCertificateProof(proof, keys, later) {
    consortiumKeys(keys);
    const { records, finality } = await checkedCertificate(proof, keys);
    const bundle = records.bundle;
    const status = statusAt(bundle, records.timeS);
    if (status === "withdrawn") throw new VerifyError("withdrawn", { id: bundle.id, reason: (bundle.withdrawal || {}).reason || "" });
    if (status === "expired") throw new VerifyError("expired", { id: bundle.id });
    let laterState = null;
    if (later !== undefined && later !== null) {
      let newer;
      try {
        newer = await checkedCertificate(later, keys);
      } catch (err) {
        throw new VerifyError("later_invalid", { reason: err instanceof VerifyError ? err.code : "malformed" });
      }
      const theirs = newer.records.bundle;
      if (theirs.id !== bundle.id || theirs.issuance !== bundle.issuance) throw new VerifyError("later_mismatch", { id: theirs.id });
      if (newer.records.height <= records.height) throw new VerifyError("later_not_later", { height: newer.records.height });
      const laterStatus = statusAt(theirs, newer.records.timeS);
      if (laterStatus === "withdrawn") {
        throw new VerifyError("withdrawn_later", { id: bundle.id, height: newer.records.height, reason: (theirs.withdrawal || {}).reason || "" });
      }
      if (laterStatus === "expired") throw new VerifyError("expired_later", { id: bundle.id, height: newer.records.height });
      laterState = { height: newer.records.height, status: laterStatus, hash: theirs.hash,
        split_since: theirs.hash !== bundle.hash && theirs.parent_hash === bundle.hash, final: newer.finality.final };
    }
    const cancellation = bundle.cancellation || {};
    return {
      kind: "certificate", bundle, device: records.device, height: records.height, proposer: records.header.proposer,
      finality, later: laterState, status,
      summary: {
        bundle_id: bundle.id, hash: bundle.hash, parent_hash: bundle.parent_hash === undefined ? null : bundle.parent_hash,
        device: bundle.device, range_start: bundle.range_start, range_end: bundle.range_end, quantity_wh: bundle.quantity_wh,
        production_start_s: bundle.production_start_s, production_end_s: bundle.production_end_s, status,
        owner: bundle.owner, beneficiary: cancellation.beneficiary === undefined ? null : cancellation.beneficiary,
        issuing_body: bundle.issuing_body, height: records.height, block_hash: records.blockHash,
        proposer: records.header.proposer, final: finality.final,
      },
    };
  }


  // claims (sdk/claim_proofs.py; formats.md §6d "Claim proof files") ----------------------------
  // Checked in the Python verifier's order with its reasons (claims.json), so both agree.
  const CLAIM_FORMAT = "gridledger/claim-proof/v1";
  const CLAIM_PROOF_FIELDS = ["attestations", "block_hash", "blocks", "claim", "claim_id", "final", "format",
    "header", "height", "retirements", "signature"];
  const CLAIM_FIELDS = {
    id: "str", org: "str", claimant: "str", subject: "obj", boundary: "str", start_s: "int", end_s: "int",
    inventory: "obj", residual_g: "int", required_t: "int", baseline_ref: "str", baseline_g: "int",
    reduction_g: "int", plan_ref: "str", retired_t: "int", status: "str", height: "int", time_s: "int",
    statement: "obj?", withdrawn_reason: "str?",
  };
  const INVENTORY_FIELDS = { gas: "str", scope1_g: "int", scope2_location_g: "int", scope2_market_g: "int", scope3_g: "int" };
  const MONTH_FIELDS = { site: "str", month: "str", consumption_wh: "int", covered_wh: "int", grid_g_per_mwh: "int",
    market_g_per_mwh: "int", factor_set: "str", scope1_g: "int", scope2_location_g: "int", scope2_market_g: "int" };
  const CLAIMED_FIELDS = { id: "int", serial: "str", project: "str", quantity_t: "int", time_s: "int", issued_height: "int" };
  const RETIREMENT_FIELDS = { id: "int", serial: "str", project: "str", quantity_t: "int", holder: "str",
    beneficiary: "str", reason: "str", claim_start_s: "int", claim_end_s: "int", time_s: "int", height: "int",
    compliance_period: "str?" };
  const BLOCK_FIELDS = { project: "str", number: "int", country: "str", period: "str", vintage_start: "str",
    vintage_end: "str", batch: "int", first: "int", last: "int", gas: "str", status: "str", issued_height: "int" };
  const CLAIM_ID = /^[a-z0-9][a-z0-9._-]{0,63}$/;

  function claimTyped(obj, spec, what) {
    if (!isObject(obj)) throw new VerifyError("record_malformed", { what, field: "-" });
    typed(obj, spec, what);
    return obj;
  }

  /** The first second of the month `months` after the month starting at timeS (UTC). */
  function monthsAfter(timeS, months) {
    const at = new Date(timeS * 1000);
    const index = at.getUTCFullYear() * 12 + at.getUTCMonth() + months;
    return Date.UTC(Math.floor(index / 12), index % 12, 1) / 1000;
  }

  function floorDiv(a, b) { return Math.floor(a / b); }

  function claimFigures(claim) {
    const inv = claimTyped(claim.inventory, INVENTORY_FIELDS, "inventory");
    if (!Array.isArray(inv.months)) throw new VerifyError("record_malformed", { what: "inventory", field: "months" });
    const sums = { scope1_g: 0, scope2_location_g: 0, scope2_market_g: 0 };
    for (const m of inv.months) {
      claimTyped(m, MONTH_FIELDS, "inventory month");
      if (!(m.covered_wh >= 0 && m.covered_wh <= m.consumption_wh)) throw new VerifyError("figures", { what: m.site });
      const location = Number((BigInt(m.consumption_wh) * BigInt(m.grid_g_per_mwh)) / 1000000n);
      const market = Number((BigInt(m.consumption_wh - m.covered_wh) * BigInt(m.market_g_per_mwh)) / 1000000n);
      if (m.scope2_location_g !== location || m.scope2_market_g !== market) throw new VerifyError("figures", { what: m.site });
      for (const name of Object.keys(sums)) sums[name] += m[name];
    }
    for (const [name, total] of Object.entries(sums)) {
      if (inv[name] !== total) throw new VerifyError("figures", { what: name });
    }
    const residual = inv.scope1_g + inv.scope2_market_g + inv.scope3_g;
    if (claim.residual_g !== residual) throw new VerifyError("figures", { what: "residual_g" });
    if (claim.required_t !== -floorDiv(-residual, 1000000)) throw new VerifyError("figures", { what: "required_t" });
    if (claim.reduction_g !== claim.baseline_g - residual) throw new VerifyError("figures", { what: "reduction_g" });
  }

  function parseSerial(serial) {
    const parts = serial.split("-");
    const digits = parts.length === 9 ? [parts[3], parts[7], parts[8]] : [];
    if (parts[0] !== "GLR" || parts[1] !== "VER" || digits.length !== 3 || !digits.every((d) => /^[0-9]+$/.test(d))) {
      throw new VerifyError("record_malformed", { what: "serial", field: serial });
    }
    return digits.map(Number);
  }

  function serialOf(b) {
    return ["GLR", "VER", b.country, b.number, b.vintage_start, b.vintage_end, b.batch, b.first, b.last].join("-");
  }

  function retirementChecks(claim, claimed, r, b) {
    const n = claimed.id;
    for (const name of ["id", "serial", "project", "quantity_t", "time_s"]) {
      if (r[name] !== claimed[name]) throw new VerifyError("record_mismatch", { what: `retirement ${n}`, id: name });
    }
    if (r.compliance_period !== undefined && r.compliance_period !== null) throw new VerifyError("compliance_retirement", { id: n });
    if (r.beneficiary !== claim.org) throw new VerifyError("wrong_beneficiary", { id: n });
    if (!(r.claim_start_s <= claim.start_s && claim.start_s < claim.end_s && claim.end_s <= r.claim_end_s)) {
      throw new VerifyError("retirement_period", { id: n });
    }
    if (r.time_s > monthsAfter(claim.end_s, 12)) throw new VerifyError("retired_too_late", { id: n });
    if (serialOf(b) !== r.serial || b.last - b.first + 1 !== r.quantity_t) throw new VerifyError("record_mismatch", { what: "block", id: r.serial });
    if (b.status !== "retired" || b.retirement !== n) throw new VerifyError("record_mismatch", { what: "block", id: r.serial });
    if (b.issued_height !== claimed.issued_height) throw new VerifyError("record_mismatch", { what: "block", id: r.serial });
    if (!(b.issued_height <= r.height && r.height <= claim.height)) throw new VerifyError("order", { id: n });
    if (b.gas !== claim.inventory.gas) throw new VerifyError("mixed_gas", { id: n });
  }

  /**
   * Check a claim proof file with a consortium keys file (verify_claim_proof). Resolves to
   * {kind: "claim", claim, height, proposer, finality, summary}; rejects with a VerifyError
   * whose code is the Python verifier's reason.
   */
  async function verifyClaimProof(proof, keys) {
    consortiumKeys(keys);
    if (!isObject(proof) || proof.format !== CLAIM_FORMAT || !sameFields(proof, CLAIM_PROOF_FIELDS)) {
      throw new VerifyError("malformed", { detail: "not a claim proof file" });
    }
    if (typeof proof.claim_id !== "string" || !CLAIM_ID.test(proof.claim_id)) throw new VerifyError("bad_id", { id: String(proof.claim_id) });
    await checkFileHeader(proof);
    if (!HEX64.test(proof.header.state_root)) throw new VerifyError("malformed", { detail: "state_root" });
    if (!Array.isArray(proof.retirements) || !Array.isArray(proof.blocks)) throw new VerifyError("malformed", { detail: "retirements" });
    const finality = await proofFinality(proof, keys);
    const root = fromHex(proof.header.state_root, "state_root", 32);
    const entry = (e, what) => {
      if (!isObject(e) || !sameFields(e, RECORD_FIELDS)) throw new VerifyError("malformed", { detail: what });
      return e;
    };
    const claim = await provenRecord(entry(proof.claim, "claim"), `claims/claim/${proof.claim_id}`, root, "claim");
    claimTyped(claim, CLAIM_FIELDS, "claim");
    if (claim.id !== proof.claim_id) throw new VerifyError("record_mismatch", { what: "claim", id: String(claim.id) });
    claimFigures(claim);
    const listed = claim.retirements;
    if (!Array.isArray(listed) || listed.length === 0) throw new VerifyError("record_malformed", { what: "claim", field: "retirements" });
    if (proof.retirements.length !== listed.length || proof.blocks.length !== listed.length) {
      throw new VerifyError("malformed", { detail: "one retirement and one block per retirement" });
    }
    const retirements = [];
    for (let i = 0; i < listed.length; i++) {
      const claimed = claimTyped(listed[i], CLAIMED_FIELDS, "claimed retirement");
      const n = claimed.id;
      const rKey = `credits/retirement/${String(n).padStart(12, "0")}`;
      const r = claimTyped(await provenRecord(entry(proof.retirements[i], `retirement ${n}`), rKey, root, `retirement ${n}`),
        RETIREMENT_FIELDS, `retirement ${n}`);
      const [number, first] = parseSerial(r.serial);
      const bKey = `credits/block/${String(number).padStart(8, "0")}/${String(first).padStart(12, "0")}`;
      const b = claimTyped(await provenRecord(entry(proof.blocks[i], `block ${n}`), bKey, root, `block of retirement ${n}`),
        BLOCK_FIELDS, `block of retirement ${n}`);
      retirementChecks(claim, claimed, r, b);
      retirements.push(r);
    }
    if (new Set(listed.map((c) => c.id)).size !== listed.length) throw new VerifyError("record_malformed", { what: "claim", field: "retirements" });
    const retired = retirements.reduce((sum, r) => sum + r.quantity_t, 0);
    if (claim.retired_t !== retired) throw new VerifyError("figures", { what: "retired_t" });
    if (retired < claim.required_t) throw new VerifyError("not_covered", { id: claim.id });
    if (claim.status === "withdrawn") throw new VerifyError("withdrawn", { id: claim.id, reason: claim.withdrawn_reason || "" });
    const statement = claim.statement || {};
    return {
      kind: "claim", claim, height: proof.height, proposer: proof.header.proposer, finality,
      id: claim.id, org: claim.org, residual_g: claim.residual_g, retired_t: claim.retired_t,
      summary: {
        claim_id: claim.id, org: claim.org, status: claim.status, residual_g: claim.residual_g,
        required_t: claim.required_t, retired_t: claim.retired_t, height: proof.height,
        block_hash: proof.block_hash, proposer: proof.header.proposer, final: finality.final,
        opinion: statement.opinion === undefined ? null : statement.opinion,
      },
    };
  }

  // shared by the proof files (sdk/proof_files.py) ---------------------------------------------
  const MAX_RECORDS = 10000;

  /** The file's header is an object hashing to its block_hash, at its height (checked_header). */
  async function checkFileHeader(proof) {
    if (!isObject(proof.header)) throw new VerifyError("malformed", { detail: "header" });
    const hash = await headerHash(proof.header);
    if (typeof proof.block_hash !== "string" || toHex(hash) !== proof.block_hash) throw new VerifyError("header_hash", {});
    if (!Number.isInteger(proof.height) || proof.height !== proof.header.height) throw new VerifyError("malformed", { detail: "height" });
  }

  /**
   * The file's `records` (1-10000 entries of exactly key, value and proof, each key once), each
   * proven in the state with `root` (proven_records). Resolves to a Map of value text by key.
   */
  async function provenRecords(proof, root) {
    const entries = proof.records;
    if (!Array.isArray(entries) || entries.length < 1 || entries.length > MAX_RECORDS) {
      throw new VerifyError("malformed", { detail: "records" });
    }
    const records = new Map();
    for (const e of entries) {
      if (!isObject(e) || !sameFields(e, RECORD_FIELDS)) throw new VerifyError("malformed", { detail: "record" });
      if (typeof e.key !== "string" || typeof e.value !== "string" || !isObject(e.proof)) throw new VerifyError("malformed", { detail: "record" });
      if (records.has(e.key)) throw new VerifyError("malformed", { detail: `${e.key} twice` });
      try {
        await verifyStateTree(root, utf8.encode(e.key), utf8.encode(e.value), strictStateProof(e.proof, e.key));
      } catch (err) {
        if (err instanceof VerifyError) throw new VerifyError("state_proof", { what: e.key });
        throw err;
      }
      records.set(e.key, e.value);
    }
    return records;
  }

  // products (sdk/product_proofs.py; formats.md §6e "Product proof files") --------------------
  // Checked in the Python verifier's order with its reasons (products.json), so both agree;
  // an item's verdict is judged by the contract's rule (contracts/products judge).
  const PRODUCT_FORMAT = "gridledger/product-proof/v1";
  const PRODUCT_PROOF_FIELDS = ["attestations", "block_hash", "final", "format", "header", "height",
    "records", "signature", "subject"];
  const PART = /^[A-Za-z0-9._-]{1,20}$/;
  const TRANSIT_S = 30 * 86400;
  const TYPE_FIELDS = { gtin: "str", name: "str", org: "str", unit: "str", unit_mass_g: "int",
    registered_by: "str", height: "int", cn_code: "str?" };
  const ORG_FIELDS = { id: "str", name: "str" };
  const SITE_FIELDS = { id: "str", name: "str", owner_org: "str", country: "str", grid_region: "str",
    max_wh_per_hour: "int", registered_height: "int" };
  const BATCH_FIELDS = { gtin: "str", lot: "str", org: "str", site: "str", status: "str", started_s: "int",
    registered_by: "str", height: "int", quantity: "int?", consumed: "int?", scrapped: "int?",
    shipments: "int?", completed_s: "int?", completed_height: "int?", recall_reason: "str?" };
  const ITEM_FIELDS = { gtin: "str", serial: "str", org: "str", holder: "str", status: "str", events: "int",
    registered_height: "int", lot: "str?", to: "str?", came_from: "str?", parent: "str?", recall_reason: "str?" };
  const EVENT_FIELDS = { n: "int", type: "str", org: "str", by: "str", time_s: "int", height: "int",
    to_org: "str?", parent: "str?", note: "str?" };
  const FOOTPRINT_FIELDS = { gtin: "str", lot: "str", org: "str", site: "str", start_s: "int", end_s: "int",
    quantity: "int", unit: "str", mass_g: "int", share_ppm: "int", gas: "str", electricity: "obj",
    direct: "obj", own_location_g: "int", own_market_g: "int", direct_g: "int", indirect_location_g: "int",
    indirect_market_g: "int", total_location_g: "int", total_market_g: "int" };
  const ELECTRICITY_FIELDS = { consumption_wh: "int", allocated_wh: "int", covered_wh: "int", location_g: "int",
    market_g: "int" };
  const SHARE_FIELDS = { gtin: "str", lot: "str", consumed: "int", input_quantity: "int", direct_g: "int",
    indirect_location_g: "int", indirect_market_g: "int", default_g: "int" };
  const DEFAULT_FIELDS = { id: "str", mass_g: "int", direct_g: "int", indirect_g: "int" };

  /** Whether a GTIN's last digit is its GS1 check digit (weights 3, 1, 3, ... from the right). */
  function validGtin(gtin) {
    if (typeof gtin !== "string" || !/^[0-9]{8,14}$/.test(gtin)) return false;
    let sum = 0;
    const body = gtin.slice(0, -1);
    for (let i = 0; i < body.length; i++) sum += Number(body[body.length - 1 - i]) * (i % 2 === 0 ? 3 : 1);
    return (10 - (sum % 10)) % 10 === Number(gtin[gtin.length - 1]);
  }

  function productRecord(records, key, spec, what) {
    if (!records.has(key)) throw new VerifyError("missing_record", { what, key });
    let record;
    try { record = JSON.parse(records.get(key)); } catch (_) { record = undefined; }
    if (!isObject(record)) throw new VerifyError("record_malformed", { what, field: "-" });
    typed(record, spec, what);
    return record;
  }

  function footprintAddsUp(fp) {
    if (!isObject(fp.direct) || !Number.isInteger(fp.direct.g)) throw new VerifyError("record_malformed", { what: "footprint", field: "direct" });
    typed(fp.electricity, ELECTRICITY_FIELDS, "footprint");
    if (!Array.isArray(fp.inputs) || !Array.isArray(fp.defaults)) throw new VerifyError("record_malformed", { what: "footprint", field: "inputs" });
    for (const s of fp.inputs) { if (!isObject(s)) throw new VerifyError("record_malformed", { what: "footprint", field: "inputs" }); typed(s, SHARE_FIELDS, "footprint"); }
    for (const d of fp.defaults) { if (!isObject(d)) throw new VerifyError("record_malformed", { what: "footprint", field: "defaults" }); typed(d, DEFAULT_FIELDS, "footprint"); }
    const sum = (list, name) => list.reduce((total, x) => total + BigInt(x[name]), 0n);
    const direct = BigInt(fp.direct.g) + sum(fp.inputs, "direct_g") + sum(fp.defaults, "direct_g");
    const indirect = sum(fp.defaults, "indirect_g");
    const loc = BigInt(fp.electricity.location_g) + sum(fp.inputs, "indirect_location_g") + indirect;
    const mkt = BigInt(fp.electricity.market_g) + sum(fp.inputs, "indirect_market_g") + indirect;
    const sums = [direct, loc, mkt, direct + loc, direct + mkt];
    const have = [fp.direct_g, fp.indirect_location_g, fp.indirect_market_g, fp.total_location_g, fp.total_market_g];
    if (!sums.every((s, i) => s === BigInt(have[i]))) throw new VerifyError("footprint_sum", { what: `${fp.gtin}/${fp.lot}` });
  }

  /** An item's verdict from its records alone, as the contract judges it (judge). */
  function judgeItem(item, root, events, batch, nowS, seenAt) {
    const recalled = [];
    if (item.recalled === true) recalled.push("item_recalled");
    if (batch && batch.recalled === true) recalled.push("batch_recalled");
    if (recalled.length) return ["recalled", recalled];
    const reasons = [];
    if (item.status === "scrapped") reasons.push("scrapped");
    const seen = seenAt === undefined ? null : seenAt;
    if (root.status === "in_transit") {
      const shipped = events.filter((e) => e.type === "shipped" || e.type === "returned").map((e) => e.time_s);
      const late = shipped.length > 0 && nowS - shipped[shipped.length - 1] > TRANSIT_S;
      if (late || (seen !== null && seen === root.to)) reasons.push("custody_gap");
      if (seen !== null && seen !== root.holder && seen !== root.to) reasons.push("two_holders");
    } else if (seen !== null && seen !== root.holder && item.status !== "scrapped") {
      reasons.push("two_holders");
    }
    return reasons.length ? ["suspicious", reasons] : ["genuine", []];
  }

  /**
   * Check a product proof file with a consortium keys file (verify_product_proof), an item
   * judged as seen at organisation `seenAt` (optional). Resolves to {kind: "product", ...,
   * summary}; rejects with a VerifyError whose code is the Python verifier's reason.
   */
  async function verifyProductProof(proof, keys, seenAt) {
    consortiumKeys(keys);
    if (!isObject(proof) || proof.format !== PRODUCT_FORMAT || !sameFields(proof, PRODUCT_PROOF_FIELDS)) {
      throw new VerifyError("malformed", { detail: "not a product proof file" });
    }
    await checkFileHeader(proof);
    const finality = await proofFinality(proof, keys);
    const subject = proof.subject;
    const names = isObject(subject) ? Object.keys(subject).sort().join(",") : "";
    if (names !== "gtin,lot" && names !== "gtin,serial") throw new VerifyError("malformed", { detail: "subject" });
    const gtin = subject.gtin;
    const isBatch = names === "gtin,lot";
    const part = isBatch ? subject.lot : subject.serial;
    if (typeof gtin !== "string" || gtin.length !== 14 || !validGtin(gtin)) throw new VerifyError("bad_subject", { id: String(gtin) });
    if (typeof part !== "string" || !PART.test(part)) throw new VerifyError("bad_subject", { id: String(part) });
    if (!HEX64.test(proof.header.state_root)) throw new VerifyError("malformed", { detail: "state_root" });
    const root = fromHex(proof.header.state_root, "state_root", 32);
    const records = await provenRecords(proof, root);
    const product = productRecord(records, `products/type/${gtin}`, TYPE_FIELDS, "product type");
    if (product.gtin !== gtin) throw new VerifyError("record_mismatch", { what: "product type", id: product.gtin });
    const timeS = Math.floor(proof.header.time / 1000);
    const org = productRecord(records, `registry/org/${product.org}`, ORG_FIELDS, "manufacturer");
    const base = {
      kind: "product", gtin, part, height: proof.height, block_hash: proof.block_hash, chain_id: proof.header.chain_id,
      proposer: proof.header.proposer, block_time_s: timeS, finality, product, manufacturer: org,
    };
    const summary = (extra) => ({
      gtin, lot: isBatch ? part : null, serial: isBatch ? null : part, chain_id: proof.header.chain_id,
      height: proof.height, block_hash: proof.block_hash, final: finality.final, product: product.name,
      manufacturer: org.id, ...extra,
    });
    if (isBatch) {
      const batch = productRecord(records, `products/batch/${gtin}/${part}`, BATCH_FIELDS, "batch");
      if (batch.gtin !== gtin || batch.lot !== part) throw new VerifyError("record_mismatch", { what: "batch", id: `${batch.gtin}/${batch.lot}` });
      if (batch.status !== "completed") throw new VerifyError("in_production", { id: `${gtin}/${part}` });
      const fp = productRecord(records, `products/footprint/${gtin}/${part}`, FOOTPRINT_FIELDS, "footprint");
      if (fp.gtin !== gtin || fp.lot !== part || fp.quantity !== (batch.quantity || 0)) {
        throw new VerifyError("record_mismatch", { what: "footprint", id: `${fp.gtin}/${fp.lot}` });
      }
      footprintAddsUp(fp);
      const site = productRecord(records, `registry/site/${batch.site}`, SITE_FIELDS, "site");
      return { ...base, lot: part, serial: null, site, batch, footprint: fp,
        summary: summary({ total_market_g: fp.total_market_g, total_location_g: fp.total_location_g, gas: fp.gas }) };
    }
    const item = productRecord(records, `products/item/${gtin}/${part}`, ITEM_FIELDS, "item");
    if (item.gtin !== gtin || item.serial !== part) throw new VerifyError("record_mismatch", { what: "item", id: `${item.gtin}/${item.serial}` });
    const events = [];
    for (let n = 1; n <= item.events; n++) {
      events.push(productRecord(records, `products/event/${gtin}/${part}/${String(n).padStart(6, "0")}`, EVENT_FIELDS, `custody event ${n}`));
    }
    if (!events.every((e, i) => e.n === i + 1)) throw new VerifyError("record_mismatch", { what: "custody events" });
    let batch = null;
    if (item.lot !== undefined && item.lot !== null) {
      batch = productRecord(records, `products/batch/${gtin}/${item.lot}`, BATCH_FIELDS, "item's batch");
    }
    const parents = [];
    let at = item;
    while (at.status === "installed" && at.parent !== undefined && at.parent !== null) {
      if (parents.length > 16) throw new VerifyError("record_mismatch", { what: "items nest at most 16 deep" });
      const slash = at.parent.indexOf("/");
      const [pGtin, pSerial] = [at.parent.slice(0, slash), at.parent.slice(slash + 1)];
      at = productRecord(records, `products/item/${pGtin}/${pSerial}`, ITEM_FIELDS, `parent item ${at.parent}`);
      parents.push(at);
    }
    const [verdict, reasons] = judgeItem(item, at, events, batch, timeS, seenAt);
    return { ...base, lot: null, serial: part, item, events, batch, parents, verdict, reasons,
      summary: summary({ verdict, reasons, holder: at.holder, installed_in: parents.map((p) => `${p.gtin}/${p.serial}`) }) };
  }

  // record card proof files (docs/formats.md §6f) -------------------------------------------------
  const CARD_FORMAT = "gridledger/record-card/v1";
  const CARD_PROOF_FIELDS = ["account", "attestations", "block_hash", "final", "format", "header", "height",
    "month", "records", "signature", "time_zone"];
  const CARD_MONTH = /^(19[7-9][0-9]|2[0-8][0-9][0-9])-(0[1-9]|1[0-2])$/;
  const CLAIM_ENTRY = /^([0-9]{10})\/([a-z0-9][a-z0-9._-]{0,63}:[1-9][0-9]{0,18})$/;
  const ACCOUNT_FIELDS = { id: "str", org: "str", public_key: "str" };
  const FACTOR_SET_FIELDS = { id: "str", region: "str", start_s: "int", end_s: "int", grid_average: "obj" };

  /** The zone's offset from UTC at utcMs, in ms (what Intl says the wall clock shows). */
  function zoneOffsetMs(zone, utcMs) {
    const parts = {};
    const format = new Intl.DateTimeFormat("en-US", { timeZone: zone, hourCycle: "h23", year: "numeric",
      month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" });
    for (const p of format.formatToParts(new Date(utcMs))) parts[p.type] = Number(p.value);
    return Date.UTC(parts.year, parts.month - 1, parts.day, parts.hour, parts.minute, parts.second) - utcMs;
  }

  /** Unix seconds at which local day 1 of month m (1-12) of year y starts in the zone. */
  function localMonthStart(zone, y, m) {
    const wall = Date.UTC(y, m - 1, 1);
    let t = wall - zoneOffsetMs(zone, wall);
    t = wall - zoneOffsetMs(zone, t);
    return Math.floor(t / 1000);
  }

  function cardRecord(records, used, key, spec, what) {
    used.add(key);
    return productRecord(records, key, spec, what);
  }

  /** carbon.factor_for over the file's carbon records only: [set, fallback] or null. */
  function cardFactor(records, region, timeS) {
    let provinces = {};
    if (records.has("carbon/regions")) {
      let map;
      try { map = JSON.parse(records.get("carbon/regions")); } catch (_) { map = undefined; }
      if (!isObject(map) || !isObject(map.provinces)) throw new VerifyError("record_malformed", { what: "region map", field: "provinces" });
      provinces = map.provinces;
    }
    const path = [region];
    const grid = Object.prototype.hasOwnProperty.call(provinces, region) ? provinces[region] : undefined;
    if (grid !== undefined && grid !== null) path.push(grid);
    if (!path.includes(region.slice(0, 2))) path.push(region.slice(0, 2));
    const upto = String(timeS).padStart(10, "0");
    for (const candidate of path) {
      const prefix = `carbon/factor_set/${candidate}/`;
      const keys = [...records.keys()].filter((k) => k.startsWith(prefix) && k.slice(prefix.length) <= upto).sort();
      if (!keys.length) continue;
      const set = productRecord(records, keys[keys.length - 1], FACTOR_SET_FIELDS, "factor set");
      if (!Number.isInteger(set.grid_average.g_per_mwh)) throw new VerifyError("record_malformed", { what: "factor set", field: "grid_average" });
      if (set.start_s <= timeS && timeS < set.end_s) return [set, candidate !== region];
    }
    return null;
  }

  /**
   * Check a record card proof file with a consortium keys file (verify_card_proof). Resolves to
   * {kind: "card", ..., claimed_wh, hours, avoided_g, bundles, certifiers}; rejects with a
   * VerifyError whose code is the Python verifier's reason.
   */
  async function verifyCardProof(proof, keys) {
    consortiumKeys(keys);
    if (!isObject(proof) || proof.format !== CARD_FORMAT || !sameFields(proof, CARD_PROOF_FIELDS)) {
      throw new VerifyError("malformed", { detail: "not a record card proof file" });
    }
    const { account, month, time_zone: zone } = proof;
    if (typeof account !== "string" || !ORG_ID.test(account)) throw new VerifyError("bad_subject", { id: String(account) });
    if (typeof month !== "string" || !CARD_MONTH.test(month)) throw new VerifyError("bad_subject", { id: String(month) });
    try {
      if (typeof zone !== "string" || !zone) throw new RangeError(zone);
      new Intl.DateTimeFormat("en-US", { timeZone: zone });
    } catch (_) {
      throw new VerifyError("bad_subject", { id: String(zone) });
    }
    await checkFileHeader(proof);
    const finality = await proofFinality(proof, keys);
    if (!HEX64.test(proof.header.state_root)) throw new VerifyError("malformed", { detail: "state_root" });
    const root = fromHex(proof.header.state_root, "state_root", 32);
    const records = await provenRecords(proof, root);
    const used = new Set();
    const holder = cardRecord(records, used, `registry/account/${account}`, ACCOUNT_FIELDS, "account");
    if (!Array.isArray(holder.roles)) throw new VerifyError("record_malformed", { what: "account", field: "roles" });
    if (holder.id !== account) throw new VerifyError("record_mismatch", { what: "account", id: holder.id });
    if (!holder.roles.includes("consumer")) throw new VerifyError("not_household", { id: account });
    const [y, m] = [Number(month.slice(0, 4)), Number(month.slice(5))];
    const startS = localMonthStart(zone, y, m);
    const endS = m === 12 ? localMonthStart(zone, y + 1, 1) : localMonthStart(zone, y, m + 1);
    const prefix = `certificates/claim/${account}/`;
    let claimed = 0n;
    const hours = new Set();
    const bundles = [];
    const bySite = new Map();
    const byIssuer = new Map();
    for (const key of [...records.keys()].filter((k) => k.startsWith(prefix)).sort()) {
      const found = CLAIM_ENTRY.exec(key.slice(prefix.length));
      if (!found) throw new VerifyError("record_malformed", { what: key, field: "-" });
      used.add(key);
      if (records.get(key) !== "1") throw new VerifyError("record_malformed", { what: key, field: "-" });
      const produced = Number(found[1]);
      const bundleId = found[2];
      if (!(startS <= produced && produced < endS)) throw new VerifyError("outside_month", { id: bundleId });
      const colon = bundleId.lastIndexOf(":");
      const bundleKey = bundleStateKey(bundleId.slice(0, colon), bundleId.slice(colon + 1));
      const bundle = cardRecord(records, used, bundleKey, BUNDLE_FIELDS, `bundle ${bundleId}`);
      const c = bundle.cancellation;
      if (bundle.id !== bundleId || bundle.production_start_s !== produced || bundle.status !== "claimed"
          || !isObject(c) || c.beneficiary !== account) {
        throw new VerifyError("record_mismatch", { what: "bundle", id: bundleId });
      }
      if (typeof c.site !== "string") throw new VerifyError("record_malformed", { what: "bundle", field: "cancellation" });
      if (BigInt(bundle.quantity_wh) !== BigInt(bundle.range_end) - BigInt(bundle.range_start) + 1n) {
        throw new VerifyError("bad_quantity", { id: bundleId });
      }
      if (bundle.hash !== await bundleHashOf(bundle)) throw new VerifyError("bundle_hash", { id: bundleId });
      const q = BigInt(bundle.quantity_wh);
      claimed += q;
      if (bundle.production_end_s - produced <= 3600) hours.add(produced - (produced % 3600));
      bySite.set(c.site, (bySite.get(c.site) || 0n) + q);
      byIssuer.set(bundle.issuing_body, (byIssuer.get(bundle.issuing_body) || 0n) + q);
      bundles.push(bundleId);
    }
    const certifiers = [];
    for (const org of [...byIssuer.keys()].sort()) {
      const record = cardRecord(records, used, `registry/org/${org}`, ORG_FIELDS, `certifier ${org}`);
      if (record.id !== org) throw new VerifyError("record_mismatch", { what: "organisation", id: record.id });
      certifiers.push({ org, name: record.name, energy_wh: Number(byIssuer.get(org)) });
    }
    const sites = [];
    for (const siteId of [...bySite.keys()].sort()) {
      const site = cardRecord(records, used, `registry/site/${siteId}`, SITE_FIELDS, `site ${siteId}`);
      if (site.id !== siteId || site.owner_org !== holder.org) throw new VerifyError("record_mismatch", { what: "site", id: siteId });
      sites.push(site);
    }
    const factorTime = Date.UTC(y, m - 1, 1) / 1000;
    const factors = {};
    let avoided = 0n;
    for (const site of sites) {
      const found = cardFactor(records, site.grid_region, factorTime);
      if (found === null) continue;
      const [set, fallback] = found;
      used.add(`carbon/factor_set/${set.region}/${String(set.start_s).padStart(10, "0")}`);
      if (fallback) used.add("carbon/regions");
      const g = BigInt(set.grid_average.g_per_mwh);
      factors[site.id] = { set: set.id, g_per_mwh: Number(g) };
      avoided += bySite.get(site.id) * g / 1000000n;
    }
    const stray = [...records.keys()].filter((k) => !used.has(k)).sort();
    if (stray.length) throw new VerifyError("stray_record", { what: stray[0] });
    return {
      kind: "card", account, org: holder.org, month, time_zone: zone, height: proof.height,
      block_hash: proof.block_hash, chain_id: proof.header.chain_id, proposer: proof.header.proposer, finality,
      claimed_wh: Number(claimed), hours: hours.size, avoided_g: Number(avoided), bundles, certifiers, factors,
      certifier_names: certifiers.map((c) => c.name).join(", "),
    };
  }

  // the QR payload --------------------------------------------------------------------------------
  function b64url(bytes) {
    let bin = "";
    for (const b of bytes) bin += String.fromCharCode(b);
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  /** Unpadded base64url of exactly `size` bytes, in its one canonical spelling. */
  function unb64url(text, size, field) {
    const length = Math.ceil((size * 8) / 6);
    if (text.length !== length || !/^[A-Za-z0-9_-]+$/.test(text)) throw new VerifyError("qr_malformed", { field });
    let bin;
    try { bin = atob(text.replace(/-/g, "+").replace(/_/g, "/")); } catch (_) { throw new VerifyError("qr_malformed", { field }); }
    const out = Uint8Array.from(bin, (c) => c.charCodeAt(0));
    if (out.length !== size || b64url(out) !== text) throw new VerifyError("qr_malformed", { field });
    return out;
  }

  function qrDecimal(text, field) {
    if (!DECIMAL.test(text) || BigInt(text) > INT_MAX) throw new VerifyError("qr_malformed", { field });
    return Number(text);
  }

  /** The fields of a payload GLC1:<chain>/<bundle>/<proposer>/<Wh>/<start>/<height>/<hash>/<block>/<sig>. */
  function parseQrPayload(text) {
    const t = String(text).trim();
    if (!t.startsWith(QR_PREFIX)) throw new VerifyError("qr_malformed", { field: "prefix" });
    const parts = t.slice(QR_PREFIX.length).split("/");
    if (parts.length !== 9) throw new VerifyError("qr_malformed", { field: "fields" });
    const [chain, bundleId, proposer, quantity, start, h, bundleHash, blockHash, sig] = parts;
    if (!CHAIN_ID.test(chain)) throw new VerifyError("qr_malformed", { field: "chain" });
    try { parseBundleId(bundleId); } catch (_) { throw new VerifyError("qr_malformed", { field: "bundle" }); }
    if (!ORG_ID.test(proposer)) throw new VerifyError("qr_malformed", { field: "proposer" });
    return {
      chain_id: chain, bundle_id: bundleId, proposer,
      quantity_wh: qrDecimal(quantity, "quantity"), production_start_s: qrDecimal(start, "start"), height: qrDecimal(h, "height"),
      bundle_hash: toHex(unb64url(bundleHash, 32, "bundle hash")), block_hash: toHex(unb64url(blockHash, 32, "block hash")),
      signature: "ed25519:" + toHex(unb64url(sig, 64, "signature")),
    };
  }

  /**
   * Check a QR payload with a consortium keys file (verify_qr_payload): alone, that the named
   * proposer's node key at the named height signed the block hash; with `proof` (a certificate
   * proof file) also the payload's claims. Resolves to {payload, nodeKey, beyond, proof}.
   */
  async function verifyQrPayload(text, keys, proof) {
    const p = parseQrPayload(text);
    consortiumKeys(keys);
    if (p.chain_id !== keys.chain_id) throw new VerifyError("other_chain", { keys_chain: keys.chain_id, chain: p.chain_id });
    if (p.height === 0) throw new VerifyError("genesis", {});
    if (!proposersAt(keys, p.height).includes(p.proposer)) throw new VerifyError("proposer_not_allowed", { proposer: p.proposer, height: p.height });
    const nodeKey = nodeKeyAt(keys, p.proposer, p.height) || "";
    if (!(await ed25519(nodeKey, concat(DOMAIN_BLOCK, fromHex(p.block_hash, "block hash", 32)), p.signature))) {
      throw new VerifyError("bad_block_signature", { proposer: p.proposer, height: p.height });
    }
    let checked = null;
    if (proof !== undefined && proof !== null) {
      checked = await verifyCertificateProof(proof, keys);
      const b = checked.bundle;
      const differ = p.bundle_id !== b.id || p.bundle_hash !== b.hash || p.quantity_wh !== b.quantity_wh
        || p.production_start_s !== b.production_start_s
        || (p.height === checked.height && (p.block_hash !== checked.summary.block_hash || p.proposer !== checked.proposer));
      if (differ) throw new VerifyError("qr_mismatch", {});
    }
    return { kind: "qr", payload: p, nodeKey, beyond: p.height > keys.up_to_height, proof: checked };
  }

  // the page: which keys, Verify buttons, the proof-file form -------------------------------------
  function texts() {
    const el = document.getElementById("gl-verify-texts");
    const cert = document.getElementById("gl-cert-texts");
    return { ...(el ? JSON.parse(el.textContent) : {}), ...(cert ? JSON.parse(cert.textContent) : {}) };
  }

  function nodeKeysOfPage() {
    const el = document.getElementById("gl-node-keys");
    return el ? JSON.parse(el.textContent) : {};
  }

  /** The keys file the genesis document gives (sdk keys_from_genesis), written by the server. */
  function genesisKeysOfPage() {
    const el = document.getElementById("gl-genesis-keys");
    return el ? parseKeys(JSON.parse(el.textContent)) : null;
  }

  /** The keys file the user loaded in this tab: {name, keys} (checked), or null. */
  function loadedKeys() {
    try {
      const stored = JSON.parse(sessionStorage.getItem(STORED_KEYS) || "null");
      return stored ? { name: stored.name, keys: parseKeys(stored.keys) } : null;
    } catch (_) {
      return null;
    }
  }

  /** The keys the page checks with: the user's file, else the genesis document's, else the
   * plain map of genesis node keys. {keys, source: "file" | "genesis", name}. */
  function activeKeys() {
    const loaded = loadedKeys();
    if (loaded) return { keys: loaded.keys, source: "file", name: loaded.name };
    const genesis = genesisKeysOfPage();
    return genesis ? { keys: genesis, source: "genesis" } : { keys: nodeKeysOfPage(), source: "genesis" };
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

  /** The sentences saying what a finality check found ("" without one). */
  function finalityText(finality, source) {
    if (!finality) return "";
    const all = texts();
    const fields = {
      count: finality.attested.length, total: finality.proposers.length, quorum: finality.quorum,
      orgs: finality.attested.join(", ") || "-", height: finality.upToHeight,
    };
    let out = fill(all[finality.final ? "final_yes" : "final_no"] || "", fields);
    if (finality.rejected.length) {
      const list = finality.rejected.map((r) => `${r.org || "?"} (${all["reason_" + r.reason] || r.reason})`).join(", ");
      out += " " + fill(all.rejected || "", { count: finality.rejected.length, list });
    }
    // a genesis-derived file is exact up to height 1 only; the keys line above says so already
    if (finality.beyond && source === "file") out += " " + fill(all.beyond || "", fields);
    return out;
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

  async function runButton(button, keys) {
    const kind = button.dataset.verify;
    if (!window.crypto || !crypto.subtle) throw new VerifyError("no_crypto", {});
    if (kind === "state") {
      const proof = await getJson(stateKeyUrl(button.dataset.key));
      if (proof.key !== button.dataset.key) throw new VerifyError("malformed", { detail: "key" });
      const result = await verifyStateProof(proof, keys);
      await sameHeaderAsNode(proof);
      const shown = button.dataset.absent === "true" ? null : button.dataset.valueHex;
      if (result.value !== shown) throw new VerifyError("changed", {});
      return { text: fill(texts()[result.value === null ? "ok_absent" : "ok_state"], result), result };
    }
    if (kind === "tx") {
      const proof = await getJson(`/v1/txs/${button.dataset.hash}/proof`);
      if (proof.hash !== button.dataset.hash) throw new VerifyError("tx_hash", {});
      const result = await verifyTxProof(proof, keys);
      await sameHeaderAsNode(proof);
      return { text: fill(texts().ok_tx, result), result };
    }
    const view = await getJson(`/v1/blocks/${button.dataset.height}/header`);
    if (view.hash !== button.dataset.hash) throw new VerifyError("header_differs", { height: button.dataset.height });
    const result = await verifyHeader(view, keys);
    return { text: fill(texts().ok_header, result), result };
  }

  function show(out, ok, text, finality) {
    out.textContent = text;
    out.className = "verify-result " + (ok ? "ok" : "bad");
    out.dataset.outcome = ok ? "verified" : "failed";
    if (finality) {
      out.dataset.final = finality.final ? "true" : "false";
      out.dataset.attested = finality.attested.join(",");
    } else {
      delete out.dataset.final;
      delete out.dataset.attested;
    }
  }

  function wireButtons() {
    for (const button of document.querySelectorAll("button[data-verify]")) {
      const out = document.getElementById(button.dataset.result);
      button.addEventListener("click", async () => {
        button.disabled = true;
        out.className = "verify-result";
        out.textContent = texts().running || "…";
        const active = activeKeys();
        try {
          const { text, result } = await runButton(button, active.keys);
          const extra = finalityText(result.finality, active.source);
          show(out, true, extra ? `${text} ${extra}` : text, result.finality);
        } catch (err) {
          show(out, false, message(err), null);
        }
        button.disabled = false;
      });
    }
  }

  /** The "which keys" line and its file input: load a keys file for this tab, or forget it. */
  function wireKeysPanel() {
    const panel = document.querySelector("[data-keys-panel]");
    if (!panel) return;
    const line = panel.querySelector("[data-keys-source]");
    const input = panel.querySelector("input[type=file][data-keys-file]");
    const forget = panel.querySelector("button[data-keys-forget]");
    const status = panel.querySelector("[data-keys-status]");
    const render = () => {
      const active = activeKeys();
      const all = texts();
      line.textContent = active.source === "file"
        ? fill(all.keys_file, { name: active.name, chain: active.keys.chain_id, height: active.keys.up_to_height })
        : all.keys_genesis;
      line.dataset.source = active.source;
      forget.hidden = active.source !== "file";
    };
    input.addEventListener("change", async () => {
      const file = input.files && input.files[0];
      if (!file) return;
      try {
        const obj = JSON.parse(await file.text());
        parseKeys(obj);
        sessionStorage.setItem(STORED_KEYS, JSON.stringify({ name: file.name, keys: obj }));
        status.textContent = "";
        status.className = "verify-result";
      } catch (err) {
        const why = err instanceof VerifyError ? err : new VerifyError("keys_invalid", { detail: String(err && err.message) });
        status.textContent = message(why);
        status.className = "verify-result bad";
      }
      input.value = "";
      render();
    });
    forget.addEventListener("click", () => {
      sessionStorage.removeItem(STORED_KEYS);
      render();
    });
    render();
  }

  function utcTime(seconds) {
    return new Date(seconds * 1000).toISOString().replace(".000Z", "Z");
  }

  // the chain's time zone (its genesis names it; the page carries it), with UTC beside it
  const zone = document.body.dataset.timeZone || "UTC";
  const localFormat = new Intl.DateTimeFormat("sv-SE", {
    timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", hour12: false,
  });

  /** A period in local time, the zone named, UTC beside it:
   * "2025-06-01 18:00 – 19:00 Asia/Shanghai (2025-06-01T10:00:00Z – 2025-06-01T11:00:00Z)". */
  function period(start, end) {
    const utc = `${utcTime(start)} – ${utcTime(end)}`;
    if (zone === "UTC") return utc;
    const a = localFormat.format(new Date(start * 1000));
    const b = localFormat.format(new Date(end * 1000));
    return `${a} – ${a.slice(0, 10) === b.slice(0, 10) ? b.slice(11) : b} ${zone} (${utc})`;
  }

  /** A time in local time, the zone named, UTC beside it. */
  function at(seconds) {
    if (zone === "UTC") return utcTime(seconds);
    return `${localFormat.format(new Date(seconds * 1000))} ${zone} (${utcTime(seconds)})`;
  }

  /** The sentence and the rows a valid certificate shows. */
  function certificateView(result, all) {
    const s = result.summary;
    const fields = {
      id: s.bundle_id, quantity: s.quantity_wh, device: s.device, name: result.device.name,
      period: period(s.production_start_s, s.production_end_s), status: all["status_" + s.status] || s.status,
      height: s.height, proposer: s.proposer,
    };
    let sentence = fill(all.ok_certificate, fields);
    if (result.later) {
      sentence += " " + fill(all[result.later.split_since ? "later_split" : "later_ok"], {
        height: result.later.height, status: all["status_" + result.later.status] || result.later.status,
      });
    }
    const b = result.bundle;
    const rows = [
      [all.row_kind, all.kind_certificate], [all.row_certificate, s.bundle_id],
      [all.row_device, `${s.device} (${result.device.name}, ${b.technology}, ${b.capacity_w} W)`],
      [all.row_range, `${s.range_start} … ${s.range_end}`], [all.row_quantity, `${s.quantity_wh} Wh`],
      [all.row_production, fields.period], [all.row_status, fields.status],
      [all.row_owner, s.owner],
    ];
    if (s.beneficiary !== null) {
      const c = b.cancellation;
      rows.push([all.row_beneficiary, `${s.beneficiary} (${c.site}, ${period(c.period_start_s, c.period_end_s)})`]);
    }
    rows.push([all.row_issuing_body, `${s.issuing_body} (${b.issuer}, ${b.scheme})`], [all.row_hash, s.hash]);
    if (s.parent_hash) rows.push([all.row_parent, s.parent_hash]);
    rows.push([all.row_height, String(s.height)], [all.row_block_hash, s.block_hash], [all.row_proposer, s.proposer]);
    return { sentence, rows };
  }

  /** The sentence and rows of a valid QR payload: what it proves, and what it only claims. */
  function qrView(result, all) {
    const p = result.payload;
    const fields = { proposer: p.proposer, height: p.height, hash: p.block_hash, id: p.bundle_id, quantity: p.quantity_wh };
    const sentence = fill(all[result.proof ? "ok_qr_checked" : "ok_qr"], fields);
    const rows = [
      [all.row_kind, all.kind_qr], [all.row_proven, fill(all.qr_proven, fields)],
      [all.row_claims, fill(all.qr_claims, { ...fields, hash: p.bundle_hash, start: at(p.production_start_s) })],
    ];
    if (result.proof) rows.push(...certificateView(result.proof, all).rows.slice(1));
    return { sentence, rows };
  }

  function finalityRows(finality, all) {
    if (!finality) return [];
    const rows = [[all.row_final, finality.final ? all.yes : all.no],
      [all.row_attested, `${finality.attested.join(", ") || "-"} (${finality.attested.length} / ${finality.proposers.length}, ${finality.quorum})`]];
    for (const r of finality.rejected) rows.push([all.row_rejected, `#${r.index} ${r.org || "?"}: ${all["reason_" + r.reason] || r.reason}`]);
    return rows;
  }

  function showRows(details, rows) {
    for (const [name, value] of rows) {
      const dt = document.createElement("dt");
      dt.textContent = name;
      const dd = document.createElement("dd");
      dd.textContent = value;
      details.append(dt, dd);
    }
  }

  async function readJson(file, all) {
    if (!file) throw new VerifyError("malformed", { detail: all.no_file || "no file" });
    try { return JSON.parse(await file.text()); } catch (_) { throw new VerifyError("malformed", { detail: "not JSON" }); }
  }

  /** The proof-file form (/verify): a proof file (a certificate's may come with a later file),
   * checked here with the keys the page holds. */
  function wireProofForm() {
    const form = document.querySelector("form[data-proof-form]");
    if (!form) return;
    const out = document.getElementById(form.dataset.result);
    const details = document.getElementById(form.dataset.details);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const all = texts();
      details.replaceChildren();
      out.className = "verify-result";
      delete out.dataset.kind;
      out.textContent = all.running || "…";
      const proofFile = form.querySelector("input[name=proof]").files[0];
      const laterInput = form.querySelector("input[name=later]");
      const laterFile = laterInput && laterInput.files[0];
      let result = null;
      try {
        if (!window.crypto || !crypto.subtle) throw new VerifyError("no_crypto", {});
        const proof = await readJson(proofFile, all);
        const later = laterFile ? await readJson(laterFile, all) : null;
        const active = activeKeys();
        result = await verifyProofFile(proof, active.keys, later);
        const sentence = result.kind === "certificate"
          ? certificateView(result, all).sentence : fill(all["ok_file_" + result.kind] || all.ok_header, result);
        const extra = finalityText(result.finality, active.source);
        show(out, true, extra ? `${sentence} ${extra}` : sentence, result.finality);
        out.dataset.kind = result.kind;
      } catch (err) {
        show(out, false, message(err), null);
        if (err instanceof VerifyError) out.dataset.reason = err.code;
        return;
      }
      delete out.dataset.reason;
      let rows;
      if (result.kind === "certificate") {
        rows = certificateView(result, all).rows;
      } else {
        rows = [[all.row_kind, all["kind_" + result.kind] || result.kind], [all.row_height, String(result.height)],
          [all.row_proposer, result.proposer]];
        if (result.kind === "state") rows.push([all.row_value, result.value === null ? all.row_absent : result.value]);
        if (result.kind === "card") {
          rows.push([all.row_card_claimed, `${result.claimed_wh} Wh, ${result.hours} h`]);
          rows.push([all.row_card_avoided, `${result.avoided_g} g CO2`]);
          rows.push([all.row_card_certifiers, result.certifier_names || "-"]);
        }
        if (result.kind === "product") {
          rows.push([all.row_product, `${result.product.name} (${result.manufacturer.name || result.manufacturer.id})`]);
          if (result.footprint) {
            const fp = result.footprint;
            rows.push([all.row_footprint, `${fp.total_market_g} g, ${fp.total_location_g} g ${fp.gas}`]);
          }
          if (result.verdict) {
            const why = result.reasons.length ? ` (${result.reasons.join(", ")})` : "";
            rows.push([all.row_verdict, (all["verdict_" + result.verdict] || result.verdict) + why]);
          }
        }
      }
      showRows(details, [...rows, ...finalityRows(result.finality, all)]);
    });
    // a file dropped anywhere on the form's section is checked as if chosen
    const zone = form.closest("[data-drop-zone]") || form;
    zone.addEventListener("dragover", (event) => { event.preventDefault(); zone.classList.add("dragging"); });
    zone.addEventListener("dragleave", () => zone.classList.remove("dragging"));
    zone.addEventListener("drop", (event) => {
      event.preventDefault();
      zone.classList.remove("dragging");
      const dt = event.dataTransfer;
      if (dt && dt.files && dt.files.length) {
        form.querySelector("input[name=proof]").files = dt.files;
        form.requestSubmit();
        return;
      }
      const text = dt ? dt.getData("text/plain") : "";
      const qr = document.querySelector("form[data-qr-form]");
      if (text && qr) {
        qr.querySelector("textarea[name=payload]").value = text;
        qr.requestSubmit();
      }
    });
  }

  /** The QR payload form (/verify): a pasted payload, alone or against a certificate proof file. */
  function wireQrForm() {
    const form = document.querySelector("form[data-qr-form]");
    if (!form) return;
    const out = document.getElementById(form.dataset.result);
    const details = document.getElementById(form.dataset.details);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const all = texts();
      details.replaceChildren();
      out.className = "verify-result";
      out.textContent = all.running || "…";
      const proofFile = form.querySelector("input[name=qr_proof]").files[0];
      let result;
      try {
        if (!window.crypto || !crypto.subtle) throw new VerifyError("no_crypto", {});
        const proof = proofFile ? await readJson(proofFile, all) : null;
        result = await verifyQrPayload(form.querySelector("textarea[name=payload]").value, activeKeys().keys, proof);
      } catch (err) {
        show(out, false, message(err), null);
        if (err instanceof VerifyError) out.dataset.reason = err.code;
        return;
      }
      delete out.dataset.reason;
      const view = qrView(result, all);
      show(out, true, view.sentence, null);
      out.dataset.claims = result.proof ? "checked" : "unchecked";
      showRows(details, view.rows);
    });
  }

  function wire() {
    wireKeysPanel();
    wireButtons();
    wireProofForm();
    wireQrForm();
  }

  window.GridLedgerVerify = {
    VerifyError, canonical, headerHash, verifyStateProof, verifyTxProof, verifyHeader, message,
    nodeKeys: nodeKeysOfPage, genesisKeys: genesisKeysOfPage, toHex, parseKeys, nodeKeyAt, proposersAt,
    verifyFinality, proofFinality, verifyProofFile, quorum,
    verifyCertificateProof, verifyQrPayload, parseQrPayload, bundleHashOf, bundleStateKey,
    verifyClaimProof, verifyProductProof, verifyCardProof,
  };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", wire);
  else wire();
})();
