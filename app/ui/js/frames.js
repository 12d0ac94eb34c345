// Frames and their masks on the page. Images come through fetch (they need the bearer token,
// which an <img src> cannot send) and are shown as blob: URLs. Small pictures are thumbnails
// stored at analysis time, read from disk and cacheable, so they are all asked for at once;
// larger ones (and frames of analyses made before thumbnails) the server extracts with
// ffmpeg, so only a few of those are asked for at once, and only when they scroll into view.

import { getBlob, getJson } from "./api.js";
import { h } from "./dom.js";

// Drawn (NP) regions are tinted in the colour the server's overlay images use.
const NP_TINT = [255, 0, 160];
const MAX_PARALLEL = 3;
const CACHE_LIMIT = 300;

const cache = new Map(); // key -> Promise<blob: URL>
let running = 0;
const waiting = [];

function limited(task) {
  return new Promise((resolve, reject) => {
    waiting.push({ task, resolve, reject });
    next();
  });
}

function next() {
  while (running < MAX_PARALLEL && waiting.length) {
    const { task, resolve, reject } = waiting.shift();
    running += 1;
    task()
      .then(resolve, reject)
      .finally(() => {
        running -= 1;
        next();
      });
  }
}

function cached(key, load, { cheap = false } = {}) {
  if (!cache.has(key)) {
    const promise = (cheap ? load() : limited(load)).then((blob) => URL.createObjectURL(blob));
    promise.catch(() => cache.delete(key));
    cache.set(key, promise);
    if (cache.size > CACHE_LIMIT) {
      const [oldestKey, oldest] = cache.entries().next().value;
      cache.delete(oldestKey);
      oldest.then((url) => URL.revokeObjectURL(url), () => {});
    }
  }
  return cache.get(key);
}

// The long side of the thumbnails the server stores (app/analysis/thumbnails.py).
const THUMBNAIL_SIZE = 320;

function extractedImageUrl(filmId, frameIndex, maxSize) {
  return cached(`image/${filmId}/${frameIndex}/${maxSize}`, () =>
    getBlob(`films/${filmId}/frames/${frameIndex}/image`, { max_size: maxSize }),
  );
}

function thumbnailUrl(filmId, frameIndex) {
  return cached(`thumbnail/${filmId}/${frameIndex}`, () => getBlob(`films/${filmId}/frames/${frameIndex}/thumbnail`), { cheap: true });
}

export function frameImageUrl(filmId, frameIndex, maxSize) {
  if (!maxSize || maxSize > THUMBNAIL_SIZE) return extractedImageUrl(filmId, frameIndex, maxSize);
  const thumbnail = thumbnailUrl(filmId, frameIndex);
  // No stored thumbnail (an analysis made before they were stored): cut it from the film.
  return thumbnail.catch((error) => {
    if (error && error.status === 404) return extractedImageUrl(filmId, frameIndex, maxSize);
    throw error;
  });
}

// Asks for a frame's stored thumbnail before its card exists, so that the card finds it in
// the cache. Never falls back to ffmpeg: that waits for the card to be in view. Masks are not
// asked for here: they are hidden until switched on (see paintOverlays).
export function prefetchThumbnail(filmId, frame) {
  thumbnailUrl(filmId, frame.frame_index).catch(() => {});
}

// A sampled frame's record as it stands now (its class, P fraction and has_mask change with a
// correction), looked up around its time; null when it is not found.
export async function currentFrame(film, frame) {
  const epsilon = 0.25 / (film.fps || 25);
  const page = await getJson(`films/${film.id}/frames`, {
    min_time_s: Math.max(0, frame.time_s - epsilon).toFixed(6),
    max_time_s: (frame.time_s + epsilon).toFixed(6),
    limit: 5,
  });
  return page.items.find((item) => item.frame_index === frame.frame_index) || null;
}

// Only for a frame whose record says it has a mask (has_mask): the others answer 404.
export function maskUrl(filmId, frameIndex) {
  return cached(`mask/${filmId}/${frameIndex}`, () => getBlob(`films/${filmId}/frames/${frameIndex}/mask`), { cheap: true });
}

// A mask changed (saved, reverted, propagated): the next maskUrl asks the server again.
export function forgetMask(filmId, frameIndex) {
  const key = `mask/${filmId}/${frameIndex}`;
  const stale = cache.get(key);
  cache.delete(key);
  stale?.then((url) => URL.revokeObjectURL(url), () => {});
}

function loadImage(url) {
  return new Promise((resolve, reject) => {
    const image = new Image();
    image.onload = () => resolve(image);
    image.onerror = () => reject(new Error("the image could not be decoded"));
    image.src = url;
  });
}

