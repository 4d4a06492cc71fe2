// The monitoring port's `/`: nats-server serves a page of links there; ours is a live dashboard that
// keeps those links. One static page (inline CSS and JS, SVG charts drawn in the page), no external
// asset and no request but to this server, so it works offline and behind any firewall. It polls
// the JSON endpoints once a second (/varz, /connz, /routez, /jsz, /metrics), whose shapes stay
// nats-server's; rates are computed in the page from the counters, so any number of viewers and
// scrapers never disturb each other. Client-supplied text (connection names, stream names) is only
// ever set as textContent.

/** Only this server: inline script and style, fetch to itself, a data: favicon. */
export const DASHBOARD_CSP = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The page; `links` are the endpoint paths listed at its foot (nats-server's `/` is that list). */
export function dashboardHtml(links: readonly string[]): string {
  const linkHtml = links.map((l) => `<a href=".${escapeHtml(l)}">${escapeHtml(l.slice(1))}</a>`).join(' ');
  return String.raw`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>tsnats</title>
<link rel="icon" href="data:,">
<style>
:root { --bg:#0f1419; --panel:#171e26; --line:#2a3441; --text:#d6dde6; --dim:#8593a3; --accent:#4fb3ff; --out:#58d68d; --warn:#ffb454; --bad:#ff6b6b; }
* { box-sizing:border-box; }
body { margin:0; background:var(--bg); color:var(--text); font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif; }
header { display:flex; align-items:baseline; gap:16px; padding:14px 20px; border-bottom:1px solid var(--line); flex-wrap:wrap; }
h1 { font-size:20px; margin:0; font-weight:600; }
h1 small { color:var(--dim); font-weight:400; font-size:14px; margin-left:6px; }
h2 { font-size:15px; margin:0 0 10px; font-weight:600; }
main { padding:16px 20px; display:grid; gap:16px; }
.status { margin-left:auto; font-size:12px; padding:2px 8px; border-radius:10px; background:var(--line); color:var(--dim); }
.status.ok { background:#143d24; color:var(--out); }
.status.err { background:#4a1c1c; color:var(--bad); }
.ident { color:var(--dim); font-size:12px; display:flex; gap:18px; flex-wrap:wrap; }
.ident b { color:var(--text); font-weight:500; }
.cards { display:grid; grid-template-columns:repeat(auto-fill,minmax(150px,1fr)); gap:12px; }
.card, .panel { background:var(--panel); border:1px solid var(--line); border-radius:8px; padding:12px 14px; }
.card .label { color:var(--dim); font-size:12px; }
.card .value { font-size:24px; font-weight:600; font-variant-numeric:tabular-nums; }
.card .sub { color:var(--dim); font-size:12px; }
.card.bad .value { color:var(--bad); }
.charts { display:grid; grid-template-columns:repeat(auto-fill,minmax(260px,1fr)); gap:12px; }
.chart .head { display:flex; justify-content:space-between; align-items:baseline; }
.chart .now { font-variant-numeric:tabular-nums; font-weight:600; }
.chart svg { width:100%; height:64px; display:block; margin-top:6px; }
.chart .max { color:var(--dim); font-size:11px; }
table { width:100%; border-collapse:collapse; font-variant-numeric:tabular-nums; font-size:13px; }
th, td { text-align:right; padding:4px 8px; border-bottom:1px solid var(--line); white-space:nowrap; }
th { color:var(--dim); font-weight:500; font-size:12px; }
th:first-child, td:first-child, td.l, th.l { text-align:left; }
td.name { max-width:260px; overflow:hidden; text-overflow:ellipsis; text-align:left; }
tr.consumer td { color:var(--dim); font-size:12px; }
tr.consumer td:first-child { padding-left:24px; }
.empty { color:var(--dim); font-style:italic; }
.shards { display:grid; gap:8px; }
.shard { display:grid; grid-template-columns:70px 1fr 260px 190px; gap:12px; align-items:center; font-size:13px; }
.bar { height:12px; background:var(--line); border-radius:6px; overflow:hidden; }
.bar > div { height:100%; background:var(--accent); width:0; transition:width .4s; }
.shard svg { width:100%; height:22px; }
.row { display:flex; justify-content:space-between; align-items:center; gap:10px; margin-bottom:8px; }
select { background:var(--bg); color:var(--text); border:1px solid var(--line); border-radius:4px; padding:2px 6px; }
footer { padding:12px 20px 24px; color:var(--dim); font-size:13px; }
footer a { color:var(--accent); margin-right:12px; text-decoration:none; }
footer a:hover { text-decoration:underline; }
.scroll { overflow-x:auto; }
</style>
</head>
<body>
<header>
  <h1>tsnats <small id="server-name"></small></h1>
  <div class="ident" id="identity"></div>
  <div class="status" id="status">connecting…</div>
</header>
<main>
  <section class="cards">
    <div class="card"><div class="label">Connections</div><div class="value" id="connections" data-testid="connections">–</div><div class="sub">total <span id="total-connections">–</span></div></div>
    <div class="card"><div class="label">Subscriptions</div><div class="value" id="subscriptions">–</div><div class="sub">max payload <span id="max-payload">–</span></div></div>
    <div class="card" id="slow-card"><div class="label">Slow consumers</div><div class="value" id="slow-consumers">–</div><div class="sub">since start</div></div>
    <div class="card"><div class="label">Routes</div><div class="value" id="route-count">–</div><div class="sub">cluster <span id="cluster-name">–</span></div></div>
    <div class="card"><div class="label">Memory (RSS)</div><div class="value" id="mem">–</div><div class="sub">CPU <span id="cpu">–</span></div></div>
    <div class="card"><div class="label">Uptime</div><div class="value" id="uptime">–</div><div class="sub">since <span id="started">–</span></div></div>
  </section>
  <section class="charts">
    <div class="panel chart"><div class="head"><span>Messages in /s</span><span class="now" id="rate-in-msgs">–</span></div><svg id="chart-in-msgs" viewBox="0 0 300 64" preserveAspectRatio="none"></svg><div class="max" id="max-in-msgs"></div></div>
    <div class="panel chart"><div class="head"><span>Messages out /s</span><span class="now" id="rate-out-msgs">–</span></div><svg id="chart-out-msgs" viewBox="0 0 300 64" preserveAspectRatio="none"></svg><div class="max" id="max-out-msgs"></div></div>
    <div class="panel chart"><div class="head"><span>Bytes in /s</span><span class="now" id="rate-in-bytes">–</span></div><svg id="chart-in-bytes" viewBox="0 0 300 64" preserveAspectRatio="none"></svg><div class="max" id="max-in-bytes"></div></div>
    <div class="panel chart"><div class="head"><span>Bytes out /s</span><span class="now" id="rate-out-bytes">–</span></div><svg id="chart-out-bytes" viewBox="0 0 300 64" preserveAspectRatio="none"></svg><div class="max" id="max-out-bytes"></div></div>
  </section>
  <section class="panel">
    <h2>Shards <small class="empty" style="font-weight:400">event-loop use, connections</small></h2>
    <div class="shards" id="shards"><div class="empty">–</div></div>
  </section>
  <section class="panel">
    <div class="row"><h2 style="margin:0">Busiest connections</h2>
      <label class="empty">by <select id="conn-sort">
        <option value="msgs_from">messages in</option><option value="msgs_to">messages out</option>
        <option value="bytes_from">bytes in</option><option value="bytes_to">bytes out</option>
        <option value="pending">pending</option><option value="subs">subscriptions</option>
      </select></label></div>
    <div class="scroll"><table id="conns"><thead><tr><th>cid</th><th class="l">name</th><th class="l">address</th><th class="l">client</th><th>subs</th><th>msgs in</th><th>msgs out</th><th>bytes in</th><th>bytes out</th><th>pending</th><th>uptime</th></tr></thead><tbody></tbody></table></div>
  </section>
  <section class="panel">
    <h2>JetStream <small class="empty" id="js-summary" style="font-weight:400"></small></h2>
    <div class="scroll"><table id="streams"><thead><tr><th class="l">stream / consumer</th><th class="l">account</th><th>messages</th><th>bytes</th><th>first–last seq</th><th>consumers</th><th>pending</th><th>ack pending</th><th>redelivered</th></tr></thead><tbody></tbody></table></div>
  </section>
  <section class="panel">
    <h2>Routes</h2>
    <div class="scroll"><table id="routes"><thead><tr><th>rid</th><th class="l">remote</th><th class="l">address</th><th>subs</th><th>msgs in</th><th>msgs out</th><th>pending</th></tr></thead><tbody></tbody></table></div>
  </section>
</main>
<footer>Endpoints: ${linkHtml}</footer>
<script>
"use strict";
const N = 60; // points per chart (one a second)
const hist = { "in-msgs": [], "out-msgs": [], "in-bytes": [], "out-bytes": [] };
const eluHist = new Map();
let prev = null;
let prevElu = new Map();
let polls = 0;
const $ = (id) => document.getElementById(id);
const setText = (id, v) => { const e = $(id); if (e) e.textContent = v; };

function num(n) {
  if (!isFinite(n)) return "–";
  const a = Math.abs(n);
  if (a >= 1e9) return (n / 1e9).toFixed(2) + "G";
  if (a >= 1e6) return (n / 1e6).toFixed(2) + "M";
  if (a >= 1e4) return (n / 1e3).toFixed(1) + "K";
  return Number.isInteger(n) || a >= 100 ? String(Math.round(n)) : n.toFixed(1);
}
function bytes(n) {
  if (!isFinite(n)) return "–";
  const u = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (Math.abs(n) >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return (i === 0 ? String(Math.round(n)) : n.toFixed(1)) + " " + u[i];
}
function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = String(text);
  return e;
}
function row(cells, cls) {
  const tr = el("tr", cls);
  for (const c of cells) {
    const td = typeof c === "object" && c !== null ? el("td", c.cls, c.text) : el("td", "", c);
    if (typeof c === "object" && c !== null && c.title) td.title = c.title;
    tr.appendChild(td);
  }
  return tr;
}
function fill(tableId, rows, emptyText, cols) {
  const tb = $(tableId).tBodies[0];
  tb.replaceChildren();
  if (rows.length === 0) {
    const td = el("td", "empty", emptyText);
    td.colSpan = cols;
    const tr = el("tr");
    tr.appendChild(td);
    tb.appendChild(tr);
  } else for (const r of rows) tb.appendChild(r);
}

const SVG = "http://www.w3.org/2000/svg";
function spark(svg, data, color, max) {
  const w = 300, h = 64;
  const top = Math.max(max, 1e-9);
  const pts = data.map((v, i) => [w - (data.length - 1 - i) * (w / (N - 1)), h - 2 - (v / top) * (h - 6)]);
  svg.replaceChildren();
  if (pts.length < 2) return;
  const line = pts.map((p) => p[0].toFixed(1) + "," + p[1].toFixed(1)).join(" ");
  const area = document.createElementNS(SVG, "polygon");
  area.setAttribute("points", pts[0][0].toFixed(1) + "," + h + " " + line + " " + pts[pts.length - 1][0].toFixed(1) + "," + h);
  area.setAttribute("fill", color);
  area.setAttribute("fill-opacity", "0.15");
  const pl = document.createElementNS(SVG, "polyline");
  pl.setAttribute("points", line);
  pl.setAttribute("fill", "none");
  pl.setAttribute("stroke", color);
  pl.setAttribute("stroke-width", "1.5");
  pl.setAttribute("vector-effect", "non-scaling-stroke");
  svg.append(area, pl);
}
function push(arr, v) { arr.push(v); if (arr.length > N) arr.shift(); }

async function get(path) {
  const r = await fetch(path, { cache: "no-store" });
  if (!r.ok) throw new Error(path.split("?")[0] + ": HTTP " + r.status);
  return path.startsWith("metrics") ? r.text() : r.json();
}

function renderVarz(v) {
  setText("server-name", v.server_name && v.server_name !== v.server_id ? v.server_name : "");
  const id = $("identity");
  id.replaceChildren();
  const add = (k, val) => { const s = el("span", "", k + " "); s.appendChild(el("b", "", val)); id.appendChild(s); };
  add("id", String(v.server_id).slice(0, 12) + "…");
  add("listening", v.host + ":" + v.port);
  add("nats-server protocol", v.version);
  if (v.tsnats_version) add("tsnats", v.tsnats_version);
  add("runtime", v.go);
  if (v.tsnats_shards !== undefined) add("shards", String(v.tsnats_shards));
  add("JetStream", v.jetstream && v.jetstream.config ? "on" : "off");
  setText("connections", String(v.connections));
  setText("total-connections", num(v.total_connections));
  setText("subscriptions", num(v.subscriptions));
  setText("max-payload", bytes(v.max_payload));
  setText("slow-consumers", num(v.slow_consumers));
  $("slow-card").classList.toggle("bad", v.slow_consumers > 0);
  setText("route-count", String(v.routes));
  setText("cluster-name", (v.cluster && v.cluster.name) || "–");
  setText("mem", bytes(v.mem));
  setText("cpu", (v.cpu || 0).toFixed(1) + "%");
  setText("uptime", v.uptime);
  setText("started", new Date(v.start).toLocaleString());
  const now = Date.parse(v.now);
  if (prev !== null && now > prev.now) {
    const dt = (now - prev.now) / 1000;
    const rate = (k) => Math.max(0, (v[k] - prev[k]) / dt);
    push(hist["in-msgs"], rate("in_msgs"));
    push(hist["out-msgs"], rate("out_msgs"));
    push(hist["in-bytes"], rate("in_bytes"));
    push(hist["out-bytes"], rate("out_bytes"));
  }
  prev = { now, in_msgs: v.in_msgs, out_msgs: v.out_msgs, in_bytes: v.in_bytes, out_bytes: v.out_bytes };
  for (const [k, color, fmt] of [["in-msgs", "#4fb3ff", num], ["out-msgs", "#58d68d", num], ["in-bytes", "#4fb3ff", bytes], ["out-bytes", "#58d68d", bytes]]) {
    const d = hist[k];
    const max = d.length ? Math.max(...d) : 0;
    spark($("chart-" + k), d, color, max);
    setText("rate-" + k, d.length ? fmt(d[d.length - 1]) : "–");
    setText("max-" + k, d.length ? "peak " + fmt(max) + " in the last " + d.length + " s" : "");
  }
}

function renderConnz(c) {
  const rows = (c.connections || []).map((x) => row([
    x.cid,
    { cls: "name", text: x.name || "", title: x.name || "" },
    { cls: "l", text: x.ip + ":" + x.port },
    { cls: "l", text: (x.lang || "") + (x.version ? " " + x.version : "") },
    num(x.subscriptions), num(x.in_msgs), num(x.out_msgs), bytes(x.in_bytes), bytes(x.out_bytes), bytes(x.pending_bytes), x.uptime,
  ]));
  fill("conns", rows, "no connections", 11);
}

function renderRoutez(r) {
  const rows = (r.routes || []).map((x) => row([
    x.rid,
    { cls: "name", text: x.remote_name || x.remote_id || "" },
    { cls: "l", text: x.ip + ":" + x.port },
    num(x.subscriptions), num(x.in_msgs), num(x.out_msgs), bytes(x.pending_size || 0),
  ]));
  fill("routes", rows, "no routes", 7);
}

function renderJsz(j) {
  if (j.disabled) {
    setText("js-summary", "not enabled");
    fill("streams", [], "JetStream is not enabled on this server", 9);
    return;
  }
  setText("js-summary", num(j.streams) + " streams · " + num(j.consumers) + " consumers · " + num(j.messages) + " msgs · " + bytes(j.bytes) + " · API " + num(j.api ? j.api.total : 0) + " (" + num(j.api ? j.api.errors : 0) + " errors)");
  const rows = [];
  for (const a of j.account_details || []) {
    for (const s of a.stream_detail || []) {
      const st = s.state || {};
      rows.push(row([{ cls: "name", text: s.name, title: s.name }, { cls: "l", text: a.name }, num(st.messages), bytes(st.bytes), (st.first_seq || 0) + "–" + (st.last_seq || 0), num(st.consumer_count || 0), "", "", ""], "stream"));
      for (const c of s.consumer_detail || []) {
        rows.push(row([{ cls: "name", text: c.name, title: c.name }, { cls: "l", text: "" }, "", "", "", "", num(c.num_pending || 0), num(c.num_ack_pending || 0), num(c.num_redelivered || 0)], "consumer"));
      }
    }
  }
  fill("streams", rows, "no streams", 9);
}

function metric(text, name) {
  const out = new Map();
  const re = new RegExp("^" + name + "\\{shard=\"(\\d+)\"\\} ([-+0-9.eE]+|NaN)$", "gm");
  let m;
  while ((m = re.exec(text)) !== null) out.set(Number(m[1]), Number(m[2]));
  return out;
}

function renderShards(text) {
  const active = metric(text, "tsnats_shard_event_loop_active_seconds_total");
  const idle = metric(text, "tsnats_shard_event_loop_idle_seconds_total");
  const elu0 = metric(text, "tsnats_shard_event_loop_utilization");
  const conns = metric(text, "tsnats_shard_connections");
  const box = $("shards");
  box.replaceChildren();
  const ids = [...new Set([...elu0.keys(), ...conns.keys()])].sort((a, b) => a - b);
  if (ids.length === 0) { box.appendChild(el("div", "empty", "no shard figures")); return; }
  for (const id of ids) {
    const a = active.get(id), i = idle.get(id), p = prevElu.get(id);
    let elu = elu0.get(id) || 0;
    if (a !== undefined && i !== undefined) {
      if (p && a + i > p.a + p.i) elu = (a - p.a) / (a + i - p.a - p.i);
      prevElu.set(id, { a, i });
    }
    if (!eluHist.has(id)) eluHist.set(id, []);
    push(eluHist.get(id), elu);
    const line = el("div", "shard");
    line.dataset.shard = String(id);
    line.appendChild(el("span", "", "shard " + id));
    const bar = el("div", "bar");
    const fillDiv = el("div");
    fillDiv.style.width = Math.min(100, elu * 100).toFixed(1) + "%";
    bar.appendChild(fillDiv);
    line.appendChild(bar);
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", "0 0 300 64");
    svg.setAttribute("preserveAspectRatio", "none");
    spark(svg, eluHist.get(id), "#ffb454", 1);
    line.appendChild(svg);
    line.appendChild(el("span", "", (elu * 100).toFixed(1) + "% busy · " + num(conns.get(id) || 0) + " conns"));
    box.appendChild(line);
  }
}

async function tick() {
  const sort = $("conn-sort").value;
  try {
    const [varz, connz, routez, jsz, metrics] = await Promise.all([get("varz"), get("connz?limit=10&sort=" + sort), get("routez"), get("jsz?consumers=true"), get("metrics")]);
    renderVarz(varz);
    renderConnz(connz);
    renderRoutez(routez);
    renderJsz(jsz);
    renderShards(metrics);
    const s = $("status");
    s.className = "status ok";
    s.textContent = "live · updated " + new Date().toLocaleTimeString();
  } catch (e) {
    const s = $("status");
    s.className = "status err";
    s.textContent = "unreachable: " + (e && e.message ? e.message : e);
  } finally {
    document.body.dataset.polls = String(++polls);
    setTimeout(tick, 1000);
  }
}
tick();
</script>
</body>
</html>
`;
}
