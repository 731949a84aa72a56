// Pure rules behind read receipts, the new-message sound, and long-poll catch-up.
const test = require("node:test");
const assert = require("node:assert/strict");
const { WebSocketManager, seenUpTo, shouldChime, STRINGS } = require("../../static/wachat/widget.js");

const agent = (id, status = "sent") => ({ id, sender_type: "agent", status });
const visitor = (id) => ({ id, sender_type: "visitor", status: "sent" });

test("seen reports the newest unread agent message", () => {
  assert.equal(seenUpTo([agent(1), visitor(2), agent(3), visitor(4)]), 3);
});

test("seen reports nothing when every agent message is read or already reported", () => {
  assert.equal(seenUpTo([agent(1, "read"), visitor(2)]), 0);
  assert.equal(seenUpTo([agent(1), agent(3)], 3), 0);
  assert.equal(seenUpTo([agent(1), agent(5)], 3), 5);
  assert.equal(seenUpTo([{ sender_type: "agent", status: "sent" }]), 0);  // not stored yet: no id
});

test("the sound plays only when turned on, after an interaction, with the chat not in view", () => {
  const base = { sound: true, interacted: true, open: false, hidden: false };
  assert.equal(shouldChime(base), true);
  assert.equal(shouldChime({ ...base, open: true, hidden: true }), true);
  assert.equal(shouldChime({ ...base, open: true }), false);
  assert.equal(shouldChime({ ...base, sound: false }), false);
  assert.equal(shouldChime({ ...base, interacted: false }), false);
  assert.equal(shouldChime({ ...base, interacted: undefined }), false);
});

test("a poll answer delivers missed status changes and the conversation's state", () => {
  const frames = [];
  const m = new WebSocketManager({ url: () => "ws://x", WebSocket: function () {}, onFrame: (f) => frames.push(f) });
  m.deliver({ messages: [], events: [], updates: [agent(3, "read")], conversation: { id: "c", status: "closed" } });
  assert.deepEqual(frames, [
    { type: "event", event: "message.updated", message: agent(3, "read") },
    { type: "event", event: "conversation.updated", conversation: { id: "c", status: "closed" } },
  ]);
});

test("every language has the after-close strings", () => {
  for (const key of ["rateTitle", "star", "comment", "rate", "rated", "transcript", "yourEmail", "transcriptSent", "dismiss"]) {
    for (const locale of Object.keys(STRINGS)) assert.ok(STRINGS[locale][key], `${locale}.${key}`);
  }
});
