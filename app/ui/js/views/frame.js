// One sampled frame, large: the mask over it with adjustable opacity, its P fraction, class,
// timecode and shot; the previous and next sampled frames one key away; "more like this", a
// grid of the archive's frames that look most like it.

import { download, getAccess, getAllPages, getJson } from "../api.js";
import { h, replace } from "../dom.js";
import { CLASS_LABELS, filmName, percent, timecode } from "../format.js";
import { currentFrame, framePicture, paintOverlays } from "../frames.js";
import { classBadge } from "./film.js";
// The layer the mask comes from for everyone; the mask editor under the picture for a write token.
import { maskEditor, setSourceBadge } from "../mask-editor.js";

const LARGE_SIZE = 1280;
// Frames are looked up in a window around frame / fps; a variable frame rate may put the
// frame elsewhere, and then the whole list is read.
const WINDOW_S = 30;
const OPACITY_KEY = "hybridlens.maskOpacity";

async function neighbour(film, frame, direction) {
  const path = `films/${film.id}/frames`;
  const epsilon = 0.25 / (film.fps || 25);
  if (direction > 0) {
    const page = await getJson(path, { min_time_s: (frame.time_s + epsilon).toFixed(6), limit: 1 });
    return page.items[0] || null;
  }
  if (frame.time_s - epsilon <= 0) return null;
  const before = { max_time_s: (frame.time_s - epsilon).toFixed(6) };
  const count = await getJson(path, { ...before, limit: 1 });
  if (!count.total) return null;
  const page = await getJson(path, { ...before, limit: 1, offset: count.total - 1 });
  return page.items[0] || null;
}

const SIMILAR_COUNT = 20;

// The frames of every film most like this one (GET /frames/similar), as a grid of cards
// linking to each; asked for when the button is pressed.
function similarSection(filmId, frameIndex) {
  const grid = h("ul", { class: "frame-grid similar-grid" });
  const status = h("p", { class: "muted small", "aria-live": "polite" });
  const button = h("button", { type: "button", class: "button secondary", id: "more-like-this" }, "More like this");
  button.addEventListener("click", async () => {
    button.disabled = true;
    status.textContent = "Looking for frames like this one…";
    try {
      const hits = await getJson("frames/similar", { film_id: filmId, frame_index: frameIndex, k: SIMILAR_COUNT });
      const filmIds = [...new Set(hits.map((hit) => hit.film_id))];
      const films = new Map(await Promise.all(filmIds.map(async (id) => [id, await getJson(`films/${id}`).catch(() => null)])));
      grid.replaceChildren(
        ...hits.map((hit) => {
          const film = films.get(hit.film_id);
          const name = film ? filmName(film) : `Film ${hit.film_id}`;
          const picture = framePicture(hit.film_id, { frame_index: hit.frame_index, has_mask: false, np_grid: null }, {
            maxSize: 320,
            alt: `Frame ${hit.frame_index} of ${name}`,
          });
          return h(
            "li",
            { class: "frame-card similar-card" },
            h(
              "a",
              { href: `#/films/${hit.film_id}/frames/${hit.frame_index}` },
              picture.element,
              h(
                "span",
                { class: "frame-caption" },
                h("span", {}, name),
                h("span", { class: "timecode" }, timecode(hit.frame_index, film ? film.fps : null)),
                h("span", { class: "similar-score", title: "Cosine similarity of the embeddings" }, percent(hit.score)),
              ),
            ),
          );
        }),
      );
      status.textContent = hits.length ? `${hits.length} frames, the most alike first.` : "No other frame to compare with yet.";
    } catch (error) {
      status.textContent =
        error.status === 404
          ? "This frame has no embedding (its film was analysed before embeddings were stored): analyse the film again to search for look-alikes."
          : `The search failed: ${error.message}.`;
    } finally {
      button.disabled = false;
    }
  });
  return h(
    "section",
    { class: "panel similar-section", "aria-labelledby": "similar-heading" },
    h("h2", { id: "similar-heading" }, "Look-alikes in the archive"),
    button,
    status,
    grid,
  );
}

// What the overlay shows: the pixel mask, or (a frame not segmented: the classifier called it
// P or NP as a whole, so no mask was made and none is asked for) the coarse grid, said plainly.
function overlayKind(frame) {
  return frame.has_mask ? "Pixel mask" : "Coarse grid of NP shares (no mask)";
}

