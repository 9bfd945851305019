// Charts drawn by uPlot (static/vendor/uplot, served by this node) from the data beside each
// server-drawn SVG chart (<div class="plot" data-plot="{json}">, see gridledger/web/charts.py).
// The library is loaded only on a page that has a chart; without it, or without scripts, the
// SVG stays. Labels come from the server in the chain's local time; the tooltip adds UTC.
(function plots() {
  "use strict";
  const boxes = document.querySelectorAll(".plot[data-plot]");
  if (!boxes.length) return;
  const BASE = "/static/vendor/uplot/";
  const LABEL_PX = 56;  // the least room one label of the time axis gets

  function load(then) {
    if (window.uPlot) { then(); return; }
    const css = document.createElement("link");
    css.rel = "stylesheet";
    css.href = BASE + "uPlot.min.css";
    document.head.appendChild(css);
    const script = document.createElement("script");
    script.src = BASE + "uPlot.iife.min.js";
    script.onload = then;
    document.head.appendChild(script);
  }

  const root = getComputedStyle(document.documentElement);
  function colour(value) {
    const found = /^var\((--[\w-]+)\)$/.exec(value);
    return found ? (root.getPropertyValue(found[1]).trim() || "#5b6675") : value;
  }

  function number(v) {
    if (v == null) return "–";
    const digits = Math.abs(v) >= 100 ? 1 : Math.abs(v) >= 1 ? 2 : 3;
    return v.toLocaleString(document.documentElement.lang || undefined,
      { maximumFractionDigits: digits });
  }

  function utc(seconds) {
    return new Date(seconds * 1000).toISOString().slice(0, 16).replace("T", " ") + " UTC";
  }

  function draw(box) {
    let spec;
    try { spec = JSON.parse(box.dataset.plot); } catch (e) { return; }
    const n = spec.labels.length;
    if (!n) return;
    const xs = spec.labels.map((_, i) => i);
    const raw = spec.series.map(s => s.values);
    const k = spec.series.length;
    // stacked bars: each series drawn at its running total, the tallest first so that the
    // ones below stay visible; grouped bars: side by side within their label's slot
    let order = spec.series.map((_, i) => i);
    let ys = raw;
    if (spec.kind === "bars" && spec.stacked) {
      const sums = raw.map(() => new Array(n).fill(0));
      for (let i = 0; i < n; i++) {
        let total = 0;
        raw.forEach((values, s) => { total += values[i] || 0; sums[s][i] = total; });
      }
      order = order.slice().reverse();
      ys = order.map(s => sums[s]);
    } else {
      ys = order.map(s => raw[s]);
    }
    const slot = 0.8;
    const pad = Math.max(0, (6 - n) / 2);
    const series = [{}].concat(order.map((s, j) => {
      const src = spec.series[s];
      const c = colour(src.color);
      const one = { label: src.name, stroke: c, width: spec.kind === "lines" ? 2 : 0,
                    points: { show: spec.kind === "lines", size: 6, fill: c } };
      if (spec.kind === "bars") {
        one.fill = c;
        if (spec.stacked || k === 1) {
          one.paths = uPlot.paths.bars({ size: [slot, Infinity] });
        } else {
          const w = slot / k;
          one.paths = uPlot.paths.bars({ disp: {
            x0: { unit: 1, values: (u) => u.data[0].map(x => x - slot / 2 + w * j) },
            size: { unit: 1, values: () => [w] },
          } });
        }
      }
      return one;
    }));

    const tip = document.createElement("div");
    tip.className = "plot-tip";
    tip.setAttribute("role", "status");
    tip.hidden = true;

    function width() { return Math.max(box.clientWidth, 200); }
    function height() { return window.innerWidth < 600 ? 220 : 260; }
    const axis = { stroke: root.getPropertyValue("--muted").trim() || "#5b6675",
                   grid: { stroke: "#dde2e8", width: 1 }, ticks: { show: false },
                   font: "12px system-ui, sans-serif" };
    const opts = {
      width: width(),
      height: height(),
      title: undefined,
      legend: { show: false },
      cursor: { y: false, points: { show: spec.kind === "lines" }, drag: { x: false, y: false } },
      // at least six slots wide, so that one month or two days are not drawn as slabs
      scales: { x: { time: false, range: () => [-0.5 - pad, n - 0.5 + pad] },
                y: { range: (u, lo, hi) => [0, hi > 0 ? hi * 1.05 : 1] } },
      axes: [
        Object.assign({}, axis, {
          // one label every `step` slots, so that labels never crowd at any width
          splits: (u) => {
            const room = Math.max(1, Math.floor(u.bbox.width / devicePixelRatio / LABEL_PX));
            const step = Math.max(1, Math.ceil(n / room));
            const out = [];
            for (let i = 0; i < n; i += step) out.push(i);
            return out;
          },
          values: (u, splits) => splits.map(i => spec.labels[i] ?? ""),
          grid: { show: false },
        }),
        Object.assign({}, axis, { size: 52, values: (u, splits) => splits.map(number) }),
      ],
      series: series,
      hooks: {
        setCursor: [(u) => {
          const i = u.cursor.idx;
          if (i == null || u.cursor.left < 0) { tip.hidden = true; return; }
          tip.textContent = "";
          const head = document.createElement("strong");
          head.textContent = spec.labels[i];
          tip.appendChild(head);
          if (spec.times && spec.times[i] != null) {
            const at = document.createElement("span");
            at.className = "utc";
            at.textContent = " (" + utc(spec.times[i]) + ")";
            tip.appendChild(at);
          }
          spec.series.forEach((s, si) => {
            const line = document.createElement("div");
            const mark = document.createElement("i");
            mark.style.background = colour(s.color);
            line.appendChild(mark);
            line.appendChild(document.createTextNode(s.name + ": " + number(raw[si][i])));
            tip.appendChild(line);
          });
          tip.hidden = false;
          // beside the pointer, kept inside the box at any width
          const over = u.over.getBoundingClientRect(), frame = box.getBoundingClientRect();
          const x = over.left - frame.left + u.cursor.left + 12;
          const y = over.top - frame.top + u.cursor.top - tip.offsetHeight - 8;
          tip.style.left = Math.max(0, Math.min(x, box.clientWidth - tip.offsetWidth)) + "px";
          tip.style.top = Math.max(0, y) + "px";
        }],
        draw: [(u) => {
          // what the axis shows, for tests and for a screen reader's summary
          box.dataset.ticks = (u.axes[0]._values || []).join("|");
        }],
      },
    };
    const svg = box.querySelector("svg");
    const plot = new uPlot(opts, [xs].concat(ys), box);
    plot.root.setAttribute("aria-hidden", "true");  // the SVG's title, desc and the table say it
    box.appendChild(tip);
    plot.over.addEventListener("mouseleave", () => { tip.hidden = true; });
    if (svg) svg.classList.add("plotted");
    box.classList.add("plotted");
    let last = box.clientWidth;
    new ResizeObserver(() => {
      if (box.clientWidth !== last) {
        last = box.clientWidth;
        plot.setSize({ width: width(), height: height() });
      }
    }).observe(box);
  }

  load(() => {
    if (!window.uPlot) return;
    boxes.forEach(box => {
      try { draw(box); } catch (e) { /* the SVG stays */ }
    });
  });
})();
