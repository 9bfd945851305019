// GridLedger web interface: what every page shares. No external scripts: works offline.
"use strict";

// Follow the node's event stream (/v1/events, server-sent events) and keep every element
// marked data-live="height" up to date; pages listen for "gridledger:block" to add rows.
(function followBlocks() {
  if (!window.EventSource) return;
  const source = new EventSource("/v1/events");
  source.addEventListener("block", (event) => {
    let block;
    try { block = JSON.parse(event.data); } catch (_) { return; }
    for (const el of document.querySelectorAll('[data-live="height"]')) {
      el.textContent = String(block.height);
    }
    document.dispatchEvent(new CustomEvent("gridledger:block", { detail: block }));
  });
  window.addEventListener("beforeunload", () => source.close());
})();
