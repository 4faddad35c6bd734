// Phone simulator page: sends what is typed (and the attached photo) to the
// simulator, which posts the signed Twilio webhook; follows the thread over
// server-sent events, showing each reply under the message it answers and
// the messages still waiting for one; shows the bot's collections and the
// dev bus's dead letters.
"use strict";

const $ = (id) => document.getElementById(id);
const thread = $("thread");
const form = $("composer");
const bodyInput = $("body");
const mediaInput = $("media");
const sendButton = $("send");
const statusLine = $("status");
const shown = new Set(); // entry seqs already rendered
const localPhotos = new Map(); // messageSid -> object URL of the photo just sent
const sentBySid = new Map(); // messageSid -> {li, entry, state}

function formatTime(iso) {
  const d = new Date(iso);
  return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

// sidText is how the terminal shows a MessageSid too: whole, since a
// prefix is not unique and `crossfaas logs --grep` wants all of it.
const sidText = (sid) => sid || "";

// stick is true unless the user scrolled up to read: then new messages and
// late-loading photos do not move the thread. Only the user's own
// scrolling changes it (programmatic scrolls would race with layout).
let stick = true;
const userScrolled = () => setTimeout(() => {
  stick = thread.scrollHeight - thread.scrollTop - thread.clientHeight < 40;
}, 50);
["wheel", "touchmove", "keydown", "mouseup"].forEach((type) => thread.addEventListener(type, userScrolled, { passive: true }));

function scrollToEnd() {
  thread.scrollTop = thread.scrollHeight;
}

function showEmpty() {
  if ($("empty")) return;
  const li = document.createElement("li");
  li.className = "empty";
  li.id = "empty";
  li.innerHTML = "No messages. Text <b>help</b>, or try the buttons below.";
  thread.append(li);
}

// States of a sent message, shown under it.
const stateText = {
  sending: "sending…",
  waiting: "waiting for the bot's reply…",
  answered: "answered",
  done: "",
  failed: "not delivered",
};

function setState(sent, state) {
  if (!sent || sent.state === "answered") return; // a reply settles it
  sent.state = state;
  sent.li.dataset.state = state;
  sent.stateEl.textContent = stateText[state] ? " · " + stateText[state] : "";
}

// quoteOf describes the message an answer answers, for the line above it.
function quoteOf(sid) {
  const sent = sentBySid.get(sid);
  if (!sent) return "an earlier message";
  const e = sent.entry;
  if (e.body && e.body.trim()) return e.body;
  return e.mediaUrl ? "a photo, no text" : "an empty message";
}

function render(entry) {
  if (shown.has(entry.seq)) return;
  shown.add(entry.seq);
  $("empty")?.remove();

  const li = document.createElement("li");
  li.className = "msg " + entry.kind;
  if (entry.problem) li.classList.add("problem");
  if (entry.external) li.classList.add("external");
  li.dataset.kind = entry.kind;
  li.dataset.seq = entry.seq;
  if (entry.messageSid) li.dataset.messageSid = entry.messageSid;
  if (entry.inReplyTo) li.dataset.inReplyTo = entry.inReplyTo;

  if (entry.kind === "sent" && entry.external) {
    const label = document.createElement("div");
    label.className = "origin";
    label.textContent = "from outside the page · " + (entry.from || "unknown number");
    li.append(label);
  }
  if (entry.inReplyTo && entry.kind !== "sent") {
    const quote = document.createElement("button");
    quote.type = "button";
    quote.className = "quote";
    quote.title = "Show the message this answers";
    quote.textContent = "↩ " + quoteOf(entry.inReplyTo);
    quote.addEventListener("click", () => highlight(entry.inReplyTo));
    li.append(quote);
  }
  if (entry.mediaUrl) {
    const src = localPhotos.get(entry.messageSid) || entry.previewUrl;
    if (entry.mediaType && entry.mediaType.startsWith("image/") && src) {
      const img = document.createElement("img");
      img.className = "photo";
      img.alt = "attached photo";
      img.src = src;
      img.onerror = () => img.replaceWith(fileChip(entry.mediaType));
      img.onload = () => { if (stick) scrollToEnd(); };
      li.append(img);
    } else {
      li.append(fileChip(entry.mediaType));
    }
  }
  if (entry.body) {
    const bubble = document.createElement("div");
    bubble.className = "bubble";
    if (entry.kind === "ack") {
      const tag = document.createElement("span");
      tag.className = "tag";
      tag.textContent = "Instant reply";
      tag.title = "The webhook's own answer (TwiML), sent back at once";
      bubble.append(tag, document.createElement("br"));
    }
    if (entry.problem && entry.kind !== "error") {
      const icon = document.createElement("span");
      icon.className = "icon";
      icon.textContent = "⚠ ";
      icon.setAttribute("aria-label", "problem");
      bubble.append(icon);
    }
    bubble.append(document.createTextNode(entry.body));
    li.append(bubble);
  }
  const meta = document.createElement("div");
  meta.className = "meta";
  meta.textContent = metaText(entry);
  if (entry.messageSid) meta.title = entry.messageSid;
  li.append(meta);

  // Keep the thread ordered by seq even if events arrive out of order.
  const next = [...thread.children].find((c) => Number(c.dataset.seq) > entry.seq);
  thread.insertBefore(li, next || null);

  if (entry.kind === "sent") {
    const stateEl = document.createElement("span");
    stateEl.className = "state";
    meta.append(stateEl);
    const sent = { li, entry, stateEl, state: "" };
    sentBySid.set(entry.messageSid, sent);
    setState(sent, "sending");
  } else if (entry.inReplyTo) {
    const sent = sentBySid.get(entry.inReplyTo);
    if (entry.kind === "received") setState(sent, "answered");
    else if (entry.kind === "error") setState(sent, "failed");
    else if (entry.kind === "ack") setState(sent, entry.awaitingReply ? "waiting" : "done");
  }
  if (entry.kind === "received") refreshCollections();
  if (stick || entry.kind === "sent") scrollToEnd();
}

// highlight scrolls to the message sid and flashes it.
function highlight(sid) {
  const sent = sentBySid.get(sid);
  if (!sent || !sent.li.isConnected) return;
  sent.li.scrollIntoView({ block: "center" });
  sent.li.classList.remove("flash");
  void sent.li.offsetWidth; // restart the animation
  sent.li.classList.add("flash");
}

function fileChip(type) {
  const div = document.createElement("div");
  div.className = "file";
  div.textContent = "Attachment: " + (type || "unknown type");
  return div;
}

function metaText(e) {
  const t = formatTime(e.time);
  switch (e.kind) {
    case "sent": return t + " · " + sidText(e.messageSid);
    case "ack": return t + " · webhook answered " + e.status;
    case "received": return t + " · SMS from " + e.from;
    default: return t;
  }
}

function clearThread() {
  thread.replaceChildren();
  sentBySid.clear();
  showEmpty();
}

function follow() {
  const source = new EventSource("/api/events");
  source.addEventListener("entry", (ev) => render(JSON.parse(ev.data)));
  source.addEventListener("clear", clearThread);
  source.onerror = () => { /* EventSource reconnects with Last-Event-ID */ };
}

async function loadInfo() {
  const res = await fetch("/api/info");
  const info = await res.json();
  $("bot-number").textContent = info.twilioNumber;
  $("user-number").textContent = info.userNumber;
  $("webhook").textContent = info.webhookUrl;
  $("account").textContent = info.accountSid;
  $("auth-token").textContent = info.authToken;
  const mode = $("mode");
  mode.textContent = info.mode || "offline";
  mode.classList.toggle("cloud", info.mode === "cloud");
}

function showAttachment() {
  const file = mediaInput.files[0];
  const box = $("attachment");
  const thumb = $("attachment-thumb");
  if (thumb.src) URL.revokeObjectURL(thumb.src);
  thumb.removeAttribute("src");
  if (!file) { box.hidden = true; return; }
  $("attachment-name").textContent = file.name + " (" + Math.ceil(file.size / 1024) + " KB)";
  if (file.type.startsWith("image/")) thumb.src = URL.createObjectURL(file);
  box.hidden = false;
}

function clearAttachment() {
  mediaInput.value = "";
  showAttachment();
}

async function send(ev) {
  ev.preventDefault();
  const text = bodyInput.value;
  const file = mediaInput.files[0];
  if (!text.trim() && !file) {
    statusLine.textContent = "Type a message or attach a photo.";
    return;
  }
  const data = new FormData();
  data.append("body", text);
  if (file) data.append("media", file);
  sendButton.disabled = true;
  statusLine.textContent = "";
  try {
    const res = await fetch("/api/messages", { method: "POST", body: data });
    const out = await res.json();
    if (!res.ok) {
      statusLine.textContent = out.error || ("HTTP " + res.status);
      return;
    }
    if (file && out.messageSid && file.type.startsWith("image/")) {
      localPhotos.set(out.messageSid, URL.createObjectURL(file));
    }
    bodyInput.value = "";
    clearAttachment();
  } catch (err) {
    statusLine.textContent = "The simulator is not answering: " + err.message;
  } finally {
    sendButton.disabled = false;
    bodyInput.focus();
  }
}

async function refreshDeadLetters() {
  try {
    const res = await fetch("/_dev/dlq");
    const letters = await res.json();
    const count = $("dlq-count");
    count.textContent = letters.length;
    count.classList.toggle("some", letters.length > 0);
    $("dlq").replaceChildren(...letters.slice().reverse().map((l) => {
      const li = document.createElement("li");
      const summary = document.createElement("div");
      summary.className = "err";
      summary.textContent = l.summary;
      const when = document.createElement("div");
      when.className = "when";
      when.textContent = formatTime(l.time) + (l.messageSid ? " · " + sidText(l.messageSid) : "");
      li.append(summary, when);
      return li;
    }));
  } catch {
    // The simulator is restarting; try again at the next tick.
  }
}

let collectionsTimer = 0;

// refreshCollections reloads the collections panel, at most every 200 ms.
function refreshCollections() {
  clearTimeout(collectionsTimer);
  collectionsTimer = setTimeout(loadCollections, 200);
}

async function loadCollections() {
  try {
    const res = await fetch("/api/collections");
    const view = await res.json();
    $("collections-count").textContent = view.collections.length;
    if (!view.available) $("collections-note").textContent = view.note;
    $("collections").replaceChildren(...view.collections.map((c) => {
      const li = document.createElement("li");
      li.className = "collection";
      li.dataset.name = c.name;
      const head = document.createElement("div");
      head.className = "collection-name";
      head.textContent = c.name + " · " + c.faces.length + (c.faces.length === 1 ? " face" : " faces");
      const faces = document.createElement("ul");
      faces.className = "faces";
      faces.append(...c.faces.map((f) => {
        const item = document.createElement("li");
        item.className = "face";
        item.title = f.name + " · added " + formatTime(f.indexedAt);
        if (f.photo) {
          const img = document.createElement("img");
          img.src = f.photo;
          img.alt = f.displayName;
          item.append(img);
        } else {
          const initials = document.createElement("span");
          initials.className = "initials";
          initials.textContent = f.displayName.split(" ").map((w) => w[0] || "").join("").slice(0, 2).toUpperCase();
          item.append(initials);
        }
        const name = document.createElement("span");
        name.className = "face-name";
        name.textContent = f.displayName;
        item.append(name);
        return item;
      }));
      li.append(head, faces);
      return li;
    }));
  } catch {
    // The simulator is restarting; try again at the next tick.
  }
}

form.addEventListener("submit", send);
mediaInput.addEventListener("change", showAttachment);
$("attachment-clear").addEventListener("click", clearAttachment);
$("clear").addEventListener("click", async () => {
  try {
    const res = await fetch("/api/thread", { method: "DELETE" });
    if (!res.ok) statusLine.textContent = "Could not clear the thread: HTTP " + res.status;
  } catch (err) {
    statusLine.textContent = "The simulator is not answering: " + err.message;
  }
});
document.querySelectorAll(".chip").forEach((chip) => {
  chip.addEventListener("click", () => {
    bodyInput.value = chip.dataset.text;
    bodyInput.focus();
    if (chip.hasAttribute("data-photo") && !mediaInput.files.length) mediaInput.click();
  });
});

loadInfo();
follow();
refreshDeadLetters();
loadCollections();
setInterval(refreshDeadLetters, 2000);
setInterval(loadCollections, 5000);