function overlayNote(frame) {
  if (frame.has_mask) return "Drawn (NP) regions are striped in magenta inside an outline; photographic (P) regions are left as they are.";
  const called = frame.frame_class === "hybrid" ? "hybrid, but it was not segmented" : `${(CLASS_LABELS[frame.frame_class] || frame.frame_class).toLowerCase()} (${frame.frame_class}) as a whole`;
  return `No mask: the frame was called ${called}. Each cell is tinted magenta as much as the classifier found it drawn (NP).`;
}

async function findFrame(film, frameIndex) {
  const guess = frameIndex / (film.fps || 25);
  const window = await getJson(`films/${film.id}/frames`, {
    min_time_s: Math.max(0, guess - WINDOW_S).toFixed(3),
    max_time_s: (guess + WINDOW_S).toFixed(3),
    limit: 500,
  });
  let frames = window.items;
  let position = frames.findIndex((frame) => frame.frame_index === frameIndex);
  if (position === -1) {
    frames = await getAllPages(`films/${film.id}/frames`, {});
    position = frames.findIndex((frame) => frame.frame_index === frameIndex);
  }
  if (position === -1) return null;
  const frame = frames[position];
  // At the window's edge the neighbour may lie outside it: ask for it.
  const [previous, next] = await Promise.all([
    position > 0 ? frames[position - 1] : neighbour(film, frame, -1),
    position < frames.length - 1 ? frames[position + 1] : neighbour(film, frame, 1),
  ]);
  return { frame, previous, next };
}

