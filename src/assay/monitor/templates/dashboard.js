// The monitor's dashboard: polls the summary, draws the charts as inline SVG, and acknowledges
// or resolves incidents. No libraries: the page must work air-gapped. Everything from the
// server is put in the page as text (textContent, SVG attributes), never as markup.
"use strict";
(() => {
  const body = document.body;
  const CAN_ACT = body.dataset.canAct === "true";
  const SUMMARY_URL = body.dataset.summaryUrl;
  const POLL_MS = Number(body.dataset.pollMs) || 2000;
  const SVG_NS = "http://www.w3.org/2000/svg";
  const SEVERITY_RANK = { blocker: 3, major: 2, minor: 1, info: 0 };
  const OUTCOME_BADGE = { ok: "b-ok", failed: "b-bad", retrying: "b-warn", running: "b-info" };
  const MAX_BARS = 25;
  const MAX_ACTIONS = 20;
  const CONFIRM_MS = 5000;
  const numberFormat = new Intl.NumberFormat("en-US");

  const $ = (id) => document.getElementById(id);

  // ------------------------------------------------------------------------------ state

  let summary = null;
  let timer = null;
  let inflight = false;
  let again = false;
  let serverClock = null; // {server, client, rate}: the service's clock, which may run scaled
  let incidentsKey = "";
  let actionsKey = "";
  const pending = new Set(); // incident ids with a request in flight
  const confirming = new Map(); // incident id -> time (ms) the "Confirm resolve" offer ends

  // --------------------------------------------------------------------------- helpers

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    setAttrs(node, attrs);
    append(node, children);
    return node;
  }

  function svg(tag, attrs, ...children) {
    const node = document.createElementNS(SVG_NS, tag);
    setAttrs(node, attrs);
    append(node, children);
    return node;
  }

  function setAttrs(node, attrs) {
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "text") node.textContent = String(value);
      else if (name === "onclick") node.addEventListener("click", value);
      else node.setAttribute(name, value === true ? "" : String(value));
    }
  }

  function append(node, children) {
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
  }

  function replace(container, ...children) {
    container.replaceChildren();
    append(container, children);
  }

  const isNum = (v) => typeof v === "number" && Number.isFinite(v);
  const pad = (n) => String(n).padStart(2, "0");
  const r2 = (v) => Math.round(v * 100) / 100;

  function serverNow() {
    if (!serverClock) return Date.now() / 1000;
    const elapsed = (performance.now() - serverClock.client) / 1000;
    return serverClock.server + elapsed * serverClock.rate;
  }

  function clockTime(t, seconds = true) {
    if (!isNum(t)) return "—";
    const d = new Date(t * 1000);
    const hm = `${pad(d.getHours())}:${pad(d.getMinutes())}`;
    return seconds ? `${hm}:${pad(d.getSeconds())}` : hm;
  }

  function fullTime(t) {
    if (!isNum(t)) return "";
    const d = new Date(t * 1000);
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${clockTime(t)}`;
  }

  // a countdown to the second: "9m 58s", "1h 02m", "2d 3h"
  function span(seconds) {
    const s = Math.max(0, Math.round(seconds));
    if (s < 60) return `${s}s`;
    if (s < 3600) return `${Math.floor(s / 60)}m ${pad(s % 60)}s`;
    if (s < 86400) return `${Math.floor(s / 3600)}h ${pad(Math.floor((s % 3600) / 60))}m`;
    return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
  }

  // an age, coarser: "12 s ago", "21 min ago", "2 h 05 min ago"
  function ago(t) {
    if (!isNum(t)) return "—";
    const s = Math.max(0, Math.round(serverNow() - t));
    if (s < 1) return "just now";
    if (s < 60) return `${s} s ago`;
    if (s < 3600) return `${Math.floor(s / 60)} min ago`;
    if (s < 86400) return `${Math.floor(s / 3600)} h ${pad(Math.floor((s % 3600) / 60))} min ago`;
    return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h ago`;
  }

  function number(v, digits) {
    if (!isNum(v)) return "—";
    if (digits === undefined) return numberFormat.format(v);
    return v.toFixed(digits);
  }

  function compact(v) {
    if (!isNum(v)) return "—";
    const a = Math.abs(v);
    if (a >= 1e6) return `${r2(v / 1e6)}M`;
    if (a >= 1e4) return `${r2(v / 1e3)}k`;
    if (a >= 100 || Number.isInteger(v)) return String(Math.round(v));
    if (a >= 1) return String(r2(v));
    return String(Math.round(v * 1000) / 1000);
  }

  function safeUrl(text) {
    if (typeof text !== "string") return null;
    try {
      const url = new URL(text, location.href);
      return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
    } catch {
      return null;
    }
  }

  function points(list) {
    return (Array.isArray(list) ? list : [])
      .filter((p) => Array.isArray(p) && isNum(p[0]) && isNum(p[1]))
      .map((p) => [p[0], p[1]])
      .sort((a, b) => a[0] - b[0]);
  }

  // round ticks: steps of 1, 2, 2.5 or 5 × 10ⁿ, as in the HTML report's plots
  function niceTicks(low, high, most) {
    if (!(high > low)) return [low];
    const raw = (high - low) / Math.max(most, 1);
    const mag = 10 ** Math.floor(Math.log10(raw));
    const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw * (1 - 1e-9));
    const digits = Math.max(0, 2 - Math.floor(Math.log10(step)));
    const ticks = [];
    for (let k = Math.ceil(low / step - 1e-9); ; k += 1) {
      const v = Number((k * step).toFixed(digits));
      if (v > high + step * 1e-9) break;
      ticks.push(v + 0);
    }
    return ticks;
  }

  function niceMax(value, most) {
    if (!(value > 0)) return 1;
    const raw = value / most;
    const mag = 10 ** Math.floor(Math.log10(raw));
    const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw * (1 - 1e-9));
    return Math.ceil(value / step - 1e-9) * step;
  }

  const TIME_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800,
    21600, 43200, 86400];

  function timeTicks(t0, t1, most) {
    const step = TIME_STEPS.find((s) => (t1 - t0) / s <= most) || 86400;
    const offset = new Date(t0 * 1000).getTimezoneOffset() * 60; // ticks on local round times
    const ticks = [];
    for (let t = Math.ceil((t0 - offset) / step) * step + offset; t <= t1 + 1e-6; t += step) {
      ticks.push(t);
    }
    return { ticks, seconds: step < 60 };
  }

  // ---------------------------------------------------------------------------- charts

  const W = 560;

  function emptyPlot(height, message) {
    return svg("svg", { class: "plot empty", viewBox: `0 0 ${W} ${height}`, role: "img",
      "aria-label": message },
    svg("rect", { x: 0.5, y: 0.5, width: W - 1, height: height - 1, rx: 6, fill: "#f6f8fa",
      stroke: "#eaeef2" }),
    svg("text", { x: W / 2, y: height / 2 + 4, "text-anchor": "middle", class: "empty-text",
      text: message }));
  }

  function barChart(items, threshold) {
    const shown = items.slice(0, MAX_BARS);
    const top = 26;
    const bottom = 26;
    const row = Math.min(30, Math.max(20, (220 - top - bottom) / shown.length));
    const longest = Math.max(...shown.map((i) => Math.min(i.name.length, 22)), 4);
    const left = Math.min(170, 16 + longest * 6.4);
    const right = 46;
    const height = top + shown.length * row + bottom;
    const most = Math.max(...shown.map((i) => i.value), isNum(threshold) ? threshold : 0);
    const xMax = niceMax(most * 1.05, 5);
    const x = (v) => left + (Math.max(0, v) / xMax) * (W - left - right);
    const over = shown.filter((i) => isNum(threshold) && i.value > threshold).length;
    const label = `PSI per feature, highest first: ${shown.map((i) => `${i.name} ${compact(i.value)}`)
      .join(", ")}${isNum(threshold) ? `; threshold ${threshold}, ${over} above it` : ""}`;
    const plot = svg("svg", { class: "plot bars", viewBox: `0 0 ${W} ${height}`, role: "img",
      "aria-label": label });
    const axisY = top + shown.length * row;
    for (const t of niceTicks(0, xMax, 5)) {
      plot.append(svg("line", { class: "grid", x1: r2(x(t)), x2: r2(x(t)), y1: top - 4, y2: axisY }),
        svg("text", { x: r2(x(t)), y: axisY + 16, "text-anchor": "middle", text: compact(t) }));
    }
    shown.forEach((item, i) => {
      const y = top + i * row;
      const name = item.name.length > 22 ? `${item.name.slice(0, 21)}…` : item.name;
      const hot = isNum(threshold) && item.value > threshold;
      plot.append(
        svg("text", { class: "name", x: left - 8, y: r2(y + row / 2 + 4), "text-anchor": "end",
          text: name }, svg("title", { text: item.name })),
        svg("rect", { class: hot ? "bar over" : "bar", x: left, y: r2(y + row * 0.18),
          width: Math.max(1, r2(x(item.value) - left)), height: r2(row * 0.64), rx: 2,
          "data-feature": item.name },
        svg("title", { text: `${item.name}: PSI ${compact(item.value)}` })),
        svg("text", { class: "value", x: r2(x(item.value) + 5), y: r2(y + row / 2 + 4),
          text: compact(item.value) }),
      );
    });
    plot.append(svg("line", { class: "axis", x1: left, x2: left, y1: top - 4, y2: axisY }));
    if (isNum(threshold)) {
      const tx = r2(x(threshold));
      plot.append(
        svg("line", { class: "threshold", x1: tx, x2: tx, y1: top - 8, y2: axisY }),
        svg("text", { class: "threshold-label", x: tx, y: top - 12,
          "text-anchor": tx > W - 80 ? "end" : "middle", text: `threshold ${threshold}` }),
      );
    }
    return plot;
  }

  function lineChart(series, opts) {
    const height = 220;
    const left = 52;
    const right = 16;
    const top = 14;
    const bottom = 28;
    const all = series.flatMap((s) => s.points);
    if (all.length === 0) return emptyPlot(height, opts.empty);
    let t0 = Math.min(...all.map((p) => p[0]));
    let t1 = Math.max(...all.map((p) => p[0]), opts.until || 0);
    if (t1 - t0 < 60) t0 = t1 - 60;
    let y0;
    let y1 = Math.max(...all.map((p) => p[1]));
    if (opts.yMin !== undefined) {
      y0 = opts.yMin;
      y1 = niceMax(y1, 4);
    } else {
      y0 = Math.min(...all.map((p) => p[1]));
      const padding = (y1 - y0) * 0.15 || Math.abs(y1) * 0.05 || 0.05;
      y0 -= padding;
      y1 += padding;
    }
    if (opts.clamp) {
      y0 = Math.max(opts.clamp[0], y0);
      y1 = Math.min(opts.clamp[1], y1);
    }
    if (!(y1 > y0)) y1 = y0 + 1;
    const x = (t) => left + ((t - t0) / (t1 - t0)) * (W - left - right);
    const y = (v) => top + (1 - (v - y0) / (y1 - y0)) * (height - top - bottom);
    const plot = svg("svg", { class: "plot lines", viewBox: `0 0 ${W} ${height}`, role: "img",
      "aria-label": opts.label(series) });
    for (const v of niceTicks(y0, y1, 4)) {
      plot.append(svg("line", { class: "grid", x1: left, x2: W - right, y1: r2(y(v)), y2: r2(y(v)) }),
        svg("text", { x: left - 6, y: r2(y(v)) + 4, "text-anchor": "end", text: opts.format(v) }));
    }
    const { ticks, seconds } = timeTicks(t0, t1, 5);
    for (const t of ticks) {
      plot.append(svg("text", { x: r2(x(t)), y: height - 8, "text-anchor": "middle",
        text: clockTime(t, seconds) }));
    }
    plot.append(svg("line", { class: "axis", x1: left, x2: W - right, y1: height - bottom,
      y2: height - bottom }));
    for (const s of series) {
      if (s.points.length === 0) continue;
      const d = s.points.map((p, i) => `${i ? "L" : "M"}${r2(x(p[0]))},${r2(y(p[1]))}`).join("");
      if (s.area && s.points.length > 1) {
        const base = r2(y(Math.max(y0, 0)));
        const first = r2(x(s.points[0][0]));
        const last = r2(x(s.points[s.points.length - 1][0]));
        plot.append(svg("path", { class: `area ${s.colour}`, d: `${d}L${last},${base}L${first},${base}Z` }));
      }
      plot.append(svg("path", { class: `line ${s.colour}`, d, "data-series": s.name }));
      const [tl, vl] = s.points[s.points.length - 1];
      plot.append(svg("circle", { class: `dot ${s.colour}`, cx: r2(x(tl)), cy: r2(y(vl)), r: 3.5 },
        svg("title", { text: `${s.name}: ${opts.format(vl)} at ${clockTime(tl)}` })));
    }
    return plot;
  }

  // throughput: (clock second, events) pairs, seconds without events left out → events/s
  function eventsPerSecond(pairs, now) {
    const data = points(pairs);
    if (data.length === 0) return [];
    const end = Math.floor(now);
    const first = Math.min(data[0][0], end - 60);
    const bucket = [1, 2, 5, 10, 15, 30, 60].find((b) => (end - first) / b <= 120) || 60;
    const start = Math.floor(first / bucket) * bucket;
    const sums = new Map();
    for (const [t, n] of data) {
      const b = Math.floor(t / bucket) * bucket;
      sums.set(b, (sums.get(b) || 0) + n);
    }
    const out = [];
    for (let b = start; b + bucket <= end; b += bucket) out.push([b + bucket, (sums.get(b) || 0) / bucket]);
    return out;
  }

  function recentRate(pairs, now) {
    const end = Math.floor(now);
    const total = points(pairs).filter(([t]) => t >= end - 10 && t < end).reduce((a, p) => a + p[1], 0);
    return total / 10;
  }

  function latestDrift(signals) {
    const found = (Array.isArray(signals) ? signals : [])
      .filter((s) => s && s.signal === "input_shift" && s.details && s.details.psi)
      .sort((a, b) => (b.end || 0) - (a.end || 0));
    return found[0] || null;
  }

  function renderCharts(d) {
    const signal = latestDrift(d.signals);
    const threshold = isNum(d.drift_threshold) ? d.drift_threshold : null;
    if (signal) {
      const items = Object.entries(signal.details.psi)
        .filter(([, v]) => isNum(v))
        .map(([name, value]) => ({ name, value }))
        .sort((a, b) => b.value - a.value || a.name.localeCompare(b.name));
      const over = items.filter((i) => threshold !== null && i.value > threshold).length;
      const more = items.length > MAX_BARS ? ` · top ${MAX_BARS} of ${items.length}` : "";
      $("drift-note").textContent = `${over} of ${items.length} above ${threshold ?? "—"} · `
        + `${signal.subject || "inputs"}, ${signal.window || "latest window"}, ${clockTime(signal.end)}${more}`;
      replace($("drift-plot"), items.length ? barChart(items, threshold)
        : emptyPlot(220, "The latest window measured no features."));
    } else {
      $("drift-note").textContent = "";
      replace($("drift-plot"), emptyPlot(220, "No drift measurement yet: the first window has not closed."));
    }

    const h = d.history || {};
    const accuracy = points(h.accuracy);
    const latest = accuracy.length ? accuracy[accuracy.length - 1][1] : null;
    $("accuracy-note").textContent = latest === null ? "" : `latest ${number(latest, 3)}`;
    replace($("accuracy-plot"), lineChart(
      [{ name: "accuracy", colour: "c1", points: accuracy, area: false }],
      {
        empty: "No accuracy yet: it needs labelled events.",
        format: (v) => v.toFixed(v === 0 || v === 1 ? 0 : 2),
        clamp: [0, 1],
        label: () => `Accuracy over time, ${accuracy.length} windows, latest ${number(latest, 3)}`,
      },
    ));

    const lat = [["p50", "c1", h.p50_ms], ["p95", "c2", h.p95_ms], ["p99", "c3", h.p99_ms]]
      .map(([name, colour, list]) => ({ name, colour, points: points(list) }));
    replace($("latency-plot"), lineChart(lat, {
      empty: "No latency yet.",
      yMin: 0,
      format: compact,
      label: (ss) => `Latency over time in milliseconds; latest ${ss.filter((s) => s.points.length)
        .map((s) => `${s.name} ${compact(s.points[s.points.length - 1][1])}`).join(", ")}`,
    }));

    const rate = eventsPerSecond(d.throughput, d.now);
    $("throughput-note").textContent = rate.length ? `now ${compact(recentRate(d.throughput, d.now))}/s` : "";
    replace($("throughput-plot"), lineChart(
      [{ name: "events/s", colour: "c4", points: rate, area: true }],
      {
        empty: "No events received yet.",
        yMin: 0,
        until: d.now,
        format: compact,
        label: () => `Events per second over the last ${rate.length ? span(d.now - rate[0][0]) : "minutes"}`,
      },
    ));
  }

  // ------------------------------------------------------------------- tiles and route

  function renderTiles(d) {
    $("replica").textContent = d.replica ? `replica ${d.replica}` : "";
    const route = d.route || {};
    const fallback = route.target === "fallback";
    $("route").className = `tile route ${fallback ? "fallback" : "primary"}`;
    replace($("route-target"), el("span", { class: `badge ${fallback ? "b-warn" : "b-ok"}`,
      text: route.target || "unknown" }));
    replace($("route-degraded"), route.degraded_mode
      ? el("span", { class: "badge b-solid-bad", text: "degraded mode" }) : null);
    const since = isNum(route.since) ? `since ${clockTime(route.since)} (${ago(route.since)})`
      : "since the service started";
    $("route-since").textContent = `${fallback ? "Predictions go to the fallback" : "Predictions go to the primary model"} ${since}`
      + (route.incident ? ` · incident #${route.incident}` : "");

    const stats = d.stats || {};
    $("events").textContent = number(stats.events_stored);
    $("dups").textContent = `${number(stats.duplicates || 0)} duplicates dropped`;
    $("labels").textContent = `${number(stats.labels)} · ${number(stats.kpis)}`;
    $("busy").textContent = number(stats.busy);
    $("tile-busy").classList.toggle("alert", isNum(stats.busy) && stats.busy > 0);
    $("rate").textContent = compact(recentRate(d.throughput, d.now));
  }

  // ------------------------------------------------------------------------- incidents

  function activeIncidents(list) {
    return (Array.isArray(list) ? list : [])
      .filter((i) => i && i.status !== "resolved")
      .sort((a, b) => (a.status === "open" ? 0 : 1) - (b.status === "open" ? 0 : 1)
        || (SEVERITY_RANK[b.severity] ?? -1) - (SEVERITY_RANK[a.severity] ?? -1)
        || (a.opened_at || 0) - (b.opened_at || 0));
  }

  function countdown(incident) {
    if (incident.status !== "open" || !isNum(incident.deadline)) {
      return el("span", { class: "muted", text: "—" });
    }
    return el("span", { class: "countdown", "data-deadline": incident.deadline,
      title: `due ${fullTime(incident.deadline)}`, "aria-live": "off" });
  }

  function tickClocks() {
    const now = serverNow();
    for (const node of document.querySelectorAll(".countdown[data-deadline]")) {
      const left = Number(node.dataset.deadline) - now;
      node.textContent = left >= 0 ? `in ${span(left)}` : `overdue ${span(-left)}`;
      node.classList.toggle("overdue", left < 0);
      node.classList.toggle("soon", left >= 0 && left < 300);
    }
    for (const node of document.querySelectorAll(".ago[data-ts]")) {
      node.textContent = ago(Number(node.dataset.ts));
    }
    let expired = false;
    for (const [id, until] of confirming) {
      if (Date.now() > until) {
        confirming.delete(id);
        expired = true;
      }
    }
    if (expired && summary) renderIncidents(summary.incidents, true);
  }

  function incidentButtons(incident) {
    const id = incident.id;
    const busy = pending.has(id);
    const ack = incident.status === "open"
      ? el("button", { type: "button", class: "btn ack", "data-act": "ack", "data-id": id,
        "aria-label": `Acknowledge incident ${id}`, disabled: busy,
        onclick: () => act(id, "ack") }, "Acknowledge")
      : null;
    const sure = confirming.has(id);
    const resolve = el("button", { type: "button", class: `btn danger resolve${sure ? " confirm" : ""}`,
      "data-act": "resolve", "data-id": id, disabled: busy,
      "aria-label": sure ? `Confirm: resolve incident ${id}` : `Resolve incident ${id}`,
      onclick: () => {
        if (confirming.has(id)) {
          confirming.delete(id);
          act(id, "resolve");
        } else {
          confirming.set(id, Date.now() + CONFIRM_MS);
          renderIncidents(summary.incidents, true);
        }
      } }, sure ? "Confirm resolve" : "Resolve");
    return el("td", { class: "buttons" }, ack, resolve);
  }

  function renderIncidents(list, force) {
    const active = activeIncidents(list);
    const key = JSON.stringify([active, [...pending], [...confirming.keys()]]);
    const open = active.filter((i) => i.status === "open").length;
    const acked = active.length - open;
    $("open-count").textContent = String(open);
    $("open-sub").textContent = acked ? `${acked} acknowledged` : (open ? "awaiting acknowledgement" : "all clear");
    $("tile-open").classList.toggle("alert", open > 0);
    $("incidents-count").textContent = active.length
      ? `${open} open · ${acked} acknowledged` : "";
    if (!force && key === incidentsKey) return;
    incidentsKey = key;
    const container = $("incident-list");
    const focused = document.activeElement && container.contains(document.activeElement)
      ? document.activeElement.dataset : null;
    if (active.length === 0) {
      replace(container, el("p", { class: "empty", id: "no-incidents" },
        el("strong", { text: "No open incidents." }), " Every rule is quiet."));
      return;
    }
    const head = ["ID", "Severity", "Rule", "Signal", "Subject", "Owner", "Status", "Opened",
      "Ack deadline", "Level", "Runbook"];
    const titles = { ID: "Incident", Level: "Escalation levels paged so far", "Ack deadline": "Time left to acknowledge before the next escalation" };
    const table = el("table", { class: "incidents" },
      el("caption", { class: "sr-only", text: "Open and acknowledged incidents, unacknowledged first" }),
      el("thead", {}, el("tr", {},
        head.map((h) => el("th", { scope: "col", class: h === "Level" ? "n" : null, title: titles[h], text: h })),
        CAN_ACT ? el("th", { scope: "col" }, el("span", { class: "sr-only", text: "Actions" })) : null)),
      el("tbody", {}, active.map((i) => {
        const runbook = safeUrl(i.runbook);
        return el("tr", { class: `st-${i.status}`, "data-incident": i.id, "data-status": i.status },
          el("th", { scope: "row", class: "nowrap", text: `#${i.id}` }),
          el("td", {}, el("span", { class: `badge sev-${i.severity}`, text: i.severity || "?" })),
          el("td", { class: "rule" }, el("strong", { text: i.rule }),
            i.fired > 1 ? el("span", { class: "by", text: `fired ${i.fired} times` }) : null),
          el("td", {}, el("code", { text: i.signal })),
          el("td", { class: "wrap", text: i.subject }),
          el("td", { class: "wrap owner", text: i.owner }),
          el("td", { class: "status" },
            el("span", { class: `badge ${i.status === "open" ? "b-bad" : "b-warn"}`, text: i.status }),
            i.acked_by ? el("span", { class: "by", text: `by ${i.acked_by}` }) : null),
          el("td", { class: "nowrap" },
            el("span", { class: "ago", "data-ts": i.opened_at, title: fullTime(i.opened_at),
              "aria-live": "off", text: ago(i.opened_at) })),
          el("td", { class: "nowrap" }, countdown(i)),
          el("td", { class: "n", title: "escalation levels paged so far", text: isNum(i.level) ? i.level : "—" }),
          el("td", {}, runbook
            ? el("a", { href: runbook, target: "_blank", rel: "noopener noreferrer",
              "aria-label": `Runbook for incident ${i.id}`, text: "Runbook" })
            : el("span", { class: "muted", text: "—" })),
          CAN_ACT ? incidentButtons(i) : null);
      })));
    replace(container, el("div", { class: "table-wrap" }, table));
    tickClocks();
    if (focused && focused.act) {
      const target = container.querySelector(`button[data-act="${CSS.escape(focused.act)}"][data-id="${CSS.escape(focused.id)}"]`)
        || container.querySelector(`button[data-id="${CSS.escape(focused.id)}"]`);
      if (target) target.focus();
    }
  }

  async function act(id, verb) {
    if (pending.has(id)) return;
    pending.add(id);
    renderIncidents(summary.incidents, true);
    try {
      const response = await fetch(`/v1/incidents/${encodeURIComponent(id)}/${verb}`, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: "{}",
      });
      if (response.status === 401) {
        location.assign("/login?expired=1");
        return;
      }
      if (!response.ok) {
        let reason = `the monitor answered ${response.status}`;
        try {
          const answer = await response.json();
          if (answer && typeof answer.error === "string") reason = answer.error;
        } catch { /* not JSON: keep the status */ }
        showNotice(`Could not ${verb === "ack" ? "acknowledge" : "resolve"} incident #${id}: ${reason}`);
      } else {
        showNotice("");
      }
    } catch {
      showNotice(`Could not reach the monitor to ${verb === "ack" ? "acknowledge" : "resolve"} incident #${id}; try again.`);
    } finally {
      pending.delete(id);
      refresh();
    }
  }

  function showNotice(text) {
    const notice = $("notice");
    replace(notice, text ? el("p", { class: "message error", text }) : null);
  }

  // --------------------------------------------------------------------------- actions

  function renderActions(list) {
    const rows = (Array.isArray(list) ? list : []).filter((a) => a)
      .sort((a, b) => (b.started || 0) - (a.started || 0) || (b.seq || 0) - (a.seq || 0))
      .slice(0, MAX_ACTIONS);
    $("actions-count").textContent = rows.length ? `latest ${rows.length}` : "";
    const key = JSON.stringify(rows);
    if (key === actionsKey) return;
    actionsKey = key;
    const container = $("action-list");
    if (rows.length === 0) {
      replace(container, el("p", { class: "empty", id: "no-actions",
        text: "No automated actions yet. Alerts, rollbacks and other actions appear here as rules fire." }));
      return;
    }
    const table = el("table", { class: "actions" },
      el("caption", { class: "sr-only", text: "Automated actions, newest first" }),
      el("thead", {}, el("tr", {}, ["Time", "Action", "Incident", "Outcome", "Attempts", "Took"]
        .map((h) => el("th", { scope: "col", class: ["Attempts", "Took"].includes(h) ? "n" : null, text: h })))),
      el("tbody", {}, rows.map((a) => el("tr", { "data-seq": a.seq },
        el("td", { class: "nowrap", title: fullTime(a.started) }, clockTime(a.started),
          el("span", { class: "by ago", "data-ts": a.started, "aria-live": "off", text: ago(a.started) })),
        el("td", {}, el("code", { text: a.action })),
        el("td", { text: a.incident_id ? `#${a.incident_id}` : "—" }),
        el("td", {}, el("span", { class: `badge ${OUTCOME_BADGE[a.outcome] || "b-muted"}`, text: a.outcome || "?" })),
        el("td", { class: "n", text: isNum(a.attempts) ? a.attempts : "—" }),
        el("td", { class: "n", text: isNum(a.finished) && isNum(a.started)
          ? `${(a.finished - a.started).toFixed(a.finished - a.started < 10 ? 2 : 0)} s` : "—" })))));
    replace(container, el("div", { class: "table-wrap" }, table));
  }

  // ---------------------------------------------------------------------------- polling

  function setLive(ok, text) {
    const live = $("live");
    live.className = `live ${ok ? "on" : "off"}`;
    live.textContent = text;
  }

  function update(d) {
    const client = performance.now();
    if (isNum(d.now)) {
      let rate = serverClock ? serverClock.rate : 1;
      if (serverClock && client - serverClock.client > 500) {
        const measured = (d.now - serverClock.server) / ((client - serverClock.client) / 1000);
        if (Number.isFinite(measured) && measured >= 0 && measured < 1e5) rate = measured;
      }
      serverClock = { server: d.now, client, rate };
    }
    summary = d;
    renderTiles(d);
    renderIncidents(d.incidents, false);
    renderCharts(d);
    renderActions(d.actions);
    tickClocks();
  }

  async function poll() {
    inflight = true;
    try {
      const response = await fetch(SUMMARY_URL, {
        credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" },
      });
      if (response.status === 401) {
        location.assign("/login?expired=1");
        return;
      }
      if (!response.ok) throw new Error(`the summary answered ${response.status}`);
      update(await response.json());
      setLive(true, `Live · as of ${clockTime(summary.now)}`);
    } catch (error) {
      setLive(false, `Connection lost (${error.message || error}); retrying every ${POLL_MS / 1000} s`);
    } finally {
      inflight = false;
      clearTimeout(timer);
      if (again) {
        again = false;
        poll();
      } else {
        timer = setTimeout(poll, POLL_MS);
      }
    }
  }

  function refresh() {
    if (inflight) {
      again = true;
    } else {
      clearTimeout(timer);
      poll();
    }
  }

  setInterval(tickClocks, 1000);
  poll();
})();
