// Fakes for the widget's injectable seams: storage, timers, WebSocket.
"use strict";

function memoryStorage(initial = {}) {
  const data = { ...initial };
  return { data, get: (k, d) => (k in data ? JSON.parse(JSON.stringify(data[k])) : d), set: (k, v) => { data[k] = JSON.parse(JSON.stringify(v)); } };
}

/* Manual clock: setTimeout/setInterval only fire from tick(ms). */
function fakeTimers() {
  let now = 0, next = 1;
  const pending = new Map();
  const add = (fn, ms, every) => { const id = next++; pending.set(id, { fn, at: now + ms, every }); return id; };
  const timers = {
    delays: [],
    setTimeout: (fn, ms) => { timers.delays.push(ms); return add(fn, ms, 0); },
    clearTimeout: (id) => pending.delete(id),
    setInterval: (fn, ms) => add(fn, ms, ms),
    clearInterval: (id) => pending.delete(id),
    now: () => now,
    pending: () => pending.size,
    async tick(ms) {
      const end = now + ms;
      for (;;) {
        await flushPromises();
        const due = [...pending.entries()].filter(([, t]) => t.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
        if (!due) break;
        const [id, t] = due;
        now = t.at;
        if (t.every) t.at += t.every; else pending.delete(id);
        t.fn();
        await flushPromises();
      }
      now = end;
      await flushPromises();
    },
  };
  return timers;
}

const flushPromises = async () => { for (let i = 0; i < 20; i++) await Promise.resolve(); };

/* A WebSocket double: the test drives open/message/close; sent frames are recorded. */
function fakeSocketClass() {
  const sockets = [];
  class FakeSocket {
    constructor(url) { this.url = url; this.readyState = 0; this.sent = []; sockets.push(this); }
    send(data) { if (this.readyState !== 1) throw new Error("not open"); this.sent.push(JSON.parse(data)); }
    close(code = 1000) { if (this.readyState === 3) return; this.readyState = 3; this.onclose && this.onclose({ code }); }
    // test controls
    serverOpen() { this.readyState = 1; this.onopen && this.onopen(); }
    serverSays(frame) { this.onmessage && this.onmessage({ data: JSON.stringify(frame) }); }
    serverCloses(code = 1006) { this.close(code); }
  }
  FakeSocket.sockets = sockets;
  return FakeSocket;
}

module.exports = { memoryStorage, fakeTimers, fakeSocketClass, flushPromises };
