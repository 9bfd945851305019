// GridLedger explorer: the home page's latest blocks and transactions grow as blocks commit.
// app.js follows the node's event stream and dispatches "gridledger:block" with each block's
// summary; rows are added here (the server-rendered rows stay the no-script view). Texts come
// from the page's catalogue (#gl-live-texts).
"use strict";

(function () {
  const blocksBody = document.querySelector("tbody[data-live-blocks]");
  const txsBody = document.querySelector("tbody[data-live-txs]");
  const textsEl = document.getElementById("gl-live-texts");
  if (!blocksBody || !txsBody || !textsEl) return;
  const texts = JSON.parse(textsEl.textContent);
  const note = document.querySelector("[data-live-note]");
  const LIMIT = 10;

  function fill(text, fields) {
    return String(text).replace(/\{(\w+)\}/g, (all, name) => (name in fields ? String(fields[name]) : all));
  }

  function short(value, keep) {
    return value.length <= keep + 3 ? value : value.slice(0, keep) + "…";
  }

  function utcMs(ms) {
    return new Date(ms).toISOString().slice(0, 19).replace("T", " ");
  }

  // the chain's time zone (its genesis names it; the page carries it), UTC on hover
  const zone = document.body.dataset.timeZone || "UTC";
  const localFormat = new Intl.DateTimeFormat("sv-SE", {
    timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false,
  });

  function timeCell(td, ms) {
    const time = document.createElement("time");
    time.dateTime = new Date(ms).toISOString();
    time.title = utcMs(ms) + " UTC";
    time.textContent = localFormat.format(new Date(ms));
    td.appendChild(time);
  }

  function cell(row, className) {
    const td = document.createElement("td");
    if (className) td.className = className;
    row.appendChild(td);
    return td;
  }

  function link(parent, href, text, title, code) {
    const a = document.createElement("a");
    a.href = href;
    if (title) a.title = title;
    if (code) {
      const c = document.createElement("code");
      c.textContent = text;
      a.appendChild(c);
    } else {
      a.textContent = text;
    }
    parent.appendChild(a);
    return a;
  }

  function status(parent, value, code) {
    parent.textContent = "";
    const span = document.createElement("span");
    span.className = value === "ok" ? "ok" : "bad";
    span.textContent = texts[value] || value;
    parent.appendChild(span);
    if (code) {
      const c = document.createElement("code");
      c.className = "muted";
      c.textContent = code;
      parent.append(" ", c);
    }
  }

  function dropPlaceholder(body) {
    for (const row of body.querySelectorAll("td[colspan]")) row.parentElement.remove();
  }

  function trim(body) {
    while (body.rows.length > LIMIT) body.deleteRow(body.rows.length - 1);
  }

  async function getJson(url) {
    const response = await fetch(url, { headers: { accept: "application/json" } });
    if (!response.ok) throw new Error(`${response.status} ${url}`);
    return response.json();
  }

  function addBlock(block) {
    if (blocksBody.querySelector(`tr[data-height="${block.height}"]`)) return;
    dropPlaceholder(blocksBody);
    const row = document.createElement("tr");
    row.dataset.height = String(block.height);
    row.className = "new";
    link(cell(row, "num"), `/blocks/${block.height}`, String(block.height));
    link(cell(row), `/blocks/${block.height}`, short(block.hash, 12), block.hash, true);
    timeCell(cell(row), block.time);
    cell(row, "num").textContent = String(block.tx_count);
    const proposer = cell(row, "hide-small");
    blocksBody.insertBefore(row, blocksBody.firstChild);
    trim(blocksBody);
    getJson(`/v1/blocks/${block.height}/header`)
      .then((view) => { proposer.textContent = view.header.proposer; })
      .catch(() => { proposer.textContent = "-"; });
  }

  function addTx(height, tx) {
    if (txsBody.querySelector(`tr[data-tx="${tx.hash}"]`)) return;
    dropPlaceholder(txsBody);
    const row = document.createElement("tr");
    row.dataset.tx = tx.hash;
    row.className = "new";
    link(cell(row), `/txs/${tx.hash}`, short(tx.hash, 12), tx.hash, true);
    link(cell(row, "num"), `/blocks/${height}`, String(height));
    const kind = cell(row);
    const sender = cell(row);
    const state = cell(row);
    status(state, tx.status);
    txsBody.insertBefore(row, txsBody.firstChild);
    trim(txsBody);
    // the event carries hash and status only: kind, sender and code come from the node
    getJson(`/v1/txs/${tx.hash}`).then((found) => {
      const code = document.createElement("code");
      code.textContent = found.tx.kind;
      kind.appendChild(code);
      link(sender, `/accounts/${found.tx.sender}`, found.tx.sender);
      status(state, found.receipt.status, found.receipt.code);
    }).catch(() => { kind.textContent = "-"; });
  }

  document.addEventListener("gridledger:block", (event) => {
    const block = event.detail;
    addBlock(block);
    // newest first: the block's last transactions, at most a table's worth
    const txs = (block.txs || []).slice(-LIMIT);
    for (const tx of txs) addTx(block.height, tx);
    if (note) note.textContent = fill(texts.new_block, { height: block.height, count: block.tx_count });
  });
})();
