/// `GET /`: a live page of the market, built on the reference client (`/tickstream.js`): a
/// symbol picker, a ticker table, the depth ladder of one symbol, the connection (protocol,
/// messages/s, latency from `ts`, gaps from `seq`, reconnects and whether `seq` continued
/// across them) and the server's `/stats`. Plain HTML, CSS and JavaScript, no build step.
///
/// `?symbols=AAPL,MSFT` chooses the symbols (default: the first eight served), `?token=` is
/// passed to `/ws` when it needs a token, `?depth=` sets the ladder's depth (default 10),
/// `?delta=0` asks for whole states instead of deltas, `?max_rate=N` caps each symbol at N
/// updates a second.
enum IndexPage {
    static let html = ##"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Tickstream</title>
<style>
  :root { --bg: #0f1419; --panel: #171e26; --line: #26313d; --text: #d8e0e8; --dim: #7d8b99; --up: #3fb950; --down: #f85149; --accent: #58a6ff; }
  * { box-sizing: border-box; }
  body { margin: 0; background: var(--bg); color: var(--text); font: 14px/1.4 system-ui, sans-serif; }
  header { display: flex; align-items: center; gap: 12px; padding: 12px 20px; border-bottom: 1px solid var(--line); }
  header h1 { font-size: 18px; margin: 0; letter-spacing: .5px; }
  .pill { padding: 2px 10px; border-radius: 10px; background: var(--line); font-size: 12px; }
  .pill.open { background: #1f4d2c; } .pill.reconnecting, .pill.connecting { background: #5a4b12; } .pill.closed { background: #5c1f1f; }
  main { display: grid; grid-template-columns: minmax(420px, 2fr) minmax(280px, 1fr); gap: 16px; padding: 16px 20px; }
  section { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; }
  h2 { font-size: 13px; text-transform: uppercase; color: var(--dim); margin: 0 0 10px; letter-spacing: .8px; }
  table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
  th { text-align: right; color: var(--dim); font-weight: 500; padding: 4px 8px; border-bottom: 1px solid var(--line); }
  td { text-align: right; padding: 4px 8px; border-bottom: 1px solid #1d252e; }
  th:first-child, td:first-child { text-align: left; }
  tbody tr { cursor: pointer; } tbody tr.selected { background: #1c2733; }
  .up { color: var(--up); } .down { color: var(--down); }
  .flash-up { animation: up .6s; } .flash-down { animation: down .6s; }
  @keyframes up { from { background: rgba(63,185,80,.25); } } @keyframes down { from { background: rgba(248,81,73,.25); } }
  form { display: flex; gap: 8px; margin-bottom: 10px; }
  input, button { background: var(--bg); color: var(--text); border: 1px solid var(--line); border-radius: 6px; padding: 6px 10px; font: inherit; }
  button { cursor: pointer; } button:hover { border-color: var(--accent); }
  dl { display: grid; grid-template-columns: auto 1fr; gap: 4px 12px; margin: 0; }
  dt { color: var(--dim); } dd { margin: 0; text-align: right; font-variant-numeric: tabular-nums; }
  .side { display: flex; flex-direction: column; gap: 16px; }
  #events { list-style: none; padding: 0; margin: 10px 0 0; font-size: 12px; color: var(--dim); max-height: 160px; overflow: auto; }
  #ladder td.bid { color: var(--up); } #ladder td.ask { color: var(--down); }
  .remove { color: var(--dim); border: none; background: none; padding: 0 4px; }
  footer { padding: 0 20px 16px; color: var(--dim); font-size: 12px; }
</style>
</head>
<body>
<header>
  <h1>Tickstream</h1>
  <span id="state" class="pill">connecting</span>
  <span class="pill">protocol <b id="protocol">?</b></span>
  <span class="pill">gaps <b id="gaps">0</b></span>
</header>
<main>
  <section>
    <h2>Market</h2>
    <form id="picker"><input id="symbol-input" list="symbol-list" placeholder="Add a symbol (AAPL)" autocomplete="off"><datalist id="symbol-list"></datalist><button>Add</button></form>
    <table id="ticker">
      <thead><tr><th>Symbol</th><th>Last</th><th>Bid</th><th>Ask</th><th>Change</th><th>seq</th><th></th></tr></thead>
      <tbody></tbody>
    </table>
  </section>
  <div class="side">
    <section>
      <h2>Depth <span id="ladder-symbol"></span></h2>
      <table id="ladder"><thead><tr><th>Bid size</th><th>Bid</th><th>Ask</th><th>Ask size</th></tr></thead><tbody></tbody></table>
    </section>
    <section>
      <h2>Connection</h2>
      <dl>
        <dt>state</dt><dd id="state-detail">connecting</dd>
        <dt>messages/s</dt><dd id="rate">0</dd>
        <dt>latency p50 / p99</dt><dd id="latency">-</dd>
        <dt>updates missed (seq)</dt><dd id="missed">0</dd>
        <dt>updates as</dt><dd id="mode">-</dd>
        <dt>unknown symbols</dt><dd id="unknown">none</dd>
        <dt>reconnects</dt><dd id="reconnects">0</dd>
        <dt>seq across the last reconnect</dt><dd id="continuity">-</dd>
      </dl>
      <ol id="events"></ol>
    </section>
    <section>
      <h2>Server</h2>
      <dl id="stats"><dt>stats</dt><dd>loading</dd></dl>
    </section>
  </div>
</main>
<footer>The client on this page is <a href="/tickstream.js" style="color: var(--accent)">/tickstream.js</a>, the reference browser client: v2 negotiation, seq gap detection, the drain protocol.</footer>
<script src="/tickstream.js"></script>
<script>
"use strict";
const params = new URLSearchParams(location.search);
const chosen = (params.get("symbols") || "").split(",").map((s) => s.trim().toUpperCase()).filter(Boolean);
const $ = (id) => document.getElementById(id);
const rows = new Map();        // symbol -> {tr, first, last}
const pending = new Map();     // symbol -> newest update not yet drawn
let selected = null, lastDepth = new Map(), frame = 0, previousCount = 0, granted = null;

const client = new Tickstream.Client((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws", {
  symbols: chosen, depth: Number(params.get("depth")) || 10, token: params.get("token"),
  delta: params.get("delta") !== "0", maxRate: Number(params.get("max_rate")) || null,
  onUpdate(update) {
    pending.set(update.symbol, update);
    if (!frame) frame = requestAnimationFrame(draw);
  },
  onState(state, detail) {
    $("state").textContent = state;
    $("state").className = "pill " + state;
    $("state-detail").textContent = detail ? `${state} (${detail})` : state;
    if (state === "open") $("protocol").textContent = client.protocol;
    log(detail ? `${state}: ${detail}` : state);
  },
  onMessage(message) {
    if (message.type === "reconnect") log(`server drains: reconnect in ${message.retry_after_ms} ms`);
    else if (message.type === "error") log(`error ${message.code}: ${message.message}`);
    else if (message.type === "subscribed") {
      granted = message;
      if (message.unknown && message.unknown.length) log(`nobody publishes ${message.unknown.join(", ")} (yet): a typo?`);
    }
  },
});

function log(text) {
  const item = document.createElement("li");
  item.textContent = new Date().toLocaleTimeString() + "  " + text;
  $("events").prepend(item);
  while ($("events").children.length > 30) $("events").lastChild.remove();
}

function price(value) { return value === undefined ? "" : Number(value).toFixed(2); }

function row(symbol) {
  let entry = rows.get(symbol);
  if (entry) return entry;
  const tr = document.createElement("tr");
  tr.innerHTML = `<td>${symbol}</td><td></td><td></td><td></td><td></td><td></td><td><button class="remove" title="Remove">×</button></td>`;
  tr.onclick = (event) => {
    if (event.target.classList.contains("remove")) { removeSymbol(symbol); return; }
    select(symbol);
  };
  $("ticker").tBodies[0].append(tr);
  entry = { tr, first: null, last: null };
  rows.set(symbol, entry);
  if (!selected) select(symbol);
  return entry;
}

function draw() {
  frame = 0;
  for (const [symbol, update] of pending) {
    const entry = row(symbol);
    const cells = entry.tr.cells;
    if (entry.first === null) entry.first = update.last;
    if (entry.last !== null && update.last !== entry.last) {
      cells[1].classList.remove("flash-up", "flash-down");
      void cells[1].offsetWidth;
      cells[1].classList.add(update.last > entry.last ? "flash-up" : "flash-down");
    }
    entry.last = update.last;
    cells[1].textContent = price(update.last ?? update.price);
    cells[2].textContent = price(update.bid);
    cells[3].textContent = price(update.ask);
    const change = entry.first ? ((update.last ?? update.price) - entry.first) / entry.first * 100 : 0;
    cells[4].textContent = (change >= 0 ? "+" : "") + change.toFixed(2) + "%";
    cells[4].className = change > 0 ? "up" : change < 0 ? "down" : "";
    cells[5].textContent = update.seq ?? "";
    if (update.depth) lastDepth.set(symbol, update.depth);
    if (symbol === selected) ladder();
  }
  pending.clear();
  $("gaps").textContent = client.stats.gaps;
  $("missed").textContent = client.stats.missed;
}

function select(symbol) {
  selected = symbol;
  for (const [name, entry] of rows) entry.tr.classList.toggle("selected", name === symbol);
  $("ladder-symbol").textContent = symbol;
  ladder();
}

function ladder() {
  const body = $("ladder").tBodies[0];
  body.innerHTML = "";
  for (const [bid, bidSize, ask, askSize] of lastDepth.get(selected) || []) {
    const tr = document.createElement("tr");
    tr.innerHTML = `<td>${bidSize}</td><td class="bid">${price(bid)}</td><td class="ask">${price(ask)}</td><td>${askSize}</td>`;
    body.append(tr);
  }
}

function addSymbols(symbols) {
  const fresh = symbols.filter((s) => !client.symbols.has(s));
  if (fresh.length) client.subscribe(fresh);
}

function removeSymbol(symbol) {
  client.unsubscribe([symbol]);
  rows.get(symbol)?.tr.remove();
  rows.delete(symbol);
  if (selected === symbol) { selected = null; const next = rows.keys().next().value; if (next) select(next); else ladder(); }
}

$("picker").onsubmit = (event) => {
  event.preventDefault();
  const symbol = $("symbol-input").value.trim().toUpperCase();
  if (symbol) addSymbols([symbol]);
  $("symbol-input").value = "";
};

async function loadSymbols() {
  try {
    const served = (await (await fetch("/symbols")).json()).symbols;
    $("symbol-list").innerHTML = served.map((s) => `<option value="${s}">`).join("");
    if (!client.symbols.size) addSymbols(served.slice(0, 8));
  } catch (error) {
    setTimeout(loadSymbols, 2000);
  }
}

async function loadStats() {
  try {
    const stats = await (await fetch("/stats")).json();
    const entries = [
      ["instance", `pid ${stats.pid}, up ${Math.round(stats.uptime_seconds)} s`],
      ["connections v1 / v2", `${stats.connections.v1} / ${stats.connections.v2}`],
      ["deliveries/s", Math.round(stats.deliveries_per_second).toLocaleString()],
      ["symbols", stats.symbols],
      ["drain", stats.draining ? stats.drain_phase : "serving"],
    ];
    if (stats.bus) entries.push(["bus", stats.bus.connected ? `connected, ${stats.bus.subscriptions} subjects` : "not connected"]);
    $("stats").innerHTML = entries.map(([k, v]) => `<dt>${k}</dt><dd>${v}</dd>`).join("");
  } catch (error) {
    $("stats").innerHTML = "<dt>stats</dt><dd>unavailable</dd>";
  }
}

setInterval(() => {
  const count = client.stats.messages;
  $("rate").textContent = (count - previousCount).toLocaleString();
  previousCount = count;
  const p50 = Tickstream.percentile(client.stats.latencyMs, 50), p99 = Tickstream.percentile(client.stats.latencyMs, 99);
  $("latency").textContent = p50 === null ? "-" : `${p50.toFixed(1)} / ${p99.toFixed(1)} ms`;
  $("reconnects").textContent = client.stats.reconnects;
  const cap = granted && granted.max_rate ? `, at most ${granted.max_rate}/s per symbol (${client.stats.capped.toLocaleString()} held back)` : "";
  $("mode").textContent = (granted && granted.delta
    ? `deltas (${client.stats.deltas.toLocaleString()} applied, ${client.stats.outOfStep} out of step)` : "whole states") + cap;
  $("unknown").textContent = client.unknown.size ? [...client.unknown].join(", ") : "none";
  const continuity = client.stats.continuity;
  if (continuity.length) {
    const recent = continuity.slice(-Math.max(1, client.symbols.size));
    const jumped = recent.filter((c) => !c.continuous).length;
    const resynced = recent.filter((c) => c.resynced).length;
    $("continuity").textContent = jumped ? `${jumped} of ${recent.length} symbols jumped`
      : resynced ? `new sequence (epoch): ${resynced} symbols resynced from snapshots` : `continuous (${recent.length} symbols)`;
  }
}, 1000);
setInterval(loadStats, 2000);

// For tests and the curious: the page's state in one object.
window.tickstreamPage = {
  client,
  snapshot() {
    return {
      state: client.state, protocol: client.protocol, messages: client.stats.messages, gaps: client.stats.gaps,
      missed: client.stats.missed, reconnects: client.stats.reconnects, drains: client.stats.drains, resyncs: client.stats.resyncs,
      epoch: client.epoch, deltas: client.stats.deltas, outOfStep: client.stats.outOfStep, capped: client.stats.capped,
      unknown: [...client.unknown], mode: $("mode").textContent,
      continuity: client.stats.continuity, symbols: [...client.symbols],
      rows: Object.fromEntries([...rows].map(([s, e]) => [s, { last: e.last, seq: Number(e.tr.cells[5].textContent) }])),
      ladderRows: $("ladder").tBodies[0].rows.length,
    };
  },
};

loadSymbols();
loadStats();
client.connect();
</script>
</body>
</html>
"""##
}
