"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const { WebSocketManager } = require("../../static/wachat/widget.js");
const { fakeTimers, fakeSocketClass, flushPromises } = require("./helpers.js");

function manager(extra = {}) {
  const timers = fakeTimers();
  const WS = fakeSocketClass();
  const frames = [], statuses = [], closes = [];
  let lastId = extra.lastId ?? 0;
  const m = new WebSocketManager({
    url: () => "ws://test/ws/widget/?token=t", WebSocket: WS, timers, now: timers.now, random: () => 1,
    lastId: () => lastId, onFrame: (f) => frames.push(f), onStatus: (s, mode) => statuses.push(`${s}/${mode}`),
    onClose: (code) => closes.push(code), ...extra.options,
  });
  return { m, WS, timers, frames, statuses, closes, setLastId: (v) => { lastId = v; } };
}

test("on open it resumes from the last message id seen", () => {
  const { m, WS } = manager({ lastId: 41 });
  m.connect();
  WS.sockets[0].serverOpen();
  assert.deepEqual(WS.sockets[0].sent, [{ type: "resume", after: 41 }]);
});

test("it reports online on the first frame and passes frames on", () => {
  const { m, WS, frames, statuses } = manager();
  m.connect();
  WS.sockets[0].serverOpen();
  WS.sockets[0].serverSays({ type: "history", messages: [] });
  assert.deepEqual(frames, [{ type: "history", messages: [] }]);
  assert.deepEqual(statuses, ["online/ws"]);
  assert.equal(m.open, true);
});

test("ignores frames that are not JSON", () => {
  const { m, WS, frames } = manager();
  m.connect();
  WS.sockets[0].serverOpen();
  WS.sockets[0].onmessage({ data: "not json" });
  assert.deepEqual(frames, []);
});

test("reconnects with exponential backoff after drops, and resumes from the newest id", async () => {
  const { m, WS, timers, statuses, setLastId } = manager({ options: { fallbackAfter: 99 } });
  m.connect();
  WS.sockets[0].serverOpen();
  WS.sockets[0].serverSays({ type: "history", messages: [] });
  setLastId(99);
  WS.sockets[0].serverCloses();
  assert.deepEqual(statuses, ["online/ws", "offline/ws"]);
  await timers.tick(500);
  assert.equal(WS.sockets.length, 2);
  WS.sockets[1].serverCloses();  // server still down
  await timers.tick(999);
  assert.equal(WS.sockets.length, 2);
  await timers.tick(1);
  assert.equal(WS.sockets.length, 3);
  WS.sockets[2].serverOpen();
  assert.deepEqual(WS.sockets[2].sent, [{ type: "resume", after: 99 }]);
  WS.sockets[2].serverSays({ type: "history", messages: [] });
  assert.equal(statuses.at(-1), "online/ws");
  // a successful connection resets the backoff
  WS.sockets[2].serverCloses();
  await timers.tick(500);
  assert.equal(WS.sockets.length, 4);
});

test("backoff is jittered and capped", async () => {
  const randoms = [0, 1, 0.5];
  const { m, WS, timers } = manager({ options: { random: () => randoms.shift() ?? 1, maxDelay: 2000, fallbackAfter: 99 } });
  m.connect();
  for (let i = 0; i < 5; i++) { WS.sockets.at(-1).serverCloses(); await timers.tick(3000); }
  assert.deepEqual(timers.delays.slice(0, 5), [250, 1000, 1500, 2000, 2000]);
});

test("heartbeat pings, and a silent connection is closed and replaced", async () => {
  const { m, WS, timers } = manager({ options: { heartbeat: 20000, deadAfter: 45000, fallbackAfter: 99 } });
  m.connect();
  const ws = WS.sockets[0];
  ws.serverOpen();
  ws.serverSays({ type: "history", messages: [] });
  await timers.tick(20000);
  assert.deepEqual(ws.sent.at(-1), { type: "ping" });
  ws.serverSays({ type: "pong" });
  await timers.tick(40000);
  assert.equal(ws.readyState, 1);  // answered recently enough
  await timers.tick(20000);  // 60 s without a frame: dead
  assert.equal(ws.readyState, 3);
  await timers.tick(1000);
  assert.equal(WS.sockets.length, 2);
});

test("close codes 4401 (bad token) and 4403 (origin refused) are reported; 4403 stops", async () => {
  const { m, WS, timers, closes } = manager();
  m.connect();
  WS.sockets[0].serverCloses(4401);
  await timers.tick(1000);
  assert.equal(WS.sockets.length, 2);
  WS.sockets[1].serverCloses(4403);
  await timers.tick(60000);
  assert.deepEqual(closes, [4401, 4403]);
  assert.equal(WS.sockets.length, 2);
});

test("blocked WebSockets with working HTTP switch to long-polling", async () => {
  const polls = [];
  let answer = { messages: [{ id: 5 }], events: [] };
  const waiters = [];
  const poll = (after, wait) => { polls.push([after, wait]); if (wait === 0) return Promise.resolve(answer); return new Promise((r) => waiters.push(r)); };
  const { m, WS, timers, frames, statuses, setLastId } = manager({ lastId: 3, options: { poll, fallbackAfter: 2 } });
  m.connect();
  WS.sockets[0].serverOpen();
  WS.sockets[0].serverCloses();  // a proxy let the upgrade through, then cut it: no frame
  await timers.tick(500);
  WS.sockets[1].serverCloses();
  await flushPromises();
  assert.equal(m.mode, "http");
  assert.deepEqual(polls[0], [3, 0]);
  assert.deepEqual(frames[0], { type: "history", messages: [{ id: 5 }] });
  assert.deepEqual(statuses, ["offline/ws", "online/http"]);
  setLastId(5);
  assert.deepEqual(polls[1], [3, undefined]);
  waiters.shift()({ messages: [], events: [{ event: "typing", sender_type: "agent" }] });
  await flushPromises();
  assert.deepEqual(frames.at(-1), { type: "event", event: "typing", sender_type: "agent" });
  assert.deepEqual(polls[2], [5, undefined]);  // polls again from the newest id
  assert.equal(m.send({ type: "ping" }), false);  // no socket to write to in HTTP mode
});

