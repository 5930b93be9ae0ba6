// Tickstream's reference browser client (protocols/browser.md). Plain JavaScript, no build.
//
//   const client = new Tickstream.Client("ws://localhost:8080/ws", {
//     symbols: ["AAPL", "MSFT"], depth: 5, token: null,
//     delta: false,                // true: the server sends changes; onUpdate still gets whole states
//     maxRate: null,               // N: at most N updates a second per symbol (server-side cap)
//     clientId: undefined,         // who this browser is to feature flags (default: kept in localStorage)
//     onUpdate(update, info) {},   // info: {gap: missed updates before this one (0: continuous)}
//     onState(state, detail) {},   // "connecting", "open", "reconnecting", "closed"
//   });
//   client.connect();
//
// What it does that every client must:
// - offers v2 then v1 and keeps what the server chose (client.protocol);
// - follows each symbol's seq: a jump is a gap (updates it missed), counted in client.stats.gaps;
//   seq at or below the last seen is a repeat (a snapshot after a reconnect) and is not a gap;
// - follows the drain protocol: on {"type":"reconnect"} it waits retry_after_ms plus jitter,
//   reconnects and resubscribes; so on Close 1001 without a notice, and on a network error or an
//   abnormal close, with exponential backoff (0.25 s doubling to 8 s, jittered);
// - after a reconnect, says per symbol whether the sequence continued (the snapshot's seq follows
//   the last one seen) or jumped (client.stats.continuity);
// - on v2 asks for the epoch (the sequence space): when a reconnect lands in another epoch, the
//   server's sequence restarted and said so, and each symbol resyncs from its snapshot
//   (continuity entry {resynced: true}; client.stats.resyncs), neither a gap nor a rewind;
// - with delta: applies each delta to the state it holds (client.books) and hands onUpdate the
//   whole state; a delta that does not follow what it holds is out of step (stats.outOfStep)
//   and the symbol is subscribed again for a snapshot;
// - with maxRate: seq jumps are the cap, not loss (stats.capped, not stats.gaps);
// - notes the symbols the server says nobody publishes (client.unknown);
// - without a token, connects with ?client=<id>, an id it keeps (localStorage), so feature
//   flags put this browser in the same cohort on every instance and after every reconnect.
(function (root) {
  "use strict";

  class Client {
    constructor(url, options = {}) {
      this.url = url;
      this.symbols = new Set(options.symbols || []);
      this.depth = options.depth || 1;
      this.token = options.token || null;
      this.delta = Boolean(options.delta);
      this.maxRate = options.maxRate || null;
      this.clientId = options.clientId === undefined ? storedClientId() : options.clientId;
      this.onUpdate = options.onUpdate || (() => {});
      this.onState = options.onState || (() => {});
      this.onMessage = options.onMessage || (() => {});
      this.protocol = null;
      this.state = "idle";
      this.lastSeq = new Map();        // symbol -> last seq seen, kept across reconnects
      this.awaitingContinuity = new Set();
      this.snapshotPending = new Set();  // symbols whose next message is the snapshot on subscribe
      this.stats = { messages: 0, gaps: 0, missed: 0, capped: 0, deltas: 0, outOfStep: 0, reconnects: 0, drains: 0, resyncs: 0,
                     latencyMs: [], continuity: [] };
      this.books = new Map();          // symbol -> whole state held, with delta
      this.unknown = new Set();        // symbols nobody published when subscribed
      this.epoch = null;               // the sequence space lastSeq counts in (v2)
      this.failures = 0;
      this.ws = null;
      this.timer = null;
      this.stopped = false;
      this.reconnectNotice = null;
    }

    /** Opens the connection (and keeps reopening it until close()). */
    connect() {
      this.stopped = false;
      clearTimeout(this.timer);
      let target = this.url;
      if (this.token) target += (target.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(this.token);
      else if (this.clientId) target += (target.includes("?") ? "&" : "?") + "client=" + encodeURIComponent(this.clientId);
      this.setState("connecting");
      const ws = new WebSocket(target, ["v2", "v1"]);
      this.ws = ws;
      ws.onopen = () => {
        this.protocol = ws.protocol || "v1";
        this.failures = 0;
        this.reconnectNotice = null;
        this.setState("open", this.protocol);
        this.sendSubscribe([...this.symbols]);
      };
      ws.onmessage = (event) => this.receive(event.data);
      ws.onclose = (event) => this.closed(event);
    }

    /** Adds symbols (and sets the depth for all of them). */
    subscribe(symbols, depth) {
      if (depth) this.depth = depth;
      for (const symbol of symbols) this.symbols.add(symbol);
      this.sendSubscribe(symbols);
    }

    unsubscribe(symbols) {
      for (const symbol of symbols) this.symbols.delete(symbol);
      this.send(this.protocol === "v1"
        ? symbols.map((symbol) => ({ type: "unsubscribe", symbol }))
        : [{ type: "unsubscribe", symbols }]);
    }

    /** Asks for the symbols the gateway serves; the answer comes to onMessage as {type:"symbols"}. */
    listSymbols() {
      if (this.protocol === "v2") this.send([{ type: "list_symbols" }]);
    }

    close() {
      this.stopped = true;
      clearTimeout(this.timer);
      if (this.ws) this.ws.close(1000, "bye");
      this.setState("closed");
    }

    // --- internals ---

    sendSubscribe(symbols) {
      if (!symbols.length) return;
      for (const symbol of symbols) this.snapshotPending.add(symbol);
      this.send(this.protocol === "v1"
        ? symbols.map((symbol) => ({ type: "subscribe", symbol }))
        : [this.subscribeCommand(symbols)]);
    }

    subscribeCommand(symbols) {
      const command = { type: "subscribe", symbols, depth: this.depth, epoch: true };
      if (this.delta) command.delta = true;
      if (this.maxRate) command.max_rate = this.maxRate;
      return command;
    }

    send(commands) {
      if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return;
      for (const command of commands) this.ws.send(JSON.stringify(command));
    }

    receive(text) {
      let message;
      try { message = JSON.parse(text); } catch (error) { return; }
      if (message.type === "reconnect") {
        // The server drains: it will close with 1001 once our queue is flushed.
        this.reconnectNotice = message;
        this.stats.drains += 1;
        this.onMessage(message);
        return;
      }
      if (message.type === "subscribed" && message.epoch) this.enterEpoch(message.epoch, message.symbols);
      if (message.type === "subscribed" && message.unknown) {
        for (const symbol of message.symbols) this.unknown.delete(symbol);
        for (const symbol of message.unknown) this.unknown.add(symbol);
      }
      if (message.type) { this.onMessage(message); return; }
      if (message.symbol === undefined) return;
      this.stats.messages += 1;
      if (message.seq !== undefined && message.depth === undefined) {
        // A delta: it applies only to the state with seq - 1.
        const held = this.books.get(message.symbol);
        if (!held || held.seq + 1 !== message.seq) {
          this.stats.outOfStep += 1;
          this.books.delete(message.symbol);
          this.sendSubscribe([message.symbol]);
          return;
        }
        message = applyDelta(held, message);
        this.stats.deltas += 1;
      }
      if (this.delta && message.depth) this.books.set(message.symbol, message);
      this.unknown.delete(message.symbol);
      let gap = 0;
      if (message.seq !== undefined) {
        const last = this.lastSeq.get(message.symbol);
        if (last !== undefined && message.seq > last + 1) {
          gap = message.seq - last - 1;
          if (this.maxRate) {
            this.stats.capped += gap;  // the server held those back as asked
            gap = 0;
          } else {
            this.stats.gaps += 1;
            this.stats.missed += gap;
          }
        }
        if (this.awaitingContinuity.has(message.symbol)) {
          this.awaitingContinuity.delete(message.symbol);
          this.stats.continuity.push({ symbol: message.symbol, before: last, after: message.seq, continuous: gap === 0 });
        }
        if (last === undefined || message.seq > last) this.lastSeq.set(message.symbol, message.seq);
      }
      // A snapshot carries the time of the symbol's last update, which may be long ago: it says
      // nothing about latency.
      const snapshot = this.snapshotPending.delete(message.symbol);
      if (message.ts && !snapshot) {
        const latency = Date.now() - message.ts / 1000;
        this.stats.latencyMs.push(latency);
        if (this.stats.latencyMs.length > 2000) this.stats.latencyMs.splice(0, 1000);
      }
      this.onUpdate(message, { gap });
    }

    /** A subscribed reply named the epoch: in a new one, what lastSeq holds counts in the old. */
    enterEpoch(epoch, symbols) {
      if (this.epoch !== null && epoch !== this.epoch) {
        for (const symbol of this.lastSeq.keys()) {
          if (this.awaitingContinuity.delete(symbol)) {
            this.stats.continuity.push({ symbol, before: this.lastSeq.get(symbol), after: null, continuous: true, resynced: true });
          }
        }
        this.stats.resyncs += symbols.length;
        this.lastSeq.clear();
        this.books.clear();
      }
      this.epoch = epoch;
    }

    closed(event) {
      if (this.ws && event.target !== this.ws) return;
      this.ws = null;
      if (this.stopped) return;
      let delay;
      if (this.reconnectNotice) {
        // The drain protocol: the server's spread plus our own jitter.
        delay = this.reconnectNotice.retry_after_ms + Math.random() * 250;
      } else if (event.code === 1001) {
        delay = 100 + Math.random() * 900;
      } else {
        this.failures += 1;
        const ceiling = Math.min(8000, 250 * 2 ** (this.failures - 1));
        delay = ceiling / 2 + Math.random() * ceiling / 2;
      }
      this.stats.reconnects += 1;
      for (const symbol of this.symbols) if (this.lastSeq.has(symbol)) this.awaitingContinuity.add(symbol);
      this.setState("reconnecting", `${event.code || "network error"}; again in ${Math.round(delay)} ms`);
      this.timer = setTimeout(() => this.connect(), delay);
    }

    setState(state, detail) {
      this.state = state;
      this.onState(state, detail);
    }
  }

  /**
   * The whole state after a delta (protocols/v2.md, "Delta updates"): scalar fields that came,
   * book changes keyed by price (size 0 removes), each side sorted best first and paired row
   * by row.
   */
  function applyDelta(held, delta) {
    const state = Object.assign({}, held, { seq: delta.seq, ts: delta.ts });
    for (const field of ["last", "bid", "ask"]) if (delta[field] !== undefined) state[field] = delta[field];
    const bids = new Map(held.depth.map((row) => [row[0], row[1]]));
    const asks = new Map(held.depth.map((row) => [row[2], row[3]]));
    for (const [side, changes] of [[bids, delta.bids || []], [asks, delta.asks || []]]) {
      for (const [price, size] of changes) {
        if (size === 0) side.delete(price); else side.set(price, size);
      }
    }
    const bidRows = [...bids].sort((a, b) => b[0] - a[0]);
    const askRows = [...asks].sort((a, b) => a[0] - b[0]);
    state.depth = bidRows.map((bid, i) => [bid[0], bid[1], askRows[i][0], askRows[i][1]]);
    return state;
  }

  /** This browser's id for feature flags, made once and kept; null where storage is unavailable. */
  function storedClientId() {
    try {
      let id = root.localStorage.getItem("tickstream.client");
      if (!id) {
        id = "web-" + Math.random().toString(36).slice(2, 12) + Date.now().toString(36);
        root.localStorage.setItem("tickstream.client", id);
      }
      return id;
    } catch (error) {
      return null;
    }
  }

  /** The p-th percentile (0-100) of numbers. */
  function percentile(values, p) {
    if (!values.length) return null;
    const sorted = [...values].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
  }

  root.Tickstream = { Client, applyDelta, percentile };
})(typeof window !== "undefined" ? window : globalThis);
