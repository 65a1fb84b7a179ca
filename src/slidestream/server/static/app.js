// The slidestream page: submit a deck, follow its events, show slides as they complete.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { job: null, source: null, hls: null, done: 0, total: 0, outline: null, lastEvent: 0 };
const RECONNECT_MS = 2000;

async function api(path, options = {}) {
  const response = await fetch(path, { credentials: "same-origin", ...options });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const message = body.error ? body.error.message : JSON.stringify(body.detail || body);
    const error = new Error(message || `HTTP ${response.status}`);
    error.status = response.status;
    throw error;
  }
  return body;
}

function fill(select, names, chosen) {
  select.replaceChildren(...names.map((name) => new Option(name, name, false, name === chosen)));
}

async function loadInfo() {
  const info = await api("/v1/info");
  for (const kind of ["script", "images", "tts"]) fill($(kind), info.providers[kind], info.defaults[kind]);
}

function setOutline(file) {
  state.outline = file;
  $("outline-name").textContent = file ? `${file.name} (${file.size} bytes)` : "";
  if (file) $("topic").value = "";
}

async function submit(event) {
  event.preventDefault();
  $("form-error").textContent = "";
  const topic = $("topic").value.trim();
  if (!topic && !state.outline) {
    $("form-error").textContent = "Enter a topic or drop a Markdown outline.";
    return;
  }
  const fields = { images: $("images").value, tts: $("tts").value, video: $("video").checked };
  if ($("slides").value) fields.slides = Number($("slides").value);
  let options;
  if (state.outline) {
    const form = new FormData();
    for (const [key, value] of Object.entries(fields)) form.append(key, String(value));
    form.append("outline", state.outline, state.outline.name);
    options = { method: "POST", body: form };
  } else {
    fields.topic = topic;
    fields.script = $("script").value;
    options = { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(fields) };
  }
  $("go").disabled = true;
  try {
    const created = await api("/v1/decks", options);
    history.replaceState(null, "", created.links.page);
    follow(created.id);
  } catch (error) {
    $("form-error").textContent = error.message;
    $("go").disabled = false;
  }
}

function reset() {
  if (state.source) state.source.close();
  if (state.hls) state.hls.destroy();
  Object.assign(state, { source: null, hls: null, done: 0, total: 0, lastEvent: 0 });
  $("slides-done").replaceChildren();
  $("downloads").replaceChildren();
  $("downloads").hidden = true;
  $("run-error").textContent = "";
  $("preview").hidden = true;
  $("run").hidden = false;
}

function follow(id) {
  reset();
  state.job = id;
  connect();
  refresh().catch(showRunError);
}

function connect() {
  const after = state.lastEvent ? `?after=${state.lastEvent}` : "";
  const source = new EventSource(`/v1/decks/${state.job}/events${after}`);
  state.source = source;
  const on = (kind, handler) => source.addEventListener(kind, (e) => {
    state.lastEvent = Number(e.lastEventId) || state.lastEvent;
    handler(JSON.parse(e.data));
  });
  on("outline", (data) => {
    $("title").textContent = data.outline.title;
    state.total = data.outline.items.length;
    setState("running");
    progress();
  });
  on("slide", (data) => slideDone(data));
  on("preview", (data) => preview(data));
  on("resumed", () => resumed());
  on("deck", () => finished());
  on("failed", (data) => failed(data));
  source.addEventListener("error", () => streamLost(source));
}

async function streamLost(source) {
  // EventSource reconnects by itself when a connection drops, but an answer that is not an
  // event stream (a proxy's 502 while the server restarts, a 404) closes it for good.
  if (source.readyState !== EventSource.CLOSED || state.source !== source) return;
  try {
    await refresh();
  } catch (error) {
    showRunError(error);
    if (error.status >= 400 && error.status < 500) return; // no such deck, or no access
  }
  setTimeout(() => { if (state.source === source) connect(); }, RECONNECT_MS);
}

function showRunError(error) {
  $("run-error").textContent = error.message;
  if (error.status === 404) setState("unavailable");
}

