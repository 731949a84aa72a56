/* WaChat widget: one script tag, a WhatsApp-style chat popup in a Shadow DOM.
 *   <script async src="https://chat.example.com/static/wachat/widget.js"></script>
 * Three parts, as in the design: MessageQueue (nothing typed is lost), WebSocketManager
 * (reconnects and resumes), WhatsAppChatWidget (the popup). One global: window.WaChat. */
(() => {
  "use strict";
  if (window.WaChat) return;
  const script = document.currentScript;
  const SERVER = (script && script.dataset.server) || (script ? new URL(script.src).origin : location.origin);
  const STORE = "wachat:";
  const store = {
    get: (k, d) => { try { return JSON.parse(localStorage.getItem(STORE + k)) ?? d; } catch (e) { return d; } },
    set: (k, v) => { try { localStorage.setItem(STORE + k, JSON.stringify(v)); } catch (e) { /* private mode */ } },
  };
  const newId = () => (crypto.randomUUID ? crypto.randomUUID() : Date.now().toString(36) + Math.random().toString(36).slice(2));

  /* Messages typed but not yet acknowledged by the server, kept in localStorage so a
   * reload or a dropped connection loses nothing. The server deduplicates on client_id,
   * so sending one twice is harmless. */
  class MessageQueue {
    constructor(send) { this.send = send; this.items = store.get("queue", []); this.timer = null; this.attempt = 0; }
    add(message) { this.items.push(message); this.save(); this.process(); }
    remove(clientId) { this.items = this.items.filter((m) => m.client_id !== clientId); this.save(); }
    clear() { this.items = []; this.save(); }
    save() { store.set("queue", this.items); }
    process() { for (const m of this.items) this.send(m); }
    retry() {
      clearTimeout(this.timer);
      if (!this.items.length) { this.attempt = 0; return; }
      const delay = Math.min(30000, 1000 * 2 ** this.attempt++) * (0.5 + Math.random() / 2);
      this.timer = setTimeout(() => { this.process(); this.retry(); }, delay);
    }
  }

  /* One WebSocket with reconnect (exponential backoff, jitter) and a heartbeat. */
  class WebSocketManager {
    constructor(url) { this.url = url; this.ws = null; this.attempt = 0; this.handlers = []; this.statusHandlers = []; this.closed = false; }
    connect() {
      this.closed = false;
      const ws = new WebSocket(this.url());
      this.ws = ws;
      ws.onopen = () => { this.attempt = 0; this.status("online"); this.beat(); };
      ws.onmessage = (e) => { this.lastSeen = Date.now(); let data; try { data = JSON.parse(e.data); } catch (err) { return; } this.handlers.forEach((h) => h(data)); };
      ws.onclose = () => { clearInterval(this.heart); this.status("offline"); if (!this.closed) this.reconnect(); };
    }
    reconnect() {
      const delay = Math.min(30000, 500 * 2 ** this.attempt++) * (0.5 + Math.random() / 2);
      setTimeout(() => this.connect(), delay);
    }
    beat() {
      this.lastSeen = Date.now();
      clearInterval(this.heart);
      this.heart = setInterval(() => {
        if (Date.now() - this.lastSeen > 45000) { this.ws.close(); return; }  // dead connection
        this.send({ type: "ping" });
      }, 20000);
    }
    disconnect() { this.closed = true; if (this.ws) this.ws.close(); }
    get open() { return this.ws && this.ws.readyState === WebSocket.OPEN; }
    send(data) { if (this.open) { this.ws.send(JSON.stringify(data)); return true; } return false; }
    onMessage(fn) { this.handlers.push(fn); }
    onStatusChange(fn) { this.statusHandlers.push(fn); }
    status(s) { this.statusHandlers.forEach((h) => h(s)); }
  }

  const CSS = `
    :host { all: initial; }
    * { box-sizing: border-box; font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
    .launcher { position: fixed; right: 20px; bottom: 20px; width: 60px; height: 60px; border-radius: 50%; border: 0; background: #25d366; color: #fff; cursor: pointer; box-shadow: 0 4px 12px rgba(0,0,0,.25); font-size: 28px; z-index: 2147483000; }
    .badge { position: absolute; top: -4px; right: -4px; background: #e53935; color: #fff; border-radius: 10px; min-width: 20px; padding: 1px 5px; font-size: 12px; }
    .badge[hidden] { display: none; }
    .panel { position: fixed; right: 20px; bottom: 92px; width: 360px; height: 520px; max-height: calc(100vh - 110px); background: #efeae2; border-radius: 12px; box-shadow: 0 8px 28px rgba(0,0,0,.3); display: flex; flex-direction: column; overflow: hidden; z-index: 2147483000; }
    .panel[hidden] { display: none; }
    header { background: #075e54; color: #fff; padding: 12px 14px; display: flex; align-items: center; gap: 10px; }
    header h2 { font-size: 16px; margin: 0; flex: 1; }
    header small { display: block; font-size: 12px; opacity: .85; font-weight: normal; }
    header button { background: none; border: 0; color: #fff; font-size: 20px; cursor: pointer; }
    .log { flex: 1; overflow-y: auto; padding: 12px; display: flex; flex-direction: column; gap: 6px; }
    .msg { max-width: 80%; padding: 6px 9px 4px; border-radius: 8px; font-size: 14px; line-height: 1.35; white-space: pre-wrap; word-wrap: break-word; box-shadow: 0 1px 1px rgba(0,0,0,.12); color: #111b21; }
    .visitor { align-self: flex-end; background: #d9fdd3; }
    .agent { align-self: flex-start; background: #fff; }
    .system { align-self: center; background: #fff3c4; font-size: 12px; }
    .meta { font-size: 11px; color: #54656f; text-align: right; margin-top: 2px; }
    .tick.read { color: #027eb5; }
    .failed { color: #c62828; cursor: pointer; }
    form { display: flex; gap: 6px; padding: 8px; background: #f0f2f5; }
    textarea { flex: 1; resize: none; border: 0; border-radius: 18px; padding: 9px 12px; font-size: 14px; height: 38px; }
    form button { border: 0; border-radius: 50%; width: 38px; height: 38px; background: #075e54; color: #fff; cursor: pointer; }
    .notice { font-size: 12px; text-align: center; padding: 4px; background: #fff3c4; color: #5d4200; }
    .notice:empty { display: none; }
    @media (max-width: 480px) { .panel { right: 0; bottom: 0; width: 100vw; height: 100vh; max-height: none; border-radius: 0; } }
    @media (prefers-reduced-motion: no-preference) { .panel { transition: opacity .15s; } }
  `;

  class WhatsAppChatWidget {
    constructor(config) {
      this.config = { title: "Chat with us", ...config };
      this.messages = new Map();  // id or client_id -> message
      this.lastId = 0;
      this.unread = 0;
      this.listeners = {};
    }

    async init() {
      this.render();
      this.queue = new MessageQueue((m) => this.transmit(m));
      this.socket = new WebSocketManager(() => `${SERVER.replace(/^http/, "ws")}/ws/widget/?token=${encodeURIComponent(this.token)}`);
      this.socket.onMessage((frame) => this.onFrame(frame));
      this.socket.onStatusChange((s) => this.updateConnectionStatus(s));
      for (const m of this.queue.items) this.receiveMessage({ ...m, status: "pending", sender_type: "visitor" });
      await this.startSession();
      this.socket.connect();
    }

    async startSession() {
      const params = new URLSearchParams(location.search);
      const res = await fetch(`${SERVER}/api/widget/session`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({
          token: store.get("token", null), referrer: document.referrer || null,
          utm_source: params.get("utm_source"), utm_medium: params.get("utm_medium"), utm_campaign: params.get("utm_campaign"),
        }),
      });
      const data = await res.json();
      this.token = data.token;
      store.set("token", data.token);
    }

    render() {
      const host = document.createElement("div");
      host.id = "wachat-widget";
      const root = host.attachShadow({ mode: "open" });
      root.innerHTML = `<style>${CSS}</style>
        <button class="launcher" type="button" aria-label="Open chat" aria-expanded="false">💬<span class="badge" hidden></span></button>
        <section class="panel" role="dialog" aria-label="Chat" hidden>
          <header><h2><span class="title"></span><small class="state">connecting…</small></h2>
            <button type="button" class="close" aria-label="Close chat">×</button></header>
          <div class="notice" role="status"></div>
          <div class="log" role="log" aria-live="polite"></div>
          <form><label hidden for="wachat-text">Message</label>
            <textarea id="wachat-text" maxlength="4096" placeholder="Type a message" aria-label="Message"></textarea>
            <button type="submit" aria-label="Send">➤</button></form>
        </section>`;
      this.el = (sel) => root.querySelector(sel);
      this.el(".title").textContent = this.config.title;
      this.el(".launcher").onclick = () => this.toggle();
      this.el(".close").onclick = () => this.closeChat();
      this.el("form").onsubmit = (e) => { e.preventDefault(); this.sendMessage(this.el("textarea").value); };
      this.el("textarea").onkeydown = (e) => { if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); this.sendMessage(e.target.value); } };
      document.body.appendChild(host);
    }

    toggle() { this.el(".panel").hidden ? this.openChat() : this.closeChat(); }
    openChat() {
      this.el(".panel").hidden = false;
      this.el(".launcher").setAttribute("aria-expanded", "true");
      this.setUnread(0);
      this.el("textarea").focus();
      this.emit("open");
    }
    closeChat() {
      this.el(".panel").hidden = true;
      this.el(".launcher").setAttribute("aria-expanded", "false");
      this.el(".launcher").focus();
      this.emit("close");
    }
    setUnread(n) {
      this.unread = n;
      const badge = this.el(".badge");
      badge.hidden = !n;
      badge.textContent = String(n);
      this.emit("unread", n);
    }

    sendMessage(text) {
      text = text.trim();
      if (!text) return;
      if (text.length > 4096) { this.notice("Message is too long (4096 characters at most)."); return; }
      this.el("textarea").value = "";
      const message = { client_id: newId(), text, content: text, sender_type: "visitor", status: "pending", created_at: new Date().toISOString() };
      this.receiveMessage(message);
      this.queue.add({ client_id: message.client_id, text, created_at: message.created_at });
    }

    transmit(m) {
      if (this.socket.send({ type: "message", client_id: m.client_id, text: m.text })) return;
      if (!this.token) return;
      // No WebSocket: the same call over HTTP.
      fetch(`${SERVER}/api/widget/messages`, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-WaChat-Token": this.token },
        body: JSON.stringify({ client_id: m.client_id, text: m.text }),
      }).then(async (res) => {
        const data = await res.json();
        if (res.ok) this.acknowledge(m.client_id, data);
        else if (res.status < 500) this.reject(m.client_id, data.detail);
      }).catch(() => this.queue.retry());
    }

    acknowledge(clientId, message) { this.queue.remove(clientId); this.receiveMessage(message); }
    reject(clientId, detail) {
      this.queue.remove(clientId);
      const m = this.messages.get(clientId);
      if (m) this.receiveMessage({ ...m, status: "failed", error: { reason: detail } });
      this.notice(detail);
    }

    onFrame(frame) {
      if (frame.type === "history") { frame.messages.forEach((m) => this.receiveMessage(m)); this.queue.process(); }
      else if (frame.type === "ack") this.acknowledge(frame.client_id, frame.message);
      else if (frame.type === "error" && frame.client_id) this.reject(frame.client_id, frame.detail);
      else if (frame.type === "event" && frame.message) this.receiveMessage(frame.message, frame.event === "message.created");
    }

    receiveMessage(message, isNew = false) {
      const key = message.client_id || String(message.id);
      const known = this.messages.get(key) || (message.id && this.messages.get(String(message.id)));
      const merged = { ...(known || {}), ...message };
      this.messages.set(key, merged);
      if (message.id) { this.messages.set(String(message.id), merged); this.lastId = Math.max(this.lastId, message.id); }
      this.draw(merged, known);
      if (isNew && !known && message.sender_type !== "visitor") {
        if (this.el(".panel").hidden) this.setUnread(this.unread + 1);
        this.emit("message", message);
      }
    }

    draw(m, known) {
      const log = this.el(".log");
      let node = known && known.node;
      if (!node) {
        node = document.createElement("div");
        const body = document.createElement("div");
        body.className = "body";
        const meta = document.createElement("div");
        meta.className = "meta";
        node.append(body, meta);
        log.append(node);
      }
      m.node = node;
      node.className = "msg " + m.sender_type;
      node.dataset.status = m.status;
      node.querySelector(".body").textContent = m.content || m.text || "";
      const time = new Date(m.created_at || Date.now()).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
      const meta = node.querySelector(".meta");
      meta.textContent = time + " ";
      if (m.sender_type === "visitor") {
        const tick = document.createElement("span");
        const marks = { pending: "🕓", sent: "✓", delivered: "✓✓", read: "✓✓", failed: "⚠ tap to retry" };
        tick.className = "tick " + m.status + (m.status === "failed" ? " failed" : "");
        tick.textContent = marks[m.status] || "";
        tick.setAttribute("aria-label", m.status);
        meta.append(tick);
      }
      log.scrollTop = log.scrollHeight;
    }

    updateConnectionStatus(status) {
      this.el(".state").textContent = status === "online" ? "online" : "offline: messages will be sent when you are back";
      if (status === "online") this.socket.send({ type: "resume", after: this.lastId });
      else this.queue.retry();
    }

    notice(text) { this.el(".notice").textContent = text; setTimeout(() => { this.el(".notice").textContent = ""; }, 6000); }
    on(name, fn) { (this.listeners[name] = this.listeners[name] || []).push(fn); }
    emit(name, arg) { (this.listeners[name] || []).forEach((fn) => fn(arg)); }
  }

  const widget = new WhatsAppChatWidget(script && script.dataset.title ? { title: script.dataset.title } : {});
  window.WaChat = {
    open: () => widget.openChat(), close: () => widget.closeChat(), toggle: () => widget.toggle(),
    on: (name, fn) => widget.on(name, fn),
  };
  const start = () => widget.init().catch((e) => console.error("WaChat:", e));
  document.readyState === "loading" ? document.addEventListener("DOMContentLoaded", start) : start();
})();
