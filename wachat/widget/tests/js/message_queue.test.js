"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const { MessageQueue } = require("../../static/wachat/widget.js");
const { memoryStorage, fakeTimers, flushPromises } = require("./helpers.js");

function queue(transmit, extra = {}) {
  const timers = fakeTimers();
  const storage = memoryStorage(extra.stored ? { queue: extra.stored } : {});
  const acked = [], rejected = [];
  const q = new MessageQueue({
    transmit, storage, timers, random: () => 1,
    onAck: (item, message) => acked.push([item.client_id, message]),
    onReject: (item, detail) => rejected.push([item.client_id, detail]),
    ...extra.options,
  });
  return { q, timers, storage, acked, rejected };
}

test("each message gets a client id and is stored before it is sent", async () => {
  let seenInStorage = null;
  const { q, storage } = queue(async (item) => { seenInStorage = storage.data.queue.map((m) => m.client_id); return { offline: true }; });
  const a = q.add("hello");
  const b = q.add("again");
  await flushPromises();
  assert.ok(a.client_id && b.client_id && a.client_id !== b.client_id);
  assert.deepEqual(seenInStorage, [a.client_id, b.client_id]);
  assert.deepEqual(storage.data.queue.map((m) => m.text), ["hello", "again"]);
});

test("an acknowledged message leaves the queue and storage", async () => {
  const { q, storage, acked } = queue(async (item) => ({ ok: true, message: { id: 7, client_id: item.client_id } }));
  const item = q.add("hi");
  await flushPromises();
  assert.deepEqual(acked, [[item.client_id, { id: 7, client_id: item.client_id }]]);
  assert.deepEqual(storage.data.queue, []);
});

test("messages are sent one at a time, in the order typed", async () => {
  const sent = [];
  const resolvers = [];
  const { q } = queue((item) => { sent.push(item.text); return new Promise((r) => resolvers.push(r)); });
  q.add("one"); q.add("two"); q.add("three");
  await flushPromises();
  assert.deepEqual(sent, ["one"]);
  resolvers.shift()({ ok: true });
  await flushPromises();
  assert.deepEqual(sent, ["one", "two"]);
  resolvers.shift()({ ok: true });
  await flushPromises();
  resolvers.shift()({ ok: true });
  await flushPromises();
  assert.deepEqual(sent, ["one", "two", "three"]);
  assert.equal(q.items.length, 0);
});

test("while offline nothing is retried on a timer; flush() after reconnect sends the same client id", async () => {
  let online = false;
  const ids = [];
  const { q, timers, acked } = queue(async (item) => { ids.push(item.client_id); return online ? { ok: true } : { offline: true }; });
  const item = q.add("queued");
  await timers.tick(60000);
  assert.equal(ids.length, 1);  // one look, then it waits for a transport
  assert.equal(timers.pending(), 0);
  online = true;
  await q.flush();
  assert.deepEqual(ids, [item.client_id, item.client_id]);
  assert.equal(acked.length, 1);
});

test("network errors retry with exponential backoff and the same client id", async () => {
  let calls = 0;
  const ids = new Set();
  const { q, timers, acked } = queue(async (item) => { calls++; ids.add(item.client_id); return calls < 4 ? {} : { ok: true }; });
  q.add("flaky");
  await flushPromises();
  assert.equal(calls, 1);
  await timers.tick(1000);
  assert.equal(calls, 2);
  await timers.tick(1999);
  assert.equal(calls, 2);  // second delay is 2 s, not yet
  await timers.tick(1);
  assert.equal(calls, 3);
  await timers.tick(4000);
  assert.equal(calls, 4);
  assert.deepEqual(timers.delays, [1000, 2000, 4000]);
  assert.equal(ids.size, 1);
  assert.equal(acked.length, 1);
});

test("backoff has jitter and a ceiling", async () => {
  const randoms = [0, 0.5, 1, 0, 0, 0, 0, 0, 0, 0];
  const { q, timers } = queue(async () => ({}), { options: { random: () => randoms.shift() ?? 0, maxDelay: 4000, maxAttempts: 99 } });
  q.add("x");
  await flushPromises();
  for (let i = 0; i < 6; i++) await timers.tick(5000);
  // base 1000, 2000, 4000, 4000... times 0.5 + random/2
  assert.deepEqual(timers.delays.slice(0, 5), [500, 1500, 4000, 2000, 2000]);
});

test("a rate limit waits for the time the server asked", async () => {
  let calls = 0;
  const { q, timers } = queue(async () => (++calls === 1 ? { retryAfter: 7000 } : { ok: true }));
  q.add("slow down");
  await flushPromises();
  assert.deepEqual(timers.delays, [7000]);
  await timers.tick(6999);
  assert.equal(calls, 1);
  await timers.tick(1);
  assert.equal(calls, 2);
  assert.equal(q.items.length, 0);
});

test("a message the server rejects is reported and dropped, and the next one still goes", async () => {
  const { q, rejected, acked } = queue(async (item) => (item.text === "bad" ? { error: "Message is empty." } : { ok: true }));
  const bad = q.add("bad");
  q.add("good");
  await flushPromises();
  assert.deepEqual(rejected, [[bad.client_id, "Message is empty."]]);
  assert.equal(acked.length, 1);
  assert.equal(q.items.length, 0);
});

test("after too many failed attempts the message is marked failed; readd() retries it", async () => {
  let works = false;
  const { q, timers, rejected, acked } = queue(async () => (works ? { ok: true } : {}), { options: { maxAttempts: 3 } });
  const item = q.add("doomed");
  await timers.tick(100000);
  assert.deepEqual(rejected, [[item.client_id, null]]);
  assert.equal(q.items.length, 0);
  works = true;
  q.readd(item);
  await flushPromises();
  assert.deepEqual(acked.map(([id]) => id), [item.client_id]);
});

test("messages stored by a previous page load are sent", async () => {
  const sent = [];
  const { q } = queue(async (item) => { sent.push(item.text); return { ok: true }; }, { stored: [{ client_id: "c1", text: "from before", attempts: 0 }] });
  await q.flush();
  assert.deepEqual(sent, ["from before"]);
});

test("a transmit that throws counts as a network error, not a crash", async () => {
  let calls = 0;
  const { q, timers, acked } = queue(async () => { if (++calls === 1) throw new Error("boom"); return { ok: true }; });
  q.add("x");
  await flushPromises();
  await timers.tick(1000);
  assert.equal(acked.length, 1);
});
