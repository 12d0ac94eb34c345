// Correcting a frame's mask on the frame view: paint P or NP with a round brush, fill a
// connected region, undo and redo, save (PUT a single-channel PNG at the frame's size),
// revert the human mask, and spread the saved mask through the shot (a propagation job,
// followed until it ends). The working mask is one byte per pixel of the film's picture:
// 1 = photographic (P), 0 = drawn (NP).

import { ApiError, del, getJson, getResponse, postJson, putBlob } from "./api.js";
import { h, replace } from "./dom.js";
import { currentFrame, forgetMask, framePicture, paintMask } from "./frames.js";
import { encodeGreyPng } from "./png.js";

const NP_TINT = [255, 0, 160];
const HISTORY_LIMIT = 40;
const POLL_MS = 500;
export const SOURCE_LABELS = {
  human: "drawn by a person",
  propagated: "spread from a person's mask",
  model: "from the segmenter",
};

function decodeMask(blob, width, height) {
  return new Promise((resolve, reject) => {
    const url = URL.createObjectURL(blob);
    const image = new Image();
    image.onload = () => {
      const canvas = document.createElement("canvas");
      canvas.width = width;
      canvas.height = height;
      const context = canvas.getContext("2d", { willReadFrequently: true });
      context.imageSmoothingEnabled = false;
      context.drawImage(image, 0, 0, width, height);
      const data = context.getImageData(0, 0, width, height).data;
      const mask = new Uint8Array(width * height);
      for (let i = 0; i < mask.length; i += 1) mask[i] = data[i * 4] >= 128 ? 1 : 0;
      URL.revokeObjectURL(url);
      resolve(mask);
    };
    image.onerror = () => {
      URL.revokeObjectURL(url);
      reject(new Error("the mask could not be decoded"));
    };
    image.src = url;
  });
}

// Without any mask, a start from what the classifier said: its coarse grid of NP shares.
function maskFromFrame(frame, width, height) {
  const mask = new Uint8Array(width * height);
  const grid = frame.np_grid;
  for (let y = 0; y < height; y += 1) {
    for (let x = 0; x < width; x += 1) {
      let p = frame.frame_class === "P" ? 1 : 0;
      if (grid && grid.length && frame.frame_class === "hybrid") {
        const row = grid[Math.min(grid.length - 1, Math.floor((y * grid.length) / height))];
        p = row[Math.min(row.length - 1, Math.floor((x * row.length) / width))] < 0.5 ? 1 : 0;
      }
      mask[y * width + x] = p;
    }
  }
  return mask;
}

// Sets every pixel of the 4-connected region holding (x, y) to value; false if it already was.
export function floodFill(mask, width, height, x, y, value) {
  const start = y * width + x;
  const from = mask[start];
  if (from === value) return false;
  const stack = new Int32Array(width * height);
  let top = 0;
  stack[top++] = start;
  mask[start] = value;
  while (top > 0) {
    const i = stack[--top];
    const px = i % width;
    const neighbours = [px > 0 ? i - 1 : -1, px < width - 1 ? i + 1 : -1, i >= width ? i - width : -1, i + width < mask.length ? i + width : -1];
    for (const n of neighbours) {
      if (n >= 0 && mask[n] === from) {
        mask[n] = value;
        stack[top++] = n;
      }
    }
  }
  return true;
}

// The badge that names the layer a mask comes from (X-Mask-Source).
export function setSourceBadge(badge, source) {
  badge.textContent = source ? `Mask: ${source}` : "Mask: none";
  badge.title = source ? SOURCE_LABELS[source] || source : "No mask: the classifier's grid is shown";
  badge.className = `badge source-${source || "none"}`;
  badge.dataset.source = source || "none";
}

