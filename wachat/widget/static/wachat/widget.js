/* WaChat widget: one script tag, a WhatsApp-style chat popup in a Shadow DOM.
 *   <script async src="https://chat.example.com/static/wachat/widget.js"></script>
 * Three parts, as in the design: MessageQueue (nothing typed is lost), WebSocketManager
 * (reconnects, resumes, falls back to HTTP long-poll), WhatsAppChatWidget (the popup).
 * One global: window.WaChat. Under node (no window) the first two are exported for the
 * unit tests in wachat/widget/tests/js/. Vanilla ES2020, no build step. */
(() => {
  "use strict";

  /* Every visible string, per language. Another language is one more object here. */
  const STRINGS = {
    en: {
      chatWithUs: "Chat with us", greeting: "Hi! How can we help you today?", open: "Open chat", close: "Close chat", chat: "Chat", message: "Message", send: "Send",
      placeholder: "Type a message", online: "online", connecting: "connecting…",
      offline: "You are offline: messages will be sent when you are back.",
      typing: "typing…", retry: "Not sent. Tap to retry",
      pending: "sending", sent: "sent", delivered: "delivered", read: "read",
      tooLong: "Message is too long ({n} characters at most).", today: "Today",
      yesterday: "Yesterday", unread: "{n} unread messages", newMessage: "New message",
      whatsapp: "Continue on WhatsApp", name: "Your name", email: "E-mail (optional)",
      phone: "Phone (optional)", consent: "You may contact me by e-mail or phone",
      start: "Start chat", prechat: "Tell us who you are, then write your message.",
      offlineTitle: "We are away right now", offlineText: "Leave a message and your e-mail: we will answer as soon as we are back.",
      emailRequired: "E-mail", leave: "Send message", thanks: "Thanks! We will get back to you by e-mail.",
      closed: "This conversation was closed. Write again to start a new one.",
      rateTitle: "How was your conversation?", star: "{n} of 5 stars", comment: "Comment (optional)", rate: "Send rating",
      rated: "Thank you for your feedback!", transcript: "E-mail me the transcript", yourEmail: "Your e-mail",
      transcriptSent: "The transcript is on its way to {email}.", dismiss: "Dismiss",
      blocked: "This website may not use the chat.", older: "Loading earlier messages…",
      agentOnline: "{name} is here to help", away: "Away · we reply by e-mail", ended: "Conversation ended", newChat: "New conversation", error: "Something went wrong. Please try again.",
      queue: "You are {n} in line · {t}", aboutMin: "about {n} min", fewMin: "a few minutes", overHour: "more than an hour",
      attach: "Attach a file", fileType: "Send a JPEG or PNG image, a PDF, a Word, Excel or PowerPoint file, or text.",
      fileSize: "The file is too large ({n} MB at most).", image: "Image",
    },
    ar: {
      chatWithUs: "تحدث معنا", greeting: "مرحبًا! كيف يمكننا مساعدتك اليوم؟", open: "افتح الدردشة", close: "أغلق الدردشة", chat: "دردشة", message: "رسالة", send: "إرسال",
      placeholder: "اكتب رسالة", online: "متصل", connecting: "جارٍ الاتصال…",
      offline: "أنت غير متصل: سترسل الرسائل عند عودتك.",
      typing: "يكتب…", retry: "لم تُرسل. اضغط لإعادة المحاولة",
      pending: "جارٍ الإرسال", sent: "أُرسلت", delivered: "وصلت", read: "قُرئت",
      tooLong: "الرسالة طويلة جدًا (الحد الأقصى {n} حرفًا).", today: "اليوم",
      yesterday: "أمس", unread: "{n} رسائل غير مقروءة", newMessage: "رسالة جديدة",
      whatsapp: "تابع على واتساب", name: "اسمك", email: "البريد الإلكتروني (اختياري)",
      phone: "الهاتف (اختياري)", consent: "أوافق على التواصل معي بالبريد أو الهاتف",
      start: "ابدأ الدردشة", prechat: "عرّفنا بنفسك ثم اكتب رسالتك.",
      offlineTitle: "نحن غير متاحين الآن", offlineText: "اترك رسالة وبريدك الإلكتروني وسنرد عند عودتنا.",
      emailRequired: "البريد الإلكتروني", leave: "أرسل الرسالة", thanks: "شكرًا! سنرد عليك بالبريد الإلكتروني.",
      closed: "أُغلقت هذه المحادثة. اكتب مجددًا لبدء محادثة جديدة.",
      rateTitle: "كيف كانت محادثتك؟", star: "{n} من 5 نجوم", comment: "تعليق (اختياري)", rate: "أرسل التقييم",
      rated: "شكرًا على رأيك!", transcript: "أرسل لي نص المحادثة بالبريد", yourEmail: "بريدك الإلكتروني",
      transcriptSent: "نص المحادثة في طريقه إلى {email}.", dismiss: "إغلاق",
      blocked: "لا يُسمح لهذا الموقع باستخدام الدردشة.", older: "جارٍ تحميل الرسائل السابقة…",
      agentOnline: "{name} هنا للمساعدة", away: "غير متاحين · نرد بالبريد الإلكتروني", ended: "انتهت المحادثة", newChat: "محادثة جديدة", error: "حدث خطأ. حاول مرة أخرى.",
      queue: "ترتيبك {n} في الانتظار · {t}", aboutMin: "حوالي {n} دقيقة", fewMin: "بضع دقائق", overHour: "أكثر من ساعة",
      attach: "إرفاق ملف", fileType: "أرسل صورة JPEG أو PNG، أو ملف PDF أو Word أو Excel أو PowerPoint، أو نصًا.",
      fileSize: "الملف كبير جدًا (الحد الأقصى {n} ميغابايت).", image: "صورة",
    },
  };
  const RTL = new Set(["ar"]);

  const jitter = (ms, random) => Math.round(ms * (0.5 + random() / 2));
  /* The highest id of agent messages not yet read, above `sent` (0: nothing to report). */
  const seenUpTo = (messages, sent = 0) => {
    let up = 0;
    for (const m of messages) if (m.id > up && m.sender_type === "agent" && m.status !== "read") up = m.id;
    return up > sent ? up : 0;
  };
  /* A tone for a new agent message: only if the site turned it on, the visitor has
   * interacted with the page (autoplay policy) and is not looking at the chat. */
  const shouldChime = ({ sound, interacted, open, hidden }) => Boolean(sound && interacted && (!open || hidden));
  /* The line under the title, as [string key, values]. `away`: the offline form applies
   * (outside business hours or nobody online); a conversation left with it (offline) is
   * answered by e-mail, so it shows no place in the queue. */
  const headerLine = ({ status, conversation: c, wait, away }) => {
    if (status === "offline") return ["offline"];
    if (c && c.status === "closed") return ["ended"];  // until writing again opens a new one
    const agent = c && c.agent_name;
    if (!agent && (away || (c && c.offline))) return ["away"];
    if (status !== "online") return ["connecting"];
    if (wait && c && c.status === "waiting") return ["queue", wait];
    return agent ? ["agentOnline", { name: agent }] : ["online"];
  };
  /* For each message, whether it opens another conversation than the one before it (a
   * divider goes there). One not stored yet belongs to the current conversation, or to a
   * new one if that is closed (writing again opens one). */
  const newConversations = (messages, current) => {
    let prev = null;
    return messages.map((m) => {
      const id = m.conversation_id || (current && current.status !== "closed" ? current.id : "new");
      const starts = prev !== null && id !== prev;
      prev = id;
      return starts;
    });
  };

  /* Messages typed but not yet acknowledged by the server, kept in storage so a reload or
   * a dropped connection loses nothing. Sent one at a time, in order; the server
   * deduplicates on client_id, so sending one twice is harmless.
   * transmit(item) resolves to {ok, message} | {error} (rejected for good) |
   * {retryAfter} (server asked to wait) | {offline} (no transport: wait for flush()) |
   * anything else (network trouble: retry with backoff). */
  class MessageQueue {
    constructor({ transmit, storage, onAck = () => {}, onReject = () => {}, timers = globalThis, random = Math.random, baseDelay = 1000, maxDelay = 30000, maxAttempts = 8 }) {
      Object.assign(this, { transmit, storage, onAck, onReject, timers, random, baseDelay, maxDelay, maxAttempts });
      this.items = storage.get("queue", []);
      this.attempt = 0;
      this.timer = null;
      this.busy = false;
    }
    add(text) {
      const item = { client_id: newId(), text, created_at: new Date().toISOString(), attempts: 0 };
      this.items.push(item);
      this.save();
      this.flush();
      return item;
    }
    readd(item) { if (!this.has(item.client_id)) { this.items.push({ ...item, attempts: 0 }); this.save(); } this.flush(); }
    has(clientId) { return this.items.some((m) => m.client_id === clientId); }
    remove(clientId) { this.items = this.items.filter((m) => m.client_id !== clientId); this.save(); }
    save() { this.storage.set("queue", this.items); }
    async flush() {
      if (this.busy) { this.again = true; return; }
      this.busy = true;
      this.timers.clearTimeout(this.timer);
      this.timer = null;
      try {
        while (this.items.length) {
          const item = this.items[0];
          let result;
          try { result = await this.transmit(item); } catch (e) { result = {}; }
          if (result.ok) { this.remove(item.client_id); this.attempt = 0; this.onAck(item, result.message); continue; }
          if (result.error) { this.remove(item.client_id); this.onReject(item, result.error); continue; }
          if (result.offline) return;  // flush() runs again when a transport is back
          item.attempts = (item.attempts || 0) + 1;
          if (!result.retryAfter && item.attempts >= this.maxAttempts) {
            this.remove(item.client_id);
            this.onReject(item, null);  // shown as failed, "tap to retry" puts it back
            continue;
          }
          this.save();
          const delay = result.retryAfter || jitter(Math.min(this.maxDelay, this.baseDelay * 2 ** this.attempt++), this.random);
          this.timer = this.timers.setTimeout(() => this.flush(), delay);
          return;
        }
        this.attempt = 0;
      } finally {
        this.busy = false;
        if (this.again && !this.timer) { this.again = false; this.flush(); }
        this.again = false;
      }
    }
  }

  /* One WebSocket with reconnect (exponential backoff, jitter), resume from the last
   * message id and the cursor (newest change seen, server time), a heartbeat that detects
   * dead connections, and an HTTP long-poll fallback when WebSockets are blocked
   * (connections that die before the server says anything, while plain HTTP still
   * works). Frames arrive through onFrame; status is
   * "connecting" | "online" | "offline"; mode is "ws" | "http". */
  class WebSocketManager {
    constructor({ url, WebSocket: WS = globalThis.WebSocket, poll, lastId = () => 0, onFrame = () => {}, onStatus = () => {}, onClose = () => {}, isOnline = () => true, timers = globalThis, random = Math.random, now = Date.now, baseDelay = 500, maxDelay = 30000, heartbeat = 20000, deadAfter = 45000, fallbackAfter = 2, probeEvery = 60000 }) {
      Object.assign(this, { url, WS, poll, lastId, onFrame, onStatus, onClose, isOnline, timers, random, now, baseDelay, maxDelay, heartbeat, deadAfter, fallbackAfter, probeEvery });
      this.ws = null;
      this.attempt = 0;
      this.failures = 0;  // connections in a row that closed before any frame arrived
      this.mode = "ws";
      this.status = "connecting";
      this.stopped = false;
      this.cursor = null;
    }
    get open() { return this.mode === "ws" && this.ws && this.ws.readyState === 1; }
    connect() {
      this.stopped = false;
      this.timers.clearTimeout(this.retryTimer);
      const ws = new this.WS(this.url());
      this.ws = ws;
      let heard = false;
      ws.onopen = () => { this.resume(); this.beat(); };
      ws.onmessage = (e) => {
        this.seen = this.now();
        if (!heard) { heard = true; this.failures = 0; this.attempt = 0; this.setStatus("online"); }
        let frame;
        try { frame = JSON.parse(e.data); } catch (err) { return; }
        frame.type === "history" ? this.deliver(frame, true) : this.take(frame);
      };
      ws.onclose = (e) => {
        this.timers.clearInterval(this.heart);
        if (this.ws !== ws) return;
        this.ws = null;
        if (this.stopped) return;
        this.setStatus("offline");
        if (e && (e.code === 4401 || e.code === 4403)) { this.onClose(e.code); if (e.code === 4403) return; }
        if (!heard && this.isOnline()) this.failures++;
        if (this.failures >= this.fallbackAfter && this.poll) this.tryFallback();
        else this.reconnect();
      };
    }
    reconnect() {
      const delay = jitter(Math.min(this.maxDelay, this.baseDelay * 2 ** this.attempt++), this.random);
      this.retryTimer = this.timers.setTimeout(() => this.connect(), delay);
    }
    beat() {
      this.seen = this.now();
      this.timers.clearInterval(this.heart);
      this.heart = this.timers.setInterval(() => {
        if (this.now() - this.seen > this.deadAfter) { this.ws && this.ws.close(); return; }
        this.send({ type: "ping" });
      }, this.heartbeat);
    }
    /* WebSockets keep failing: if a quick HTTP poll works, they are blocked on the way
     * (proxy, firewall) and we switch to long-polling; if not, the server or network is
     * down and we keep reconnecting. */
    async tryFallback() {
      try {
        const data = await this.poll(this.lastId(), 0, this.cursor);
        if (this.stopped) return;
        this.mode = "http";
        this.setStatus("online");
        this.deliver(data);
        this.probedAt = this.now();
        this.pollLoop();
      } catch (e) {
        this.reconnect();
      }
    }
    async pollLoop() {
      while (this.mode === "http" && !this.stopped) {
        try {
          this.deliver(await this.poll(this.lastId(), undefined, this.cursor));
          this.attempt = 0;
          this.setStatus("online");
        } catch (e) {
          this.setStatus("offline");
          await new Promise((r) => this.timers.setTimeout(r, jitter(Math.min(this.maxDelay, this.baseDelay * 2 ** this.attempt++), this.random)));
        }
        if (this.now() - this.probedAt > this.probeEvery) this.probe();
      }
    }
    /* Now and then, in HTTP mode, see whether WebSockets work again. */
    probe() {
      this.probedAt = this.now();
      const ws = new this.WS(this.url());
      ws.onmessage = () => {
        if (this.mode !== "http" || this.stopped) { ws.close(); return; }
        ws.onmessage = null;
        ws.onclose = null;
        this.mode = "ws";
        this.failures = 0;
        this.ws = null;
        this.connectWith(ws);
      };
      ws.onopen = () => ws.send(JSON.stringify({ type: "ping" }));
      ws.onclose = () => {};
    }
    connectWith(ws) {
      // Re-run the normal wiring on an already open socket.
      const WS = this.WS;
      this.WS = function () { return ws; };
      this.connect();
      this.WS = WS;
      ws.onopen();
    }
    /* A poll, or the socket's answer to resume (`always`): new messages, then changes to
     * the ones shown and the conversation's state since the cursor we sent. */
    deliver(data, always) {
      this.advance(data.cursor);
      if (always || (data.messages && data.messages.length)) this.onFrame({ type: "history", messages: data.messages || [] });
      for (const e of data.events || []) this.take({ type: "event", ...e });
      // Changes to messages already delivered, and the conversation's state, since the last poll.
      for (const m of data.updates || []) this.onFrame({ type: "event", event: "message.updated", message: m });
      if (data.conversation) this.onFrame({ type: "event", event: "conversation.updated", conversation: data.conversation });
      if (typeof data.offline === "boolean") this.onFrame({ type: "event", event: "availability", offline: data.offline });
    }
    take(f) { this.advance(f.message && f.message.updated_at); this.onFrame(f); }
    advance(c) { if (c && !(Date.parse(c) <= Date.parse(this.cursor))) this.cursor = c; }
    resume() { return this.send({ type: "resume", after: this.lastId(), since: this.cursor || undefined }); }
    drop() { if (this.ws) this.ws.close(); }
    wake() {
      if (this.stopped || this.ws || this.mode !== "ws") return;
      this.attempt = 0;
      this.timers.clearTimeout(this.retryTimer);
      this.connect();
    }
    send(data) { if (this.open) { this.ws.send(JSON.stringify(data)); return true; } return false; }
    setStatus(s) { if (s !== this.status) { this.status = s; this.onStatus(s, this.mode); } }
    disconnect() { this.stopped = true; this.timers.clearTimeout(this.retryTimer); this.timers.clearInterval(this.heart); if (this.ws) this.ws.close(); }
  }

  function newId() {
    return globalThis.crypto && crypto.randomUUID ? crypto.randomUUID() : Date.now().toString(36) + Math.random().toString(36).slice(2);
  }

  if (typeof window === "undefined") {
    module.exports = { MessageQueue, WebSocketManager, STRINGS, seenUpTo, shouldChime, headerLine, newConversations };
    return;
  }
  if (window.WaChat) return;

  const script = document.currentScript;
  const data = (script && script.dataset) || {};
  const SERVER = (data.server || (script ? new URL(script.src, location.href).origin : location.origin)).replace(/\/$/, "");
  const store = {
    get: (k, d) => { try { return JSON.parse(localStorage.getItem("wachat:" + k)) ?? d; } catch (e) { return d; } },
    set: (k, v) => { try { localStorage.setItem("wachat:" + k, JSON.stringify(v)); } catch (e) { /* private mode: memory only */ } },
  };
  const URL_RE = /\bhttps?:\/\/[^\s<>"']+/gi;
  const h = (tag, attrs = {}, ...children) => {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === "text") el.textContent = v;
      else if (k.startsWith("on")) el[k] = v;
      else if (v !== false && v != null) el.setAttribute(k, v === true ? "" : v);
    }
    el.append(...children);
    return el;
  };

  const CSS = `
    :host { all: initial; }
    * { box-sizing: border-box; font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans Arabic", sans-serif, "Apple Color Emoji", "Segoe UI Emoji", "Noto Color Emoji"; }
    [hidden] { display: none !important; }
    .launcher { position: fixed; right: 20px; bottom: 20px; width: 60px; height: 60px; border-radius: 50%; border: 0; background: var(--wc-launch); color: #fff; cursor: pointer; box-shadow: 0 4px 12px rgba(0,0,0,.25); z-index: 2147483000; display: grid; place-items: center; padding: 0; }
    .left .launcher { right: auto; left: 20px; }
    .launcher svg { width: 30px; height: 30px; fill: currentColor; }
    .badge { position: absolute; top: -4px; right: -4px; background: #d32f2f; color: #fff; border-radius: 10px; min-width: 20px; padding: 1px 5px; font: 600 12px/18px system-ui, sans-serif; }
    .panel { position: fixed; right: 20px; bottom: 92px; width: 370px; height: 560px; max-height: calc(100vh - 110px); background: #efeae2; border-radius: 12px; box-shadow: 0 8px 28px rgba(0,0,0,.3); display: flex; flex-direction: column; overflow: hidden; z-index: 2147483000; color: #111b21; font-size: 14px; }
    .left .panel { right: auto; left: 20px; }
    .head { background: var(--wc-primary); color: #fff; padding: 10px 12px; display: flex; align-items: center; gap: 10px; }
    .avatar { width: 38px; height: 38px; border-radius: 50%; background: #dfe5e7; color: #075e54; display: grid; place-items: center; font-weight: 700; flex: none; }
    .who { flex: 1; min-width: 0; }
    h2 { font-size: 16px; margin: 0; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
    .state { display: block; font-size: 12px; }
    .head button, .head a { background: none; border: 0; color: #fff; font-size: 22px; line-height: 1; cursor: pointer; padding: 6px; border-radius: 6px; text-decoration: none; }
    .head a svg { width: 22px; height: 22px; fill: currentColor; display: block; }
    :focus-visible { outline: 3px solid #ffbf47; outline-offset: 1px; }
    textarea:focus-visible, input:not([type=radio],[type=checkbox]):focus-visible { outline: 1px solid var(--wc-primary); outline-offset: 0; border-color: var(--wc-primary); }
    .notice { font-size: 13px; text-align: center; padding: 6px; background: #fff3c4; color: #5d4200; }
    .notice:empty { display: none; }
    .log { flex: 1; overflow-y: auto; padding: 10px 12px; display: flex; flex-direction: column; gap: 4px; overscroll-behavior: contain; }
    .day { align-self: center; background: #fff; color: #3b4a54; font-size: 12px; padding: 3px 10px; border-radius: 7px; margin: 6px 0; box-shadow: 0 1px 1px rgba(0,0,0,.1); }
    .msg { max-width: 82%; padding: 6px 8px 4px; border-radius: 8px; line-height: 1.4; white-space: pre-wrap; overflow-wrap: anywhere; box-shadow: 0 1px 1px rgba(0,0,0,.12); }
    .msg a { color: #0b57a4; }
    .visitor { align-self: flex-end; background: #d9fdd3; }
    .agent { align-self: flex-start; background: #fff; }
    .system { align-self: center; background: #fff3c4; font-size: 12px; }
    .from { font-size: 12px; font-weight: 600; color: #075e54; }
    .meta { font-size: 11px; color: #54656f; text-align: end; margin-top: 2px; white-space: nowrap; }
    .reactions { font-size: 13px; margin-inline-end: 6px; }
    .tick { margin-inline-start: 4px; }
    .tick.read { color: #0b6fa4; }
    button.tick { background: none; border: 0; padding: 0; font: inherit; color: #b71c1c; cursor: pointer; text-decoration: underline; }
    .typing { font-size: 12px; color: #3b4a54; padding: 0 14px 4px; min-height: 18px; }
    form { padding: 8px; background: #f0f2f5; }
    .composer { display: flex; gap: 6px; align-items: flex-end; }
    textarea, input { flex: 1; border: 1px solid #8696a0; border-radius: 18px; padding: 9px 12px; font-size: 15px; color: #111b21; background: #fff; }
    textarea { resize: none; height: 40px; max-height: 120px; }
    .composer button { border: 0; border-radius: 50%; width: 40px; height: 40px; flex: none; background: var(--wc-primary); color: #fff; cursor: pointer; font-size: 18px; }
    [dir=rtl] .send { transform: scaleX(-1); }
    .composer .clip { background: none; color: #3b4a54; font-size: 20px; }
    .pic { display: block; max-width: 100%; max-height: 240px; border-radius: 6px; }
    .msg .file { display: flex; gap: 8px; align-items: center; padding: 8px; border-radius: 6px; background: rgba(0,0,0,.06); color: inherit; text-decoration: none; white-space: normal; }
    .file small { display: block; color: #54656f; }
    progress { display: block; width: 100%; height: 4px; }
    .card { margin: 12px; padding: 14px; background: #fff; border-radius: 10px; display: flex; flex-direction: column; gap: 8px; }
    .card h3 { margin: 0; font-size: 15px; }
    .card p { margin: 0; }
    .card label { font-size: 13px; display: flex; flex-direction: column; gap: 3px; }
    .card label.check { flex-direction: row; align-items: center; gap: 6px; }
    .card input, .card textarea { border-radius: 6px; flex: none; }
    .card textarea { height: 80px; }
    .card button { border: 0; border-radius: 6px; padding: 10px; background: var(--wc-primary); color: #fff; font-size: 14px; cursor: pointer; }
    .after { position: relative; flex: none; margin: 8px 0; }
    .card.after textarea { height: 56px; }
    #wc-after { padding-inline-end: 24px; }
    .after form { display: flex; flex-direction: column; gap: 8px; padding: 0; background: none; }
    .after .x { position: absolute; inset-inline-end: 16px; background: none; color: #3b4a54; font-size: 20px; padding: 0 6px; }
    .stars { border: 0; margin: 0; padding: 0; display: flex; gap: 2px; }
    .stars legend { font-weight: 600; padding: 0 0 4px; }
    .card .stars label { font-size: 30px; line-height: 1; color: #667781; cursor: pointer; }
    .card .stars label.on { color: #a15c00; }
    .stars label:has(:focus-visible) { outline: 3px solid #ffbf47; border-radius: 4px; }
    .stars input { position: absolute; opacity: 0; width: 1px; height: 1px; }
    .older { align-self: center; font-size: 12px; color: #3b4a54; }
    .sr { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
    @media (max-width: 480px) {
      .panel, .left .panel { inset: 0; width: 100%; height: 100%; height: 100dvh; max-height: none; border-radius: 0; }
      .open .launcher { display: none; }
    }
    @media (prefers-reduced-motion: no-preference) {
      .panel { animation: pop .18s ease-out; }
      @keyframes pop { from { opacity: 0; transform: translateY(12px); } }
    }
  `;
  const ICON = '<svg viewBox="0 0 24 24" aria-hidden="true" focusable="false"><path d="M12 2a10 10 0 0 0-8.6 15.1L2 22l5-1.3A10 10 0 1 0 12 2zm0 18.2a8.2 8.2 0 0 1-4.2-1.1l-.3-.2-3 .8.8-2.9-.2-.3A8.2 8.2 0 1 1 12 20.2z"/></svg>';

  class WhatsAppChatWidget {
    constructor() {
      this.config = { title: "", color: "#075e54", launcher_color: "", position: data.position || "right", language: data.lang || "en", prechat_fields: [], offline: false };
      this.locale = store.get("locale", null) || data.lang || "en";
      this.messages = new Map();  // "c:<client_id>" or "i:<id>" -> message
      this.order = [];
      this.listeners = {};
      this.lastId = 0;
      this.seenId = store.get("seen", 0);
      this.unread = 0;
      this.hasOlder = false;
      this.state = { profile: { name: "" }, conversation: null };
    }

    t(key, vars = {}) {
      const s = (STRINGS[this.locale] || STRINGS.en)[key] || STRINGS.en[key] || key;
      return s.replace(/\{(\w+)\}/g, (_, k) => vars[k] ?? "");
    }

    async init() {
      this.render();
      this.queue = new MessageQueue({
        transmit: (m) => this.transmit(m), storage: store,
        onAck: (item, message) => this.receive(message),
        onReject: (item, detail) => this.markFailed(item, detail),
      });
      for (const m of this.queue.items) this.receive({ client_id: m.client_id, content: m.text, sender_type: "visitor", status: "pending", created_at: m.created_at });
      this.socket = new WebSocketManager({
        url: () => `${SERVER.replace(/^http/, "ws")}/ws/widget/?token=${encodeURIComponent(this.token)}`,
        // The cursor (`since`) brings back status changes made between two polls.
        poll: (after, wait, since) => this.api(`/poll?after=${after}${wait === 0 ? "&wait=0" : ""}${since ? "&since=" + encodeURIComponent(since) : ""}`),
        lastId: () => this.lastId,
        onFrame: (f) => this.onFrame(f),
        onStatus: (s, mode) => this.onStatus(s, mode),
        onClose: (code) => this.onRefused(code),
        isOnline: () => navigator.onLine !== false,
      });
      // The browser knows before a heartbeat would: drop the socket when the network goes,
      // reconnect at once when it is back.
      addEventListener("offline", () => this.socket.drop());
      addEventListener("online", () => { this.socket.wake(); this.queue.flush(); });
      document.addEventListener("visibilitychange", () => { if (!document.hidden && this.isOpen) this.markSeen(); });
      // Sound may play only after the visitor has interacted with the page (autoplay policy).
      const touched = (e) => { if (!e.isTrusted) return; this.interacted = true; for (const n of ["pointerdown", "keydown"]) removeEventListener(n, touched, true); };
      for (const n of ["pointerdown", "keydown"]) addEventListener(n, touched, true);
      // The server may be unreachable at page load: keep trying, unless it refused us.
      for (let attempt = 0; ; attempt++) {
        try {
          await Promise.all([this.loadConfig(), this.startSession()]);
          break;
        } catch (e) {
          if (e.status === 403) { this.notice(this.t("blocked"), true); return; }
          this.onStatus("offline", "ws");
          await new Promise((r) => setTimeout(r, jitter(Math.min(30000, 1000 * 2 ** attempt), Math.random)));
        }
      }
      this.socket.connect();
    }

    async api(path, body) {
      const res = await fetch(SERVER + "/api/widget" + path, {
        method: body ? "POST" : "GET",
        headers: { ...(body ? { "Content-Type": "application/json" } : {}), ...(this.token ? { "X-WaChat-Token": this.token } : {}) },
        body: body && JSON.stringify(body),
      });
      let json = {};
      try { json = await res.json(); } catch (e) { /* empty or not JSON */ }
      if (res.status === 401 && this.token) { await this.startSession(true); }
      if (!res.ok) { const err = new Error(json.detail || res.statusText); Object.assign(err, { status: res.status, retryAfter: json.retry_after }); throw err; }
      return json;
    }

    async loadConfig() {
      try { this.applyConfig(await this.api("/config")); } catch (e) { /* keep the defaults */ }
    }

    applyConfig(c) {
      this.config = { ...this.config, ...c };
      if (!store.get("locale", null) && !data.lang) this.locale = c.language || "en";
      this.host.style.setProperty("--wc-primary", this.config.color);
      this.host.style.setProperty("--wc-launch", this.config.launcher_color || this.config.color);
      this.root.classList.toggle("left", this.config.position === "left");
      this.applyLocale();
      this.showView();
    }

    async startSession(fresh) {
      const params = new URLSearchParams(location.search);
      const state = await this.api("/session", {
        token: fresh ? null : store.get("token", null), referrer: document.referrer || null,
        utm_source: params.get("utm_source"), utm_medium: params.get("utm_medium"), utm_campaign: params.get("utm_campaign"),
      });
      this.token = state.token;
      store.set("token", state.token);
      this.setState(state);
    }

    /* Live chat came or went (agents, business hours): the header follows at once; the
     * offline and pre-chat forms swap only while the visitor has typed nothing in them. */
    setAvailability(offline) {
      if (this.config.offline === offline) return;
      this.config.offline = offline;
      this.updateHeader();
      if (![...this.el.forms.querySelectorAll("input, textarea")].some((i) => (i.type === "checkbox" ? i.checked : i.value))) this.showView();
    }

    setState(state) {
      this.state = { ...this.state, ...state };
      this.updateHeader();
      this.showView();
    }

    /* ---------- DOM ---------- */
    render() {
      // A custom element name (host `div {}` rules miss it) with inline !important
      // resets: hostile page CSS cannot hide, move or restyle the widget.
      const host = document.createElement("wachat-widget");
      host.id = "wachat-widget";
      host.style.cssText = "all:initial!important;display:block!important;position:static!important;transform:none!important;filter:none!important;opacity:1!important;visibility:visible!important;contain:none!important";
      host.style.setProperty("--wc-primary", this.config.color);
      host.style.setProperty("--wc-launch", this.config.launcher_color || this.config.color);
      const shadow = host.attachShadow({ mode: "open" });
      const root = h("div", { class: "wc" + (this.config.position === "left" ? " left" : "") });
      const el = this.el = {};
      el.launcher = h("button", { class: "launcher", type: "button", "aria-expanded": "false", onclick: () => this.toggle() });
      el.launcher.innerHTML = ICON;  // a constant, never user content
      el.badge = h("span", { class: "badge", hidden: true });
      el.launcher.append(el.badge);
      el.title = h("h2", { id: "wc-title" });
      el.state = h("span", { class: "state" });
      el.avatar = h("span", { class: "avatar", "aria-hidden": "true" });
      el.wa = h("a", { class: "wa", target: "_blank", rel: "noopener noreferrer", hidden: true });
      el.wa.innerHTML = ICON;  // a constant
      el.close = h("button", { type: "button", class: "close", onclick: () => this.close() }, "×");
      el.notice = h("div", { class: "notice", role: "alert" });
      el.log = h("div", { class: "log", role: "log", "aria-live": "polite", "aria-labelledby": "wc-title", tabindex: "0" });
      el.log.onscroll = () => { if (el.log.scrollTop < 40) this.loadOlder(); };
      el.typing = h("div", { class: "typing", "aria-live": "polite" });
      el.text = h("textarea", { id: "wc-text", rows: "1", maxlength: "4096" });
      el.text.onkeydown = (e) => { if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); this.submit(); } };
      el.text.oninput = () => this.sendTyping();
      el.send = h("button", { type: "submit", class: "send" }, "➤");
      el.textLabel = h("label", { for: "wc-text", class: "sr" });
      el.file = h("input", { type: "file", hidden: true, accept: "image/jpeg,image/png,application/pdf,text/plain,.docx,.xlsx,.pptx" });
      el.file.onchange = () => { const f = el.file.files[0]; el.file.value = ""; if (f) this.attach(f); };
      el.clip = h("button", { type: "button", class: "clip", onclick: () => el.file.click() }, "📎");
      el.composer = h("form", { onsubmit: (e) => { e.preventDefault(); this.submit(); } }, h("div", { class: "composer" }, el.clip, el.file, el.textLabel, el.text, el.send));
      el.forms = h("div");
      el.panel = h("section", { class: "panel", role: "dialog", "aria-labelledby": "wc-title", hidden: true },
        h("div", { class: "head" }, el.avatar, h("div", { class: "who" }, el.title, el.state), el.wa, el.close),
        el.notice, el.forms, el.log, el.typing, el.composer);
      el.panel.onkeydown = (e) => { if (e.key === "Escape") this.close(); };
      root.append(el.launcher, el.panel);
      shadow.append(h("style", { text: CSS }), root);
      this.host = host;
      this.root = root;
      this.applyLocale();
      this.updateHeader();
      document.body.appendChild(host);
    }

    applyLocale() {
      const el = this.el;
      el.panel.setAttribute("dir", RTL.has(this.locale) ? "rtl" : "ltr");
      el.panel.setAttribute("lang", this.locale);
      this.labelLauncher();
      el.close.setAttribute("aria-label", this.t("close"));
      el.send.setAttribute("aria-label", this.t("send"));
      el.clip.setAttribute("aria-label", el.clip.title = this.t("attach"));
      el.text.placeholder = this.t("placeholder");
      el.textLabel.textContent = this.t("message");
      el.wa.setAttribute("aria-label", this.t("whatsapp"));
      el.wa.title = this.t("whatsapp");
      this.updateHeader();
      this.showView();
      for (const m of this.messages.values()) if (m.node) this.fill(m);
      this.layout();
    }

    updateHeader() {
      const el = this.el, c = this.state.conversation;
      const title = this.config.title || data.title || this.t("chatWithUs");
      el.title.textContent = title;
      el.avatar.textContent = title.trim().charAt(0).toUpperCase();
      const [key, v] = headerLine({ status: this.socket && this.socket.status, conversation: c, wait: this.state.wait, away: this.config.offline });
      el.state.textContent = key === "online" ? this.config.subtitle || this.t(key) : this.t(key, v);
      // Waiting in the queue: the visitor's place and a rounded estimate (server-side).
      if (key === "queue") {
        const n = v.position, m = v.minutes;
        const nth = this.locale === "en" ? n + (["th", "st", "nd", "rd"][(n % 100 - 20) % 10] || ["th", "st", "nd", "rd"][n % 100] || "th") : n;
        el.state.textContent = this.t("queue", { n: nth, t: m == null ? this.t("fewMin") : m >= 60 ? this.t("overHour") : this.t("aboutMin", { n: m }) });
      }
      const number = this.config.whatsapp_number;
      el.wa.hidden = !number;
      if (number) el.wa.href = `https://wa.me/${encodeURIComponent(number)}?text=${encodeURIComponent(c ? `Hi! About my chat ${c.code}` : "Hi!")}`;
    }

    /* Which card above the log: the pre-chat form, the offline form, or none. */
    showView() {
      const el = this.el, c = this.config, hasChat = this.order.length > 0 || (this.state.conversation && this.state.conversation.status !== "closed");
      let view = "chat";
      if (!hasChat && c.offline && !this.offlineSent) view = "offline";
      else if (!hasChat && c.prechat_fields.length && !this.state.profile.name) view = "prechat";
      const after = view === "chat" && this.afterCardFor(this.state.conversation);
      const key = view + (this.order.length ? "+" : "") + (after ? after.id + after.rated + this.locale : "");
      if (key === this.viewKey) return;
      this.view = view;
      this.viewKey = key;
      el.forms.replaceChildren();
      if (el.after) el.after.remove();
      el.after = null;
      el.composer.hidden = view !== "chat";
      if (view !== "chat") el.forms.append(view === "offline" ? this.offlineForm() : this.prechatForm());
      else if (after) {
        // In the flow after the last message, shown from the newest message down.
        el.log.append(el.after = this.afterCard(after));
        this.scrollDown();
      } else if (!this.order.length) el.forms.append(h("div", { class: "card greeting" }, h("p", { text: c.greeting || this.t("greeting") })));
      // The panel may have opened before the server said which view it needs:
      // focus follows the view unless the visitor has already put it somewhere else.
      if (this.isOpen && this.focusIsLost()) this.focusView();
    }

    field(name, label, type = "text", required = false) {
      const input = type === "textarea" ? h("textarea", { name, required }) : h("input", { name, type, required, autocomplete: { name: "name", email: "email", phone: "tel" }[name] || "off" });
      return h("label", {}, label, input);
    }

    /* ---------- after a conversation closes: rating (once) and e-mailed transcript ---------- */
    afterCardFor(c) {
      // Shown once per closed conversation: until dismissed, or on this page after rating it.
      if (!c || c.status !== "closed" || this.dismissed === c.id) return null;
      return this.cardFor === c.id || store.get("after", null) !== c.id ? c : null;
    }

    afterCard(c) {
      this.cardFor = c.id;
      const card = h("div", { class: "card after", "aria-labelledby": "wc-after" },
        h("button", { type: "button", class: "x", "aria-label": this.t("dismiss"), onclick: () => { this.dismissed = c.id; store.set("after", c.id); this.showView(); } }, "×"),
        h("p", { id: "wc-after", text: this.t("closed") }));
      if (c.rated) card.append(h("p", { role: "status", text: this.t("rated") }));
      else {
        const stars = h("fieldset", { class: "stars" }, h("legend", { text: this.t("rateTitle") }));
        for (let n = 1; n <= 5; n++) {
          stars.append(h("label", {}, h("input", { type: "radio", name: "rating", value: n, required: true }), h("span", { "aria-hidden": "true", text: "★" }), h("span", { class: "sr", text: this.t("star", { n }) })));
        }
        stars.onchange = (e) => stars.querySelectorAll("label").forEach((l, i) => l.classList.toggle("on", i < +e.target.value));
        const comment = this.field("comment", this.t("comment"), "textarea");
        comment.lastChild.maxLength = 2000;
        const form = h("form", {}, stars, comment, h("button", { type: "submit" }, this.t("rate")));
        form.onsubmit = async (e) => {
          e.preventDefault();
          const v = Object.fromEntries(new FormData(form));
          const done = () => {
            store.set("after", c.id);
            const now = this.state.conversation;
            if (now && now.id === c.id) this.setState({ conversation: { ...now, rated: true } });
          };
          try {
            await this.api("/rating", { conversation_id: c.id, rating: +v.rating, comment: v.comment || "" });
            done();
          } catch (err) { if (err.status === 409 && c.status === "closed") done(); this.notice(err.message); }
        };
        card.append(form);
      }
      const email = h("input", { type: "email", name: "email", required: true, autocomplete: "email", value: this.state.profile.email || "", "aria-label": this.t("yourEmail"), placeholder: this.t("yourEmail") });
      const send = h("form", {}, email, h("button", { type: "submit" }, this.t("transcript")));
      send.onsubmit = async (e) => {
        e.preventDefault();
        try {
          await this.api("/transcript", { conversation_id: c.id, email: email.value });
          send.replaceWith(h("p", { role: "status", text: this.t("transcriptSent", { email: email.value }) }));
        } catch (err) { this.notice(err.message); }
      };
      card.append(send);
      return card;
    }

    prechatForm() {
      const f = this.config.prechat_fields;
      const form = h("form", { class: "card", "aria-labelledby": "wc-pre" },
        h("p", { id: "wc-pre", text: this.t("prechat") }),
        this.field("name", this.t("name"), "text", true),
        f.includes("email") ? this.field("email", this.t("email"), "email") : "",
        f.includes("phone") ? this.field("phone", this.t("phone"), "tel") : "",
        f.includes("email") || f.includes("phone") ? h("label", { class: "check" }, h("input", { type: "checkbox", name: "consent" }), this.t("consent")) : "",
        h("button", { type: "submit" }, this.t("start")));
      form.onsubmit = async (e) => {
        e.preventDefault();
        const v = Object.fromEntries(new FormData(form));
        try {
          this.setState(await this.api("/profile", { name: v.name || "", email: v.email || "", phone: v.phone || "", consent: v.consent === "on" }));
          this.el.text.focus();
        } catch (err) { this.notice(err.message); }
      };
      return form;
    }

    offlineForm() {
      const form = h("form", { class: "card", "aria-labelledby": "wc-off" },
        h("h3", { id: "wc-off", text: this.t("offlineTitle") }), h("p", { text: this.t("offlineText") }),
        this.field("name", this.t("name"), "text", true), this.field("email", this.t("emailRequired"), "email", true),
        this.field("text", this.t("message"), "textarea", true), h("button", { type: "submit" }, this.t("leave")));
      form.onsubmit = async (e) => {
        e.preventDefault();
        const v = Object.fromEntries(new FormData(form));
        try {
          const message = await this.api("/offline", { name: v.name, email: v.email, text: v.text, client_id: newId() });
          this.offlineSent = true;
          this.receive(message);
          this.notice(this.t("thanks"));
          this.el.text.focus();
        } catch (err) { this.notice(err.message); }
      };
      return form;
    }

    /* ---------- open / close / unread ---------- */
    get isOpen() { return !this.el.panel.hidden; }
    toggle() { this.isOpen ? this.close() : this.open(); }
    open() {
      if (this.isOpen) return;
      this.el.panel.hidden = false;
      this.root.classList.add("open");
      this.el.launcher.setAttribute("aria-expanded", "true");
      this.labelLauncher();
      this.markSeen();
      this.scrollDown();
      this.focusView();
      this.emit("open");
    }
    focusIsLost() {
      const page = document.activeElement;
      if (page && page !== document.body && page !== this.host) return false;  // somewhere on the host page
      const inside = this.root.getRootNode().activeElement;
      return !inside || !inside.isConnected || (inside === this.el.text && this.view !== "chat");
    }
    focusView() {
      const first = this.el.forms.querySelector("input, textarea");
      (this.view === "chat" ? this.el.text : first || this.el.close).focus();
    }
    close() {
      if (!this.isOpen) return;
      this.el.panel.hidden = true;
      this.root.classList.remove("open");
      this.el.launcher.setAttribute("aria-expanded", "false");
      this.labelLauncher();
      this.el.launcher.focus();
      this.emit("close");
    }
    markSeen() {
      if (this.lastId > this.seenId) { this.seenId = this.lastId; store.set("seen", this.seenId); }
      this.countUnread();
      this.reportSeen();
    }
    /* Read receipts: the visitor is looking at the open panel, so the agent gets blue ticks. */
    reportSeen() {
      const up = seenUpTo(this.order, this.readSent);
      if (!up || !this.token || !this.socket) return;
      this.readSent = up;
      if (!this.socket.send({ type: "seen", up_to: up })) this.api("/seen", { up_to: up }).catch(() => { this.readSent = 0; });
    }
    chime() {
      if (!shouldChime({ sound: this.config.sound, interacted: this.interacted, open: this.isOpen, hidden: document.hidden })) return;
      try {
        const ctx = this.audio || (this.audio = new (window.AudioContext || window.webkitAudioContext)());
        if (ctx.state === "suspended") ctx.resume();
        const t = ctx.currentTime, osc = ctx.createOscillator(), gain = ctx.createGain();
        osc.frequency.setValueAtTime(880, t);
        osc.frequency.setValueAtTime(660, t + 0.1);
        gain.gain.setValueAtTime(0.0001, t);
        gain.gain.exponentialRampToValueAtTime(0.2, t + 0.02);
        gain.gain.exponentialRampToValueAtTime(0.0001, t + 0.3);
        osc.connect(gain).connect(ctx.destination);
        osc.start(t);
        osc.stop(t + 0.3);
      } catch (e) { /* no WebAudio: stay silent */ }
    }
    countUnread() {
      let n = 0;
      for (const m of this.order) if (m.id && m.id > this.seenId && m.sender_type === "agent") n++;
      if (n === this.unread) return;
      this.unread = n;
      this.el.badge.hidden = !n;
      this.el.badge.textContent = String(n);
      this.labelLauncher();
      this.flashTitle();
      this.emit("unread", n);
    }
    labelLauncher() {
      const label = this.t(this.isOpen ? "close" : "open");
      this.el.launcher.setAttribute("aria-label", this.unread ? `${label}, ${this.t("unread", { n: this.unread })}` : label);
    }
    /* Alternate the page title while messages are unread and the page or chat is not looked at. */
    flashTitle() {
      clearInterval(this.flash);
      if (this.baseTitle != null) { document.title = this.baseTitle; this.baseTitle = null; }
      if (!this.unread) return;
      this.baseTitle = document.title;
      let on = false;
      this.flash = setInterval(() => {
        if (!this.unread) return this.flashTitle();
        on = !on;
        document.title = on ? `(${this.unread}) ${this.t("newMessage")}` : this.baseTitle;
      }, 1500);
    }

    /* ---------- messages ---------- */
    submit() {
      const text = this.el.text.value.trim();
      if (!text) return;
      const max = this.config.max_chars || 4096;
      if (text.length > max) { this.notice(this.t("tooLong", { n: max })); return; }
      this.el.text.value = "";
      this.sendTyping(false);
      const item = this.queue.add(text);
      this.receive({ client_id: item.client_id, content: text, sender_type: "visitor", status: "pending", created_at: item.created_at });
    }

    async transmit(item) {
      const socket = this.socket;
      if (!this.token || !socket || (!socket.open && socket.mode !== "http")) return { offline: true };
      if (socket.open) {
        return new Promise((resolve) => {
          this.waiting = { client_id: item.client_id, resolve };
          socket.send({ type: "message", client_id: item.client_id, text: item.text });
          setTimeout(() => resolve({}), 10000);  // no answer: retry (the server dedupes)
        });
      }
      try {
        return { ok: true, message: await this.api("/messages", { client_id: item.client_id, text: item.text }) };
      } catch (err) {
        return this.failure(err.status, err.message, err.retryAfter);
      }
    }

    failure(status, detail, retryAfter) {
      if (status === 429) { this.notice(detail); return { retryAfter: (retryAfter || 5) * 1000 }; }
      if (status >= 400 && status < 500 && status !== 401) return { error: detail || this.t("error") };
      return {};
    }

    markFailed(item, detail) {
      const m = this.messages.get("c:" + item.client_id);
      if (m) this.receive({ ...m, status: "failed", error: { reason: detail } });
      if (detail) this.notice(detail);
    }

    async retry(m) {
      if (m.id) {
        // Stored but not delivered: the server puts the same message back in its outbox.
        try {
          const fresh = await this.api(`/messages/${m.id}/retry`, {});
          m.status = fresh.status;
          m.error = null;
          this.fill(m);
        } catch (err) { this.notice(err.message); }
      } else if (m.file) {
        m.status = "pending";
        m.error = null;
        this.fill(m);
        this.upload(m);
      } else {
        m.status = "pending";
        m.error = null;
        this.fill(m);
        this.queue.readd({ client_id: m.client_id, text: m.content, created_at: m.created_at });
      }
    }

    onFrame(f) {
      if (f.type === "history") {
        f.messages.forEach((m) => this.receive(m, true));
        this.layout();
        if (!this.historyLoaded) { this.historyLoaded = true; this.hasOlder = f.messages.length >= 50; this.layout(); this.scrollDown(); }
        if (this.isOpen && !document.hidden) this.markSeen(); else this.countUnread();
        this.showView();
        if (f.messages.length >= 200) this.socket.resume();
        this.queue.flush();
      } else if (f.type === "ack" || (f.type === "error" && f.client_id)) {
        const w = this.waiting;
        if (!w || w.client_id !== f.client_id) return;
        this.waiting = null;
        if (f.type === "ack") w.resolve({ ok: true, message: f.message });
        else w.resolve(f.code === "rate_limited" ? this.failure(429, f.detail, f.retry_after) : { error: f.detail });
      } else if (f.type === "event") {
        // A change to a message not loaded here (older history) is for whoever shows it.
        if (f.message && (f.event !== "message.updated" || this.messages.has("i:" + f.message.id))) this.receive(f.message);
        if (f.conversation) this.setState({ conversation: f.conversation });
        if (f.event === "queue.updated") this.setState({ wait: f.wait });
        if (f.event === "availability") this.setAvailability(f.offline);
        if (f.event === "typing" && f.sender_type === "agent") this.showTyping(f.typing !== false);
      }
    }

    onStatus(status, mode) {
      this.root.dataset.status = status;
      this.root.dataset.mode = mode;
      this.updateHeader();
      if (status !== "online" && this.waiting) { this.waiting.resolve({ offline: true }); this.waiting = null; }
      // A notice stays its 8 seconds: coming online says nothing about a form's error.
      if (status === "online") this.queue.flush();
    }

    onRefused(code) {
      if (code === 4403) this.notice(this.t("blocked"));
      else this.startSession(true).catch(() => {});
    }

    receive(message, batch = false) {
      const byId = message.id && this.messages.get("i:" + message.id);
      const byClient = message.client_id && this.messages.get("c:" + message.client_id);
      const known = byId || byClient;
      const m = known ? Object.assign(known, message, known.status && message.status && known.status !== "failed" && RANK[known.status] > RANK[message.status] ? { status: known.status } : {}) : { ...message };
      if (m.client_id) this.messages.set("c:" + m.client_id, m);
      if (m.id) {
        this.messages.set("i:" + m.id, m);
        this.lastId = Math.max(this.lastId, m.id);
      }
      if (!known) {
        this.order.push(m);
        if (m.sender_type === "agent" && !batch) { this.showTyping(false); this.emit("message", publicMessage(m)); this.chime(); }
      }
      this.fill(m);
      if (!batch) {
        if (!known) this.layout();
        if (this.isOpen && !document.hidden) this.markSeen(); else this.countUnread();
        if (!known) this.scrollDown();
        this.showView();
      }
    }

    fill(m) {
      const node = m.node || (m.node = h("div", {}, h("div", { class: "body" }), h("div", { class: "meta" })));
      node.className = "msg " + (m.sender_type || "system");
      node.dataset.status = m.status || "";
      if (m.id) node.dataset.id = m.id;
      const [body, meta] = node.children;
      // dir=auto: an English message in the Arabic layout keeps its full stop at the end.
      // Redrawn only when what it shows changes, not on each tick: a selection or a loaded picture stays.
      const key = JSON.stringify([this.locale, m.sender_type, m.sender_name, m.content, m.media_url, m.local, m.attachment, !!m.file && m.status]);
      if (node.bodyKey !== key) {
        node.bodyKey = key;
        const text = m.content ? [h("div", { dir: "auto" }, ...linkify(m.content))] : [];
        body.replaceChildren(...(m.sender_type === "agent" && m.sender_name ? [h("div", { class: "from", text: m.sender_name })] : []), ...this.media(m), ...text);
      }
      const time = new Date(m.created_at || Date.now()).toLocaleTimeString(this.locale, { hour: "2-digit", minute: "2-digit" });
      meta.replaceChildren(h("time", { datetime: m.created_at || "", text: time }));
      if (m.sender_type === "visitor") {
        const st = m.status || "pending";
        const marks = { pending: "🕓", sent: "✓", delivered: "✓✓", read: "✓✓" };
        if (st === "failed") meta.append(h("button", { type: "button", class: "tick failed", title: (m.error && m.error.reason) || "", onclick: () => this.retry(m) }, "⚠ " + this.t("retry")));
        else meta.append(h("span", { class: "tick " + st, role: "img", "aria-label": this.t(st), text: marks[st] || "" }));
      }
      const reactions = [...new Set(Object.values(m.reactions || {}))].join("");
      if (reactions) meta.prepend(h("span", { class: "reactions", text: reactions }));
    }

    /* ---------- attachments: checked here for a quick answer, by content on the server ---------- */
    attach(file) {
      const image = /^image\/(jpeg|png)$/.test(file.type), max = image ? 5242880 : this.config.max_file_bytes || 10485760;
      if (!/\.(jpe?g|png|pdf|txt|docx|xlsx|pptx)$/i.test(file.name)) return this.notice(this.t("fileType"));
      if (file.size > max) return this.notice(this.t("fileSize", { n: Math.floor(max / 1048576) }));
      const id = newId();
      this.receive({ client_id: id, sender_type: "visitor", status: "pending", message_type: image ? "image" : "document", content: "", created_at: new Date().toISOString(), attachment: { filename: file.name, size: file.size }, file, local: image ? URL.createObjectURL(file) : "" });
      this.upload(this.messages.get("c:" + id));
    }

    upload(m) {
      const xhr = new XMLHttpRequest(), form = new FormData();
      form.append("file", m.file, m.attachment.filename);
      form.append("client_id", m.client_id);
      xhr.open("POST", SERVER + "/api/widget/attachments");
      if (this.token) xhr.setRequestHeader("X-WaChat-Token", this.token);
      xhr.upload.onprogress = (e) => { if (m.bar && e.lengthComputable) m.bar.value = e.loaded / e.total; };
      xhr.onload = () => {
        let json = {};
        try { json = JSON.parse(xhr.responseText); } catch (e) { /* not JSON */ }
        if (xhr.status < 300) return this.receive(json);
        if (xhr.status === 401) this.startSession(true).catch(() => {});
        this.markFailed(m, json.detail || (xhr.status === 413 ? this.t("fileSize", { n: Math.floor((this.config.max_file_bytes || 10485760) / 1048576) }) : this.t("error")));
      };
      xhr.onerror = () => this.markFailed(m, "");
      xhr.send(form);
    }

    /* An image (opens full size in a new tab) or a download card; a bar while uploading. */
    media(m) {
      const a = m.attachment || {}, src = safeUrl(m.media_url) || m.local, name = a.filename || m.content || this.t("image");
      if (!m.attachment && !src) return [];
      const log = this.el.log, link = { href: src || null, target: "_blank", rel: "noopener noreferrer" };
      const out = [m.message_type === "image" && src
        ? h("a", link, h("img", { class: "pic", src, alt: name, onload: () => { if (log.scrollHeight - log.scrollTop - log.clientHeight < 300) this.scrollDown(); } }))
        : h("a", { class: "file", ...link }, h("span", { "aria-hidden": "true", text: "📄" }), h("span", {}, name, h("small", { text: a.size ? (a.size < 1048576 ? Math.ceil(a.size / 1024) + " KB" : (a.size / 1048576).toFixed(1) + " MB") : "" })))];
      if (m.file && !m.media_url && m.status === "pending") out.push(m.bar = h("progress", { max: 1, value: m.bar ? m.bar.value : 0, "aria-label": this.t("pending") }));
      return out;
    }

    /* Put message nodes in order (by id, unsent ones last) with a date line between days. */
    layout() {
      this.order.sort((a, b) => (a.id || Infinity) - (b.id || Infinity) || (a.created_at < b.created_at ? -1 : 1));
      const frag = document.createDocumentFragment();
      if (this.hasOlder) frag.append(this.el.older || (this.el.older = h("div", { class: "older", text: this.t("older") })));
      let day = null;
      const starts = newConversations(this.order, this.state.conversation);
      this.order.forEach((m, i) => {
        const d = new Date(m.created_at || Date.now());
        const key = d.toDateString();
        if (key !== day) { day = key; frag.append(h("div", { class: "day", role: "separator", text: this.dayLabel(d) })); }
        if (starts[i]) frag.append(h("div", { class: "day", role: "separator", text: this.t("newChat") }));
        frag.append(m.node);
      });
      // The after-close card stays last, never taken out (focus in its form is kept).
      const log = this.el.log, card = this.el.after;
      for (const n of [...log.children]) if (n !== card) n.remove();
      log.insertBefore(frag, card || null);
    }

    dayLabel(d) {
      const today = new Date(), y = new Date(Date.now() - 864e5);
      if (d.toDateString() === today.toDateString()) return this.t("today");
      if (d.toDateString() === y.toDateString()) return this.t("yesterday");
      return d.toLocaleDateString(this.locale, { day: "numeric", month: "long", year: "numeric" });
    }

    async loadOlder() {
      if (!this.hasOlder || this.loadingOlder) return;
      const first = this.order.find((m) => m.id);
      if (!first) return;
      this.loadingOlder = true;
      try {
        const res = await this.api(`/messages?before=${first.id}`);
        const log = this.el.log, from = log.scrollHeight - log.scrollTop;
        this.hasOlder = res.has_more;
        res.messages.forEach((m) => this.receive(m, true));
        this.layout();
        log.scrollTop = log.scrollHeight - from;  // keep the reader's place
      } catch (e) { /* try again on the next scroll */ } finally { this.loadingOlder = false; }
    }

    scrollDown() { const log = this.el.log; log.scrollTop = log.scrollHeight; }

    /* ---------- typing ---------- */
    sendTyping(typing = true) {
      const now = Date.now();
      clearTimeout(this.typingStop);
      if (typing) {
        if (now - (this.typingSent || 0) > 3000) { this.typingSent = now; this.socket.send({ type: "typing", typing: true }); }
        this.typingStop = setTimeout(() => this.sendTyping(false), 5000);
      } else if (this.typingSent) {
        this.typingSent = 0;
        this.socket.send({ type: "typing", typing: false });
      }
    }
    showTyping(on) {
      clearTimeout(this.typingHide);
      const name = (this.state.conversation && this.state.conversation.agent_name) || "";
      this.el.typing.textContent = on ? `${name} ${this.t("typing")}`.trim() : "";
      if (on) this.typingHide = setTimeout(() => this.showTyping(false), 8000);
    }

    notice(text, sticky) {
      clearTimeout(this.noticeTimer);
      this.el.notice.textContent = text || "";
      if (text && !sticky) this.noticeTimer = setTimeout(() => { this.el.notice.textContent = ""; }, 8000);
    }

    setLocale(locale) {
      this.locale = STRINGS[locale] ? locale : "en";
      store.set("locale", this.locale);
      this.applyLocale();
    }

    /* From the host site: {name, email, phone} for the agents, and for a logged-in user
     * {user_id, timestamp, signature} (HMAC from the site's server) so their history
     * follows them to any device. */
    async identify(profile = {}) {
      await this.ready;
      if (profile.user_id) {
        const state = await this.api("/identify", { user_id: String(profile.user_id), timestamp: Number(profile.timestamp), signature: String(profile.signature || "") });
        if (state.session_id !== this.state.session_id) this.switchSession(state);
      }
      if (profile.name || profile.email || profile.phone) {
        const body = { name: String(profile.name || ""), email: String(profile.email || ""), phone: String(profile.phone || ""), consent: true };
        this.setState(await this.api("/profile", body));
      }
    }
    /* Another session (the verified user's own): forget this one's messages, reconnect. */
    switchSession(state) {
      this.token = state.token;
      store.set("token", state.token);
      this.messages.clear();
      this.order = [];
      this.lastId = 0;
      this.socket.cursor = null;
      this.readSent = 0;
      this.historyLoaded = false;
      this.setState(state);
      this.layout();
      this.socket.mode === "ws" ? this.socket.drop() : null;
    }

    on(name, fn) { (this.listeners[name] = this.listeners[name] || []).push(fn); }
    emit(name, arg) { for (const fn of this.listeners[name] || []) { try { fn(arg); } catch (e) { console.error(e); } } }
  }

  // Ticks only move forward, as on the server; failed can go back to pending (retry).
  const RANK = { pending: 0, sent: 1, delivered: 2, read: 3, failed: 4 };
  const publicMessage = (m) => ({ id: m.id, text: m.content, sender_type: m.sender_type, sender_name: m.sender_name, created_at: m.created_at });

  const safeUrl = (u) => { try { const url = new URL(u, SERVER); return u && /^https?:$/.test(url.protocol) ? url.href : ""; } catch (e) { return ""; } };

  /* Text with http(s) links made clickable, built from text nodes and <a> elements only:
   * the content is never parsed as HTML. */
  function linkify(text) {
    const out = [];
    let last = 0;
    for (const match of text.matchAll(URL_RE)) {
      let href = match[0].replace(/[.,;:!?)\]]+$/, "");
      let url = null;
      try { url = new URL(href); } catch (e) { /* not a URL after all */ }
      if (!url || !/^https?:$/.test(url.protocol)) continue;
      out.push(document.createTextNode(text.slice(last, match.index)));
      out.push(h("a", { href: url.href, target: "_blank", rel: "noopener noreferrer nofollow", text: href }));
      last = match.index + href.length;
    }
    out.push(document.createTextNode(text.slice(last)));
    return out;
  }

  const widget = new WhatsAppChatWidget();
  // Calls made before the widget has rendered (the script loads async) run once it has.
  const later = [];
  const whenRendered = (fn) => (...args) => { if (widget.el) return fn(...args); later.push(() => fn(...args)); };
  window.WaChat = Object.freeze({
    open: whenRendered(() => widget.open()), close: whenRendered(() => widget.close()),
    toggle: whenRendered(() => widget.toggle()), identify: whenRendered((p) => widget.identify(p)),
    on: (name, fn) => widget.on(name, fn), setLocale: whenRendered((l) => widget.setLocale(l)),
  });
  const start = () => {
    widget.ready = widget.init().catch((e) => console.error("WaChat:", e));
    later.splice(0).forEach((fn) => fn());
  };
  // Show the button as soon as there is a body to put it in, not after the whole page.
  document.body ? start() : document.addEventListener("DOMContentLoaded", start);
})();