export async function renderFrame(main, filmId, frameIndex, params, context) {
  const access = getAccess().catch(() => ({ can_write: false }));
  const film = await getJson(`films/${filmId}`);
  if (!context.isCurrent()) return null;
  const found = await findFrame(film, frameIndex);
  const me = await access;
  if (!context.isCurrent()) return null;
  const name = filmName(film);
  const code = timecode(frameIndex, film.fps);
  context.setCrumbs([{ label: "Films", href: "#/" }, { label: name, href: `#/films/${filmId}` }, { label: `Frame ${frameIndex}` }]);
  if (!found) {
    main.replaceChildren(
      h(
        "section",
        { class: "panel error-panel", role: "alert" },
        h("h1", {}, "Frame not found"),
        h("p", {}, `Frame ${frameIndex} is not one of the sampled frames of ${name}. `, h("a", { href: `#/films/${filmId}` }, "Back to the film"), "."),
      ),
    );
    return null;
  }
  const { frame, previous, next } = found;

  const picture = framePicture(filmId, frame, {
    maxSize: LARGE_SIZE,
    alt: `Frame ${frameIndex} of ${name} at ${code}`,
    eager: true,
  });
  picture.element.classList.add("large");
  const stage = h("div", { class: "frame-stage masks-on" }, picture.element);
  // The mask is asked for with the picture, not after it.
  paintOverlays(stage);

  const storedOpacity = Number(localStorage.getItem(OPACITY_KEY) ?? 60);
  const opacity = h("input", { id: "mask-opacity", type: "range", min: 0, max: 100, step: 5, value: storedOpacity });
  const opacityText = h("output", { for: "mask-opacity", id: "mask-opacity-value" }, `${storedOpacity} %`);
  const showMask = h("input", { id: "show-mask", type: "checkbox", role: "switch", checked: true });
  const applyOpacity = () => {
    stage.style.setProperty("--mask-opacity", String(Number(opacity.value) / 100));
    opacityText.textContent = `${opacity.value} %`;
  };
  opacity.addEventListener("input", () => {
    applyOpacity();
    localStorage.setItem(OPACITY_KEY, opacity.value);
  });
  showMask.addEventListener("change", () => {
    stage.classList.toggle("masks-on", showMask.checked);
    opacity.disabled = !showMask.checked;
  });
  applyOpacity();

  const navigation = h(
    "nav",
    { class: "frame-nav", "aria-label": "Other sampled frames" },
    previous
      ? h("a", { class: "button secondary", href: `#/films/${filmId}/frames/${previous.frame_index}`, rel: "prev" }, `← Frame ${previous.frame_index}`)
      : h("span", { class: "button secondary disabled", "aria-disabled": "true" }, "← First frame"),
    h("a", { class: "button secondary", href: `#/films/${filmId}` }, "All frames"),
    next
      ? h("a", { class: "button secondary", href: `#/films/${filmId}/frames/${next.frame_index}`, rel: "next" }, `Frame ${next.frame_index} →`)
      : h("span", { class: "button secondary disabled", "aria-disabled": "true" }, "Last frame →"),
  );

  const sourceBadge = h("span", { id: "mask-source", class: "badge" });
  setSourceBadge(sourceBadge, frame.mask_source);
  const pBar = h("span", { class: "p-bar", "aria-hidden": "true" }, h("span", { style: `width: ${(100 * frame.p_fraction).toFixed(1)}%` }));
  const details = h(
    "dl",
    { class: "frame-details" },
    h("dt", {}, "Timecode"),
    h("dd", { class: "timecode", id: "frame-timecode" }, code),
    h("dt", {}, "Frame"),
    h("dd", {}, `${frame.frame_index} (${frame.time_s.toFixed(3)} s)`),
    h("dt", {}, "Class"),
    h("dd", { id: "frame-class" }, classBadge(frame.frame_class)),
    h("dt", {}, "P fraction"),
    h("dd", { id: "frame-p-fraction" }, percent(frame.p_fraction, 1), pBar),
    frame.confidence !== null ? [h("dt", {}, "Confidence"), h("dd", {}, percent(frame.confidence))] : null,
    frame.shot_number !== null ? [h("dt", {}, "Shot"), h("dd", {}, `${frame.shot_number}`)] : null,
    h("dt", {}, "Overlay"),
    h("dd", { id: "frame-overlay-kind" }, overlayKind(frame)),
    h("dt", {}, "Mask"),
    h("dd", {}, sourceBadge),
    h("dt", {}, "Class from"),
    h("dd", { id: "frame-label-source" }, frame.label_source || "model"),
  );

  const controls = h(
    "div",
    { class: "mask-controls" },
    h("label", { class: "switch", for: "show-mask" }, showMask, h("span", {}, "Show mask")),
    h("label", { for: "mask-opacity" }, "Opacity"),
    opacity,
    opacityText,
  );

  main.replaceChildren(
    h(
      "div",
      { class: "frame-page" },
      h(
        "section",
        { class: "panel frame-main" },
        h("h1", {}, `Frame ${frameIndex}`, h("span", { class: "muted" }, ` · ${name}`)),
        controls,
        stage,
        h("p", { class: "muted small", id: "mask-note", dataset: { hasMask: String(frame.has_mask) } }, overlayNote(frame)),
      ),
      h(
        "aside",
        { class: "panel frame-side", "aria-label": "About this frame" },
        details,
        frame.has_mask
          ? h(
              "button",
              {
                type: "button",
                class: "button secondary small",
                onclick: () =>
                  download(`films/${filmId}/frames/${frameIndex}/mask`, {}, `film-${filmId}-frame-${frameIndex}-mask.png`).catch((error) =>
                    context.showMessage(`Download failed: ${error.message}.`),
                  ),
              },
              "Download mask (PNG)",
            )
          : null,
        navigation,
        h("p", { class: "muted small" }, "Keys: ← and → step through the sampled frames."),
      ),
    ),
    similarSection(filmId, frameIndex),
  );

  picture.ready.catch((error) => context.showMessage(`The frame could not be shown: ${error.message}.`));

  // The frame's class and P fraction as they stand after a correction.
  async function refreshDetails() {
    const now = await currentFrame(film, frame);
    if (!now) return;
    document.getElementById("frame-overlay-kind").textContent = overlayKind(now);
    const note = document.getElementById("mask-note");
    note.textContent = overlayNote(now);
    note.dataset.hasMask = String(now.has_mask);
    replace(document.getElementById("frame-class"), classBadge(now.frame_class));
    replace(document.getElementById("frame-p-fraction"), percent(now.p_fraction, 1), h("span", { class: "p-bar", "aria-hidden": "true" }, h("span", { style: `width: ${(100 * now.p_fraction).toFixed(1)}%` })));
    document.getElementById("frame-label-source").textContent = now.label_source;
  }

  const editor = me && me.can_write ? maskEditor({ film, frame, picture, stage, sourceBadge, context, onChanged: () => refreshDetails().catch(() => {}) }) : null;
  if (editor) stage.after(editor.element);

  const onKey = (event) => {
    if (event.target instanceof HTMLInputElement || event.altKey || event.ctrlKey || event.metaKey) return;
    if (event.key === "ArrowLeft" && previous) location.hash = `#/films/${filmId}/frames/${previous.frame_index}`;
    if (event.key === "ArrowRight" && next) location.hash = `#/films/${filmId}/frames/${next.frame_index}`;
  };
  document.addEventListener("keydown", onKey);
  return () => {
    document.removeEventListener("keydown", onKey);
    editor?.stop();
  };
}
