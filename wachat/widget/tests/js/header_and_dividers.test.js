// What the header says (away, queue, ended) and where a "New conversation" divider goes.
const test = require("node:test");
const assert = require("node:assert/strict");
const { headerLine, newConversations, STRINGS } = require("../../static/wachat/widget.js");

const waiting = { id: "c1", status: "waiting", agent_name: null, offline: false };
const wait = { position: 4, minutes: null };

test("with the offline form the header says the team is away, not online", () => {
  assert.deepEqual(headerLine({ status: "online", conversation: null, away: true }), ["away"]);
  assert.deepEqual(headerLine({ status: "connecting", conversation: null, away: true }), ["away"]);
  assert.deepEqual(headerLine({ status: "online", conversation: null, away: false }), ["online"]);
});

test("a conversation left with the offline form shows no place in the queue", () => {
  const left = { ...waiting, offline: true };
  assert.deepEqual(headerLine({ status: "online", conversation: left, wait, away: false }), ["away"]);
  assert.deepEqual(headerLine({ status: "online", conversation: waiting, wait, away: false }), ["queue", wait]);
});

test("once an agent takes it, the header names the agent even if the team was away", () => {
  const taken = { ...waiting, status: "open", agent_name: "Alice", offline: true };
  assert.deepEqual(headerLine({ status: "online", conversation: taken, away: true }), ["agentOnline", { name: "Alice" }]);
});

test("a closed conversation has ended, whoever answered it", () => {
  const closed = { ...waiting, status: "closed", agent_name: "Alice" };
  assert.deepEqual(headerLine({ status: "online", conversation: closed }), ["ended"]);
  assert.deepEqual(headerLine({ status: "online", conversation: closed, away: true }), ["ended"]);
});

test("losing the network is said first", () => {
  assert.deepEqual(headerLine({ status: "offline", conversation: { ...waiting, status: "closed" }, away: true }), ["offline"]);
});

test("a divider goes where the conversation changes", () => {
  const order = [{ conversation_id: "a" }, { conversation_id: "a" }, { conversation_id: "b" }, { conversation_id: "b" }];
  assert.deepEqual(newConversations(order, { id: "b", status: "open" }), [false, false, true, false]);
});

test("a message written after the close starts a new conversation before it is stored", () => {
  const order = [{ conversation_id: "a" }, { client_id: "x" }];
  assert.deepEqual(newConversations(order, { id: "a", status: "closed" }), [false, true]);
  assert.deepEqual(newConversations(order, { id: "a", status: "open" }), [false, false]);
  assert.deepEqual(newConversations([{ client_id: "x" }], null), [false]);
});

test("every language has the header and divider strings", () => {
  for (const key of ["away", "ended", "newChat", "open", "close"]) {
    for (const locale of Object.keys(STRINGS)) assert.ok(STRINGS[locale][key], `${locale}.${key}`);
  }
});