async function refresh() {
  const view = await api(`/v1/decks/${state.job}`);
  $("title").textContent = view.title || view.topic;
  setState(view.status);
  if (!view.error) $("run-error").textContent = "";
  return view;
}

function setState(status) {
  $("state").textContent = status;
  $("state").className = `badge ${status}`;
}

function progress() {
  const share = state.total ? state.done / state.total : 0;
  $("bar").style.width = `${Math.round(share * 100)}%`;
  $("counts").textContent = state.total ? `${state.done} of ${state.total} slides complete` : "";
}

function fileUrl(name) {
  return `/v1/decks/${state.job}/files/${name.split("/").map(encodeURIComponent).join("/")}`;
}

async function slideDone(data) {
  state.done += 1;
  progress();
  const card = document.createElement("li");
  card.className = "slide";
  card.id = `slide-${data.index}`;
  card.dataset.index = String(data.index);
  const frame = document.createElement("img");
  frame.className = "frame";
  frame.alt = "";
  const body = document.createElement("div");
  body.className = "body";
  const order = document.createElement("div");
  order.className = "order";
  order.textContent = `slide ${data.index + 1} · complete #${state.done}`;
  const title = document.createElement("h3");
  title.textContent = data.script.title;
  body.append(order, title);
  for (const error of data.errors) {
    const line = document.createElement("p");
    line.className = "error";
    line.textContent = `${error.stage}: ${error.message}`;
    body.append(line);
  }
  card.append(frame, body);
  $("slides-done").append(card);
  const view = await api(`/v1/decks/${state.job}`);
  const slide = view.slides[data.index];
  if (slide && slide.audio_file) {
    const audio = document.createElement("audio");
    audio.controls = true;
    audio.preload = "auto";
    audio.src = fileUrl(slide.audio_file);
    body.append(audio);
  }
  if (slide && slide.frame_file) frame.src = fileUrl(slide.frame_file);
}

function preview(data) {
  const card = $(`slide-${data.index}`);
  if (card) card.querySelector(".frame").src = fileUrl(data.frame);
  const video = $("preview");
  if (!video.hidden) return;
  video.hidden = false;
  const url = `/v1/decks/${state.job}/live.m3u8`;
  if (window.Hls && window.Hls.isSupported()) {
    state.hls = new window.Hls({ xhrSetup: (xhr) => { xhr.withCredentials = true; } });
    state.hls.loadSource(url);
    state.hls.attachMedia(video);
  } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
    video.src = url;
  }
}

function resumed() {
  // The server restarted and makes the deck again: its slides arrive anew (finished ones
  // from the cache), so start the list over.
  state.done = 0;
  $("slides-done").replaceChildren();
  progress();
}

const LABELS = { mp4: "MP4 video", pptx: "PowerPoint", pdf: "PDF", mp3: "MP3 narration", srt: "Subtitles (SRT)", vtt: "Subtitles (VTT)" };

async function finished() {
  state.source.close();
  const view = await refresh();
  state.done = view.slides_done;
  state.total = view.slides_total || state.total;
  progress();
  const links = Object.entries(view.downloads).map(([kind, file]) => {
    const link = document.createElement("a");
    link.href = file.url;
    link.download = file.name;
    link.dataset.kind = kind;
    link.textContent = LABELS[kind] || kind;
    return link;
  });
  $("downloads").replaceChildren(...links);
  $("downloads").hidden = links.length === 0;
  $("go").disabled = false;
}

async function failed(data) {
  state.source.close();
  $("run-error").textContent = data.message;
  await refresh();
  $("go").disabled = false;
}

function setupDrop() {
  const zone = $("drop");
  zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    zone.classList.remove("over");
    if (e.dataTransfer.files.length) setOutline(e.dataTransfer.files[0]);
  });
  $("outline").addEventListener("change", (e) => setOutline(e.target.files[0] || null));
  $("topic").addEventListener("input", () => { if ($("topic").value) setOutline(null); });
}

setupDrop();
$("make").addEventListener("submit", submit);
loadInfo().catch((error) => { $("form-error").textContent = error.message; });
const existing = new URLSearchParams(location.search).get("deck");
if (existing) follow(existing);