// Paints the NP part of a 1-bit mask (white = photographic) over a canvas the frame's size:
// diagonal stripes, which stand out on a picture of any colour, inside a solid outline.
export async function paintMask(canvas, maskBlobUrl) {
  const mask = await loadImage(maskBlobUrl);
  const { width, height } = canvas;
  const context = canvas.getContext("2d", { willReadFrequently: true });
  context.imageSmoothingEnabled = false;
  context.clearRect(0, 0, width, height);
  context.drawImage(mask, 0, 0, width, height);
  const pixels = context.getImageData(0, 0, width, height);
  const data = pixels.data;
  const drawn = new Uint8Array(width * height);
  for (let i = 0; i < drawn.length; i += 1) drawn[i] = data[i * 4] < 128 ? 1 : 0;
  for (let y = 0; y < height; y += 1) {
    for (let x = 0; x < width; x += 1) {
      const i = y * width + x;
      const o = i * 4;
      if (!drawn[i]) {
        data[o + 3] = 0;
        continue;
      }
      const edge =
        (x > 0 && !drawn[i - 1]) ||
        (x < width - 1 && !drawn[i + 1]) ||
        (y > 0 && !drawn[i - width]) ||
        (y < height - 1 && !drawn[i + width]);
      data[o] = NP_TINT[0];
      data[o + 1] = NP_TINT[1];
      data[o + 2] = NP_TINT[2];
      data[o + 3] = edge ? 255 : (x + y) % 6 < 2 ? 230 : 90;
    }
  }
  context.putImageData(pixels, 0, 0);
}

// Without a pixel mask (a frame the model found all P or all NP is not segmented), the
// coarse grid of NP shares the classifier stores for every frame stands in.
export function paintGrid(canvas, npGrid) {
  const context = canvas.getContext("2d");
  const { width, height } = canvas;
  context.clearRect(0, 0, width, height);
  const rows = npGrid.length;
  npGrid.forEach((row, r) => {
    row.forEach((share, c) => {
      const x0 = Math.round((c * width) / row.length);
      const x1 = Math.round(((c + 1) * width) / row.length);
      const y0 = Math.round((r * height) / rows);
      const y1 = Math.round(((r + 1) * height) / rows);
      context.fillStyle = `rgba(${NP_TINT.join(",")}, ${(0.6 * share).toFixed(3)})`;
      context.fillRect(x0, y0, x1 - x0, y1 - y0);
    });
  });
}

// Paints the pixel mask of each frame picture under root whose picture is (or will be)
// shown. Pictures ask for their masks only when the overlay is on: on the film page masks are
// hidden until switched on, and asking for 48 masks with the 48 pictures held the pictures
// up (two requests per card where one does).
const overlayPainters = new WeakMap();

export function paintOverlays(root) {
  for (const element of root.querySelectorAll(".frame-picture")) overlayPainters.get(element)?.();
}

// A frame picture with its overlay canvas stacked on top; the picture loads when it
// scrolls into view (or at once with eager), its pixel mask once the overlay is on (an
// ancestor with masks-on, or paintOverlays). Returns {element, ready}; ready settles when
// the picture is shown, and with the mask painted when the overlay was on at that moment.
export function framePicture(filmId, frame, { maxSize, alt, eager = false }) {
  const image = h("img", { alt, class: "frame-image", decoding: "async" });
  const overlay = h("canvas", { class: "frame-overlay", "aria-hidden": "true" });
  const status = h("span", { class: "frame-status" }, "Loading frame…");
  const element = h("div", { class: "frame-picture", dataset: { overlay: frame.has_mask ? "mask" : "grid" } }, image, overlay, status);
  let resolveReady;
  let rejectReady;
  const ready = new Promise((resolve, reject) => {
    resolveReady = resolve;
    rejectReady = reject;
  });
  ready.catch(() => {});
  let shown = false;
  let maskPainted = null;

  // Paints the mask once the picture is shown (it sizes the canvas); asked for before that
  // it waits for load() to call it again.
  function paintOverlay() {
    if (!frame.has_mask) return Promise.resolve();
    if (!shown) {
      maskUrl(filmId, frame.frame_index).catch(() => {});
      return Promise.resolve();
    }
    maskPainted ??= maskUrl(filmId, frame.frame_index)
      .then((url) => paintMask(overlay, url))
      .then(() => {
        element.dataset.painted = "mask";
      });
    return maskPainted;
  }
  overlayPainters.set(element, paintOverlay);

  async function load() {
    try {
      const url = await frameImageUrl(filmId, frame.frame_index, maxSize);
      image.src = url;
      await image.decode();
      overlay.width = image.naturalWidth;
      overlay.height = image.naturalHeight;
      element.style.setProperty("--aspect", String(image.naturalWidth / image.naturalHeight));
      shown = true;
      if (!frame.has_mask && frame.np_grid) {
        paintGrid(overlay, frame.np_grid);
        element.dataset.painted = "grid";
      }
      if (element.closest(".masks-on")) await paintOverlay();
      status.remove();
      element.classList.add("loaded");
      resolveReady();
    } catch (error) {
      status.textContent = `Frame unavailable: ${error.message}`;
      element.classList.add("failed");
      rejectReady(error);
    }
  }

  if (eager || !("IntersectionObserver" in window)) {
    load();
  } else {
    const observer = new IntersectionObserver(
      (entries) => {
        if (entries.some((entry) => entry.isIntersecting)) {
          observer.disconnect();
          load();
        }
      },
      { rootMargin: "200px" },
    );
    observer.observe(element);
  }
  return { element, ready };
}