// maskEditor({film, frame, picture, stage, sourceBadge, context, onChanged}) -> {element, ready, stop}
export function maskEditor({ film, frame, picture, stage, sourceBadge, context, onChanged }) {
  const overlay = picture.element.querySelector(".frame-overlay");
  const layer = h("canvas", { class: "edit-layer", "aria-label": "Mask editor: paint on the frame" });
  picture.element.append(layer);
  const filmPath = `films/${film.id}`;
  const maskPath = `${filmPath}/frames/${frame.frame_index}/mask`;

  const state = { width: 0, height: 0, mask: null, undo: [], redo: [], dirty: false, tool: "brush", value: 1, drawing: false, last: null, busy: false };

  const status = h("p", { class: "muted small", id: "editor-status", role: "status", "aria-live": "polite" });
  const radio = (name, value, label, checked) => {
    const input = h("input", { type: "radio", name, value, id: `${name}-${value}`, checked });
    return h("label", { class: "segment", for: `${name}-${value}` }, input, h("span", {}, label));
  };
  const brushSize = h("input", { id: "brush-size", type: "range", min: 1, max: 200, step: 1, value: 12 });
  const brushText = h("output", { for: "brush-size", id: "brush-size-value" }, "12 px");
  const button = (id, label, onclick, extra = {}) => h("button", { type: "button", id, class: "button secondary small", onclick, ...extra }, label);
  const undoButton = button("mask-undo", "Undo", () => undo(), { disabled: true, title: "Ctrl+Z" });
  const redoButton = button("mask-redo", "Redo", () => redo(), { disabled: true, title: "Ctrl+Shift+Z" });
  const saveButton = h("button", { type: "button", id: "mask-save", class: "button small", disabled: true, onclick: () => save() }, "Save mask");
  const revertButton = button("mask-revert", "Revert", () => revert(), { title: "Drop this frame's human mask: the propagated or the model's mask is in force again" });
  const spreadButton = h(
    "button",
    { type: "button", id: "mask-propagate", class: "button small", disabled: frame.shot_number == null, onclick: () => propagate() },
    frame.shot_number == null ? "Spread through the shot (no shot)" : `Spread through shot ${frame.shot_number}`,
  );
  const unspreadButton = button("mask-unspread", "Undo the spread", () => unspread(), {
    disabled: frame.shot_number == null,
    title: "Drop every propagated mask of this shot: the model's masks are in force again (human masks stay)",
  });
  const progress = h("progress", { id: "propagate-progress", max: 100, value: 0, hidden: true });
  const shotStrip = h("ul", { class: "frame-grid shot-strip masks-on", id: "shot-strip", "aria-label": "Frames of the shot" });

  const element = h(
    "section",
    { class: "mask-editor needs-write", "aria-labelledby": "editor-heading" },
    h("h2", { id: "editor-heading" }, "Correct the mask"),
    h(
      "div",
      { class: "editor-tools" },
      h("fieldset", { class: "segments" }, h("legend", { class: "visually-hidden" }, "Tool"), radio("tool", "brush", "Brush", true), radio("tool", "fill", "Fill region", false)),
      h("fieldset", { class: "segments" }, h("legend", { class: "visually-hidden" }, "Paint"), radio("paint", "P", "P (photographic)", true), radio("paint", "NP", "NP (drawn)", false)),
      h("label", { for: "brush-size" }, "Brush"),
      brushSize,
      brushText,
    ),
    h("div", { class: "actions wrap" }, undoButton, redoButton, saveButton, revertButton, spreadButton, unspreadButton, progress),
    status,
    shotStrip,
  );

  element.addEventListener("change", (event) => {
    if (event.target.name === "tool") state.tool = event.target.value;
    if (event.target.name === "paint") state.value = event.target.value === "P" ? 1 : 0;
  });
  brushSize.addEventListener("input", () => {
    brushText.textContent = `${brushSize.value} px`;
  });

  function setStatus(text) {
    status.textContent = text;
  }

  function refreshButtons() {
    undoButton.disabled = !state.undo.length || state.busy;
    redoButton.disabled = !state.redo.length || state.busy;
    saveButton.disabled = !state.dirty || state.busy;
    revertButton.disabled = state.busy;
    spreadButton.disabled = state.busy || frame.shot_number == null;
    stage.classList.toggle("editing", state.dirty);
  }

  function render(x0 = 0, y0 = 0, x1 = state.width, y1 = state.height) {
    const { width, mask } = state;
    x0 = Math.max(0, Math.floor(x0));
    y0 = Math.max(0, Math.floor(y0));
    x1 = Math.min(state.width, Math.ceil(x1));
    y1 = Math.min(state.height, Math.ceil(y1));
    if (x1 <= x0 || y1 <= y0) return;
    const context2d = layer.getContext("2d");
    const pixels = context2d.createImageData(x1 - x0, y1 - y0);
    const data = pixels.data;
    for (let y = y0; y < y1; y += 1) {
      for (let x = x0; x < x1; x += 1) {
        const o = ((y - y0) * (x1 - x0) + (x - x0)) * 4;
        if (mask[y * width + x]) continue;
        data[o] = NP_TINT[0];
        data[o + 1] = NP_TINT[1];
        data[o + 2] = NP_TINT[2];
        data[o + 3] = (x + y) % 6 < 2 ? 230 : 110;
      }
    }
    context2d.putImageData(pixels, x0, y0);
  }

  // Whether a mask is in force (any layer). The mask is asked for only then: a frame that was
  // never segmented (called P or NP as a whole) has none, and asking would answer 404. Known
  // from the frame's record, true after a save, read again after a revert or an undone spread.
  let hasMask = frame.has_mask;

  async function recheckMask() {
    const now = await currentFrame(film, frame);
    hasMask = Boolean(now && now.has_mask);
  }

  // The effective mask (human > propagated > model) and the layer it comes from.
  async function loadEffective() {
    forgetMask(film.id, frame.frame_index);
    let source = null;
    let blob = null;
    if (hasMask) {
      try {
        const response = await getResponse(maskPath);
        source = response.headers.get("X-Mask-Source");
        blob = await response.blob();
      } catch (error) {
        if (!(error instanceof ApiError && error.status === 404)) throw error;
      }
    }
    state.mask = blob ? await decodeMask(blob, state.width, state.height) : maskFromFrame(frame, state.width, state.height);
    state.dirty = false;
    if (blob) {
      overlay.width = overlay.width || state.width;
      overlay.height = overlay.height || state.height;
      const url = URL.createObjectURL(blob);
      await paintMask(overlay, url);
      URL.revokeObjectURL(url);
      picture.element.dataset.painted = "mask";
    }
    picture.element.dataset.maskSource = source || "none";
    setSourceBadge(sourceBadge, source);
    layer.getContext("2d").clearRect(0, 0, state.width, state.height);
    render();
    refreshButtons();
    return source;
  }

  function remember() {
    state.undo.push(state.mask.slice());
    if (state.undo.length > HISTORY_LIMIT) state.undo.shift();
    state.redo = [];
  }

  function changed() {
    state.dirty = true;
    refreshButtons();
  }

  function undo() {
    if (!state.undo.length) return;
    state.redo.push(state.mask);
    state.mask = state.undo.pop();
    layer.getContext("2d").clearRect(0, 0, state.width, state.height);
    render();
    changed();
  }

  function redo() {
    if (!state.redo.length) return;
    state.undo.push(state.mask);
    state.mask = state.redo.pop();
    layer.getContext("2d").clearRect(0, 0, state.width, state.height);
    render();
    changed();
  }

  function point(event) {
    const box = layer.getBoundingClientRect();
    return {
      x: Math.min(state.width - 1, Math.max(0, Math.floor(((event.clientX - box.left) * state.width) / box.width))),
      y: Math.min(state.height - 1, Math.max(0, Math.floor(((event.clientY - box.top) * state.height) / box.height))),
    };
  }

  function stamp(cx, cy, radius) {
    const { width, height, mask, value } = state;
    const r2 = radius * radius;
    for (let y = Math.max(0, Math.ceil(cy - radius)); y <= Math.min(height - 1, Math.floor(cy + radius)); y += 1) {
      for (let x = Math.max(0, Math.ceil(cx - radius)); x <= Math.min(width - 1, Math.floor(cx + radius)); x += 1) {
        if ((x - cx) ** 2 + (y - cy) ** 2 <= r2) mask[y * width + x] = value;
      }
    }
  }

  // A stroke from a to b: stamps a quarter of the radius apart, then one repaint of the box.
  function strokeTo(a, b) {
    const radius = Math.max(0.5, Number(brushSize.value) / 2);
    const steps = Math.max(1, Math.ceil(Math.hypot(b.x - a.x, b.y - a.y) / Math.max(1, radius / 4)));
    for (let s = 0; s <= steps; s += 1) stamp(a.x + ((b.x - a.x) * s) / steps, a.y + ((b.y - a.y) * s) / steps, radius);
    render(Math.min(a.x, b.x) - radius - 1, Math.min(a.y, b.y) - radius - 1, Math.max(a.x, b.x) + radius + 2, Math.max(a.y, b.y) + radius + 2);
  }

  layer.addEventListener("pointerdown", (event) => {
    if (!state.mask || state.busy || event.button !== 0) return;
    event.preventDefault();
    const at = point(event);
    remember();
    if (state.tool === "fill") {
      if (floodFill(state.mask, state.width, state.height, at.x, at.y, state.value)) {
        render();
        changed();
      } else {
        state.undo.pop();
      }
      return;
    }
    layer.setPointerCapture(event.pointerId);
    state.drawing = true;
    state.last = at;
    strokeTo(at, at);
    changed();
  });
  layer.addEventListener("pointermove", (event) => {
    if (!state.drawing) return;
    const at = point(event);
    strokeTo(state.last, at);
    state.last = at;
  });
  const endStroke = () => {
    state.drawing = false;
    state.last = null;
  };
  layer.addEventListener("pointerup", endStroke);
  layer.addEventListener("pointercancel", endStroke);

  async function busy(task) {
    state.busy = true;
    refreshButtons();
    try {
      return await task();
    } catch (error) {
      setStatus(`Failed: ${error.message}.`);
      context.showMessage(`The mask could not be changed: ${error.message}.`);
      return null;
    } finally {
      state.busy = false;
      refreshButtons();
    }
  }

  async function saveNow() {
    const pixels = new Uint8Array(state.mask.length);
    for (let i = 0; i < pixels.length; i += 1) pixels[i] = state.mask[i] ? 255 : 0;
    const png = await encodeGreyPng(state.width, state.height, pixels);
    const version = await putBlob(maskPath, png);
    hasMask = true;
    await loadEffective();
    setStatus(`Saved: version ${version.version} of this frame's mask, ${Math.round(100 * version.p_fraction)} % P.`);
    onChanged?.();
    return version;
  }

  function save() {
    return busy(saveNow);
  }

  function revert() {
    return busy(async () => {
      try {
        await del(maskPath);
      } catch (error) {
        if (!(error instanceof ApiError && error.status === 404)) throw error;
        setStatus("This frame has no saved mask to revert.");
        state.undo = [];
        state.redo = [];
        await loadEffective();
        return;
      }
      state.undo = [];
      state.redo = [];
      await recheckMask();
      const source = await loadEffective();
      setStatus(`Reverted: the mask now comes from ${source || "no layer"}.`);
      onChanged?.();
    });
  }

  async function showShot() {
    const page = await getJson(`${filmPath}/frames`, { shot_number: frame.shot_number, limit: 200 });
    const others = page.items.filter((item) => item.frame_index !== frame.frame_index);
    for (const item of others) forgetMask(film.id, item.frame_index);
    replace(
      shotStrip,
      others.map((item) => {
        const thumb = framePicture(film.id, item, { maxSize: 240, alt: `Frame ${item.frame_index}`, eager: true });
        return h(
          "li",
          { class: "frame-card", dataset: { frameIndex: item.frame_index, maskSource: item.mask_source || "none" } },
          h(
            "a",
            { href: `#/films/${film.id}/frames/${item.frame_index}` },
            thumb.element,
            h("span", { class: "frame-caption" }, `Frame ${item.frame_index}`, h("span", { class: `badge source-${item.mask_source || "none"}` }, item.mask_source || "no mask")),
          ),
        );
      }),
    );
    return others;
  }

  function propagate() {
    return busy(async () => {
      if (state.dirty) await saveNow();
      let job = await postJson(`${filmPath}/shots/${frame.shot_number}/propagate`);
      progress.hidden = false;
      while (job.status === "queued" || job.status === "running") {
        progress.value = job.overall_percent || 0;
        setStatus(`Spreading through shot ${frame.shot_number}: ${Math.round(job.overall_percent || 0)} %`);
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
        job = await getJson(`jobs/${job.id}`);
      }
      progress.value = 100;
      if (job.status !== "done") {
        setStatus(`The propagation ${job.status}: ${job.error || "no reason given"}.`);
        return;
      }
      const others = await showShot();
      const spread = others.filter((item) => item.mask_source === "propagated").length;
      setStatus(`Spread through shot ${frame.shot_number}: ${spread} of its other ${others.length} frames now carry the propagated mask.`);
      onChanged?.();
    });
  }

  function unspread() {
    return busy(async () => {
      let reverted;
      try {
        reverted = await del(`${filmPath}/shots/${frame.shot_number}/propagated`);
      } catch (error) {
        if (!(error instanceof ApiError && error.status === 404)) throw error;
        setStatus(`Shot ${frame.shot_number} has no propagated mask to undo.`);
        return;
      }
      await showShot();
      await recheckMask();
      const source = await loadEffective();
      setStatus(`Undone: ${reverted.length} propagated masks of shot ${frame.shot_number} dropped; this frame's mask now comes from ${source || "no layer"}.`);
      onChanged?.();
    });
  }

  const onKey = (event) => {
    if (!(event.ctrlKey || event.metaKey) || event.target instanceof HTMLInputElement) return;
    const key = event.key.toLowerCase();
    if (key === "z" && !event.shiftKey) undo();
    else if ((key === "z" && event.shiftKey) || key === "y") redo();
    else return;
    event.preventDefault();
  };
  document.addEventListener("keydown", onKey);

  const ready = picture.ready.then(async () => {
    state.width = film.width || overlay.width;
    state.height = film.height || overlay.height;
    layer.width = state.width;
    layer.height = state.height;
    brushSize.value = String(Math.max(4, Math.round(state.width / 30)));
    brushText.textContent = `${brushSize.value} px`;
    await loadEffective();
    element.dataset.ready = "true";
  });
  ready.catch((error) => setStatus(`The editor could not start: ${error.message}.`));

  stage.classList.add("has-editor");
  return { element, ready, stop: () => document.removeEventListener("keydown", onKey) };
}
