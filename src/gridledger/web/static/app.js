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

// Chart tooltips: a bar's or a point's <title> (label and value) next to the pointer, on
// hover with a mouse and on tap on a phone, where browsers show no title by themselves.
(function chartTips() {
  let tip = null;
  function show(event) {
    const target = event.target.closest && event.target.closest(".chart rect, .chart circle");
    const title = target && target.querySelector(":scope > title");
    if (!title) { if (tip) tip.hidden = true; return; }
    if (!tip) {
      tip = document.createElement("div");
      tip.className = "chart-tip";
      tip.setAttribute("role", "status");
      document.body.appendChild(tip);
    }
    tip.textContent = title.textContent;
    tip.hidden = false;
    const x = Math.min(event.clientX + 12, window.innerWidth - tip.offsetWidth - 4);
    tip.style.left = Math.max(4, x) + "px";
    tip.style.top = Math.max(4, event.clientY - 36) + "px";
  }
  document.addEventListener("pointermove", show);
  document.addEventListener("pointerdown", show);
})();
