// Upload panel: puts dropped images under incoming/ in the local S3 bucket
// and shows what the upload inspector made of each: the verdict and its
// reason, the labels with their translations, the engine (offline engines
// say they have no SafeSearch and no translation), and a thumbnail of the
// blurred copy when there is one.
"use strict";

(() => {
  const zone = document.getElementById("dropzone");
  const input = document.getElementById("upload-input");
  const list = document.getElementById("uploads");

  const el = (tag, cls, text) => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  };

  function show(item, r) {
    item.querySelector(".pending")?.remove();
    item.dataset.verdict = r.verdict;
    const head = item.querySelector(".upload-head");
    head.append(el("span", "verdict " + r.verdict, r.verdict));
    if (r.action && r.action !== "none") head.append(el("span", "action", r.action));
    if (r.reason) item.append(el("div", "reason", r.reason));
    if (r.labels && r.labels.length) {
      const ul = el("ul", "labels");
      for (const l of r.labels) {
        const li = el("li", "label");
        li.append(el("span", "description", l.description));
        li.append(el("span", "score", (l.score * 100).toFixed(0) + "%"));
        for (const [lang, text] of Object.entries(l.translations || {})) {
          const t = el("span", "translation", text);
          t.dataset.lang = lang;
          t.title = lang;
          li.append(t);
        }
        ul.append(li);
      }
      item.append(ul);
    }
    const notes = [r.engine ? "engine: " + r.engine : "", r.engineNote, r.translationNote, r.note].filter(Boolean);
    if (notes.length) item.append(el("div", "notes", notes.join(" · ")));
    if (r.publicUrl) {
      const img = el("img", "blurred");
      img.alt = "blurred copy";
      img.src = r.publicUrl;
      item.append(img);
    }
  }

  async function upload(file) {
    const item = el("li", "upload");
    const head = el("div", "upload-head");
    head.append(el("span", "name", file.name));
    item.append(head, el("div", "pending", "inspecting…"));
    list.prepend(item);
    try {
      const put = await fetch("/_dev/uploads?name=" + encodeURIComponent(file.name), {
        method: "POST", body: file, headers: { "Content-Type": file.type || "application/octet-stream" },
      });
      const up = await put.json();
      if (!put.ok) throw new Error(up.error || put.statusText);
      item.dataset.key = up.key;
      const got = await fetch("/_dev/uploads/result?name=" + encodeURIComponent(up.name) + "&versionId=" + encodeURIComponent(up.versionId));
      const r = await got.json();
      if (!got.ok) throw new Error(r.error || got.statusText);
      show(item, r);
    } catch (err) {
      item.querySelector(".pending")?.remove();
      item.dataset.verdict = "error";
      item.append(el("div", "reason", String(err.message || err)));
    }
  }

  const uploadAll = (files) => { for (const f of files) upload(f); };
  input.addEventListener("change", () => { uploadAll(input.files); input.value = ""; });
  zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    zone.classList.remove("over");
    uploadAll(e.dataTransfer.files);
  });
})();