test("when HTTP fails too (server down), it keeps trying WebSockets", async () => {
  const poll = () => Promise.reject(new Error("down"));
  const { m, WS, timers } = manager({ options: { poll, fallbackAfter: 2 } });
  m.connect();
  WS.sockets[0].serverCloses();
  await timers.tick(500);
  WS.sockets[1].serverCloses();
  await flushPromises();
  assert.equal(m.mode, "ws");
  await timers.tick(2000);
  assert.equal(WS.sockets.length, 3);
});

test("failures while the browser is offline do not count towards the HTTP fallback", async () => {
  let polled = false;
  const { m, WS, timers } = manager({ options: { poll: async () => { polled = true; return {}; }, fallbackAfter: 2, isOnline: () => false } });
  m.connect();
  for (let i = 0; i < 4; i++) { WS.sockets.at(-1).serverCloses(); await timers.tick(30000); }
  assert.equal(polled, false);
  assert.equal(m.mode, "ws");
});

test("in HTTP mode it probes WebSockets and goes back to them when they work", async () => {
  const waiters = [];
  const poll = (after, wait) => (wait === 0 ? Promise.resolve({}) : new Promise((r) => waiters.push(r)));
  const { m, WS, timers } = manager({ options: { poll, fallbackAfter: 1, probeEvery: 60000 } });
  m.connect();
  WS.sockets[0].serverCloses();
  await flushPromises();
  assert.equal(m.mode, "http");
  await timers.tick(61000);
  waiters.shift()({ messages: [] });
  await flushPromises();
  const probe = WS.sockets.at(-1);
  assert.equal(WS.sockets.length, 2);
  probe.serverOpen();
  assert.deepEqual(probe.sent, [{ type: "ping" }]);
  probe.serverSays({ type: "pong" });
  assert.equal(m.mode, "ws");
  assert.equal(m.open, true);
  assert.deepEqual(probe.sent.at(-1), { type: "resume", after: 0 });
});

test("disconnect() stops reconnecting", async () => {
  const { m, WS, timers } = manager();
  m.connect();
  m.disconnect();
  await timers.tick(60000);
  assert.equal(WS.sockets.length, 1);
});

test("resume sends back the cursor of the newest change seen, from answers and events", async () => {
  const { m, WS, timers, setLastId } = manager({ options: { fallbackAfter: 99 } });
  m.connect();
  WS.sockets[0].serverOpen();
  assert.deepEqual(WS.sockets[0].sent, [{ type: "resume", after: 0 }]);  // nothing seen yet
  WS.sockets[0].serverSays({ type: "history", messages: [], cursor: "2026-01-01T10:00:00+00:00" });
  const message = (id, updated_at) => ({ id, status: "read", updated_at });
  WS.sockets[0].serverSays({ type: "event", event: "message.updated", message: message(7, "2026-01-01T10:00:05.250000+00:00") });
  // An older change arriving late does not move the cursor back.
  WS.sockets[0].serverSays({ type: "event", event: "message.created", message: message(8, "2026-01-01T10:00:04+00:00") });
  setLastId(8);
  WS.sockets[0].serverCloses();
  await timers.tick(500);
  WS.sockets[1].serverOpen();
  assert.deepEqual(WS.sockets[1].sent, [{ type: "resume", after: 8, since: "2026-01-01T10:00:05.250000+00:00" }]);
  WS.sockets[1].serverSays({ type: "history", messages: [], cursor: "2026-01-01T10:09:00+00:00" });
  assert.equal(m.cursor, "2026-01-01T10:09:00+00:00");
});

test("a resume answer passes on new messages, then missed changes and the conversation's state", () => {
  const { m, WS, frames } = manager({ lastId: 3 });
  m.connect();
  WS.sockets[0].serverOpen();
  const conversation = { id: "c", status: "closed" };
  WS.sockets[0].serverSays({ type: "history", messages: [{ id: 4 }], updates: [{ id: 3, status: "read" }], conversation, cursor: "2026-01-01T10:00:00+00:00" });
  assert.deepEqual(frames, [
    { type: "history", messages: [{ id: 4 }] },
    { type: "event", event: "message.updated", message: { id: 3, status: "read" } },
    { type: "event", event: "conversation.updated", conversation },
  ]);
});

test("long-polls send back the cursor of the previous answer", async () => {
  const polls = [];
  const waiters = [];
  const poll = (after, wait, since) => {
    polls.push([after, wait, since]);
    return wait === 0 ? Promise.resolve({ messages: [], cursor: "2026-01-01T10:00:00+00:00" }) : new Promise((r) => waiters.push(r));
  };
  const { m, WS } = manager({ options: { poll, fallbackAfter: 1 } });
  m.connect();
  WS.sockets[0].serverCloses();
  await flushPromises();
  assert.equal(m.mode, "http");
  assert.deepEqual(polls, [[0, 0, null], [0, undefined, "2026-01-01T10:00:00+00:00"]]);
  waiters.shift()({ messages: [], events: [], cursor: "2026-01-01T10:01:00+00:00" });
  await flushPromises();
  assert.deepEqual(polls[2], [0, undefined, "2026-01-01T10:01:00+00:00"]);
  m.disconnect();
});
