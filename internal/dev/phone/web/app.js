// Phone simulator page: sends what is typed (and the attached photo) to the
// simulator, which posts the signed Twilio webhook; follows the thread over
// server-sent events; shows the dev bus's dead letters.
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

function formatTime(iso) {
  const d = new Date(iso);
  return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

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

function render(entry) {
  if (shown.has(entry.seq)) return;
  shown.add(entry.seq);
  $("empty")?.remove();

  const li = document.createElement("li");
  li.className = "msg " + entry.kind;
  li.dataset.kind = entry.kind;
  li.dataset.seq = entry.seq;
  if (entry.messageSid) li.dataset.messageSid = entry.messageSid;
  if (entry.inReplyTo) li.dataset.inReplyTo = entry.inReplyTo;

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
      tag.textContent = "TwiML reply";
      bubble.append(tag, document.createElement("br"));
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
  if (stick || entry.kind === "sent") scrollToEnd();
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
    case "sent": return t + " · " + e.messageSid.slice(0, 8) + "…";
    case "ack": return t + " · webhook answered " + e.status;
    case "received": return t + " · SMS from " + e.from;
    default: return t;
  }
}

function follow() {
  const source = new EventSource("/api/events");
  source.addEventListener("entry", (ev) => render(JSON.parse(ev.data)));
  source.onerror = () => { /* EventSource reconnects with Last-Event-ID */ };
}

async function loadInfo() {
  const res = await fetch("/api/info");
  const info = await res.json();
  $("bot-number").textContent = info.twilioNumber;
  $("user-number").textContent = info.userNumber;
  $("webhook").textContent = info.webhookUrl;
  $("account").textContent = info.accountSid;
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
    const list = $("dlq");
    list.replaceChildren(...letters.slice().reverse().map((l) => {
      const li = document.createElement("li");
      const fn = document.createElement("div");
      fn.className = "fn";
      fn.textContent = l.function + " · " + l.attempts + " attempts";
      const err = document.createElement("div");
      err.className = "err";
      err.textContent = l.summary;
      const when = document.createElement("div");
      when.className = "when";
      when.textContent = formatTime(l.time) + (l.messageSid ? " · " + l.messageSid : "");
      li.append(fn, err, when);
      return li;
    }));
  } catch {
    // The simulator is restarting; try again at the next tick.
  }
}

form.addEventListener("submit", send);
mediaInput.addEventListener("change", showAttachment);
$("attachment-clear").addEventListener("click", clearAttachment);
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
setInterval(refreshDeadLetters, 2000);
