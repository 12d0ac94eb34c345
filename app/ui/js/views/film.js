// A film: its figures, the timeline of the whole film, the sampled frames with their masks
// as an overlay that can be switched on, the shot list with timecodes, and exports.

import { ApiError, del, download, getJson, postJson, putJson } from "../api.js";
import { h, replace } from "../dom.js";
import { CLASS_LABELS, bytes, filmName, percent, seconds, timecode } from "../format.js";
import { framePicture, paintOverlays, prefetchThumbnail } from "../frames.js";
import { kick, watchJobs } from "../jobs.js";
import { drawTimeline } from "../timeline.js";
import { analyseLabel, jobState } from "./archive.js";
// As a namespace too: the review list calls what this module offers where it offers it.

const FRAMES_PAGE = 48;
const THUMB_SIZE = 240;
const EXPORTS = [
  ["json", "JSON (everything)"],
  ["csv", "Frames CSV"],
  ["shots.csv", "Shots CSV"],
  ["edl", "EDL (CMX 3600)"],
  ["otio", "OpenTimelineIO"],
  ["annotations", "Web Annotations"],
  ["eaf", "ELAN (.eaf)"],
];
const REVIEW_COUNT = 8;

export function classBadge(frameClass) {
  if (!frameClass) return h("span", { class: "badge class-none" }, "Not classified");
  return h("span", { class: `badge class-${frameClass}` }, CLASS_LABELS[frameClass]);
}

function statCard(label, value, note) {
  return h("div", { class: "stat-card" }, h("dt", {}, label), h("dd", {}, h("span", { class: "stat-value" }, value), note ? h("small", {}, note) : null));
}

async function optional(promise) {
  try {
    return await promise;
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return null;
    throw error;
  }
}

function frameCard(film, frame, cardClass = "frame-card") {
  const name = `Frame ${frame.frame_index} at ${timecode(frame.frame_index, film.fps)}, ${CLASS_LABELS[frame.frame_class]}, P fraction ${percent(frame.p_fraction)}`;
  const picture = framePicture(film.id, frame, { maxSize: THUMB_SIZE, alt: name });
  return h(
    "li",
    { class: cardClass, dataset: { frameIndex: frame.frame_index, class: frame.frame_class } },
    h(
      "a",
      { href: `#/films/${film.id}/frames/${frame.frame_index}`, "aria-label": name },
      picture.element,
      h(
        "span",
        { class: "frame-caption" },
        h("span", { class: "timecode" }, timecode(frame.frame_index, film.fps)),
        classBadge(frame.frame_class),
        h("span", { class: "p-fraction", title: "P fraction" }, `P ${percent(frame.p_fraction)}`),
        frame.confidence == null
          ? null
          : h("span", { class: "confidence", title: "Confidence: the calibrated probability that this frame's class is right" }, `sure ${percent(frame.confidence)}`),
      ),
    ),
  );
}

// The first page of frames in film order, as the frame grid first asks for it.
function firstFramesPage(filmId) {
  return getJson(`films/${filmId}/frames`, { sort: "time", limit: FRAMES_PAGE, offset: 0 });
}

export async function renderFilm(main, filmId, params, context) {
  // Everything the page needs is asked for at once, and the first frames' thumbnails as
  // soon as their list arrives: one after the other, these round trips were most of the
  // time before a film page showed its pictures.
  const firstFrames = firstFramesPage(filmId);
  firstFrames.then(
    (page) => page.items.forEach((frame) => prefetchThumbnail(filmId, frame)),
    () => {},
  );
  const results = Promise.all([
    optional(getJson(`films/${filmId}/stats`)),
    optional(getJson(`films/${filmId}/shots`)),
    optional(getJson(`films/${filmId}/timeline`)),
    optional(getJson(`films/${filmId}/scenes`)),
  ]);
  results.catch(() => {});
  const film = await getJson(`films/${filmId}`);
  if (!context.isCurrent()) return null;
  const name = filmName(film);
  context.setCrumbs([{ label: "Films", href: "#/" }, { label: name }]);

  const [stats, shots, timeline, scenes] = await results;
  if (!context.isCurrent()) return null;

  const jobSlot = h("div", { class: "job-slot", "aria-live": "polite" });
  const analyzeButton = h(
    "button",
    {
      type: "button",
      class: "button needs-write",
      onclick: async () => {
        try {
          const job = await postJson(`films/${filmId}/analyze`);
          replace(jobSlot, jobState(job));
          kick();
        } catch (error) {
          context.showMessage(`Could not start the analysis: ${error.message}.`);
        }
      },
    },
    analyseLabel(film),
  );
  const meta = [
    film.title ? film.original_filename : null,
    film.year,
    seconds(film.duration_s),
    film.fps ? `${Number(film.fps.toFixed(3))} fps` : null,
    film.width ? `${film.width}×${film.height}` : null,
    bytes(film.size_bytes),
  ].filter((item) => item !== null && item !== undefined);

  const header = h(
    "section",
    { class: "panel film-header" },
    h("div", {}, h("h1", {}, name), h("p", { class: "muted" }, meta.join(" · "))),
    h("div", { class: "actions" }, jobSlot, analyzeButton),
  );

  const sections = [header];
  const summary = stats && stats.summary;
  if (!stats || !summary || !shots) {
    const reason =
      stats && stats.status === "failed"
        ? `The last analysis failed: ${stats.error || "no reason given"}.`
        : stats && (stats.status === "running" || stats.status === "queued")
          ? "The analysis is under way; the results appear here when it finishes."
          : "This film has not been analysed yet.";
    sections.push(h("section", { class: "panel" }, h("h2", {}, "Results"), h("p", { class: stats && stats.status === "failed" ? "state failed" : "" }, reason)));
  } else {
    sections.push(...resultSections(film, stats, shots, timeline, context, firstFrames, scenes));
  }
  replace(main, h("div", { class: "film-page" }, sections));

  const stopWatching = watchJobs((update) => {
    if (update.error) return;
    const job = update.byFilm.get(filmId);
    replace(jobSlot, job ? jobState(job) : null);
    analyzeButton.disabled = Boolean(job);
    if (update.finished.some((finished) => finished.film_id === filmId)) {
      window.dispatchEvent(new HashChangeEvent("hashchange"));
    }
  });
  return stopWatching;
}

function resultSections(film, stats, shots, timeline, context, firstFrames, scenes) {
  const summary = stats.summary;
  const frameFilter = { frame_class: "", shot_number: null, sort: "time" };
  let loadedFrames = [];
  let framesTotal = 0;

  // --- statistics
  const statsSection = h(
    "section",
    { class: "panel", "aria-labelledby": "stats-heading" },
    h("h2", { id: "stats-heading" }, "Statistics"),
    stats.status === "partial" ? h("p", { class: "notice warning" }, `Partial results: ${stats.error || "the film is damaged"}.`) : null,
    h(
      "dl",
      { class: "stat-cards" },
      statCard("Hybrid ratio", percent(summary.hybrid_ratio, 1), "share of running time"),
      summary.adjusted_hybrid_ratio === undefined || summary.adjusted_hybrid_ratio === null
        ? null
        : statCard(
            "Hybrid ratio, adjusted",
            percent(summary.adjusted_hybrid_ratio, 1),
            // Where the true share plausibly lies, given how often the models err (90 %).
            summary.hybrid_ratio_range
              ? `for the models' measured error rates · 90 % likely ${percent(summary.hybrid_ratio_range[0], 1)} to ${percent(summary.hybrid_ratio_range[1], 1)}`
              : "for the models' measured error rates",
          ),
      statCard("P time", percent(summary.p_time_share, 1), "photographic"),
      statCard("NP time", percent(summary.np_time_share, 1), "drawn, animated, lettering"),
      statCard("Mean P fraction", percent(summary.mean_p_fraction, 1), "of the picture area"),
      statCard("Hybrid shots", `${summary.hybrid_shot_count ?? "–"}`, `of ${summary.shot_count ?? shots.length} ${(summary.shot_count ?? shots.length) === 1 ? "shot" : "shots"}`),
      statCard("Longest hybrid run", seconds(summary.longest_hybrid_run_s), ""),
      statCard("Sampled frames", `${summary.sampled_frames ?? "–"}`, [
        summary.segmented_frames ? `${summary.segmented_frames} with masks` : "",
        // The models looked at the picture inside black letterbox / pillarbox bars.
        summary.frames_in_bars ? `${summary.frames_in_bars} judged inside black bars` : "",
        // ... and above burned-in subtitles, left out of the judgement.
        summary.frames_with_subtitles ? `${summary.frames_with_subtitles} with subtitles left out` : "",
        // ... and with a faded or tinted print's colour cast taken out.
        summary.frames_colour_balanced ? `${summary.frames_colour_balanced} with a colour cast taken out` : "",
      ].filter(Boolean).join(" · ")),
      h("div", { class: "stat-card", id: "human-checked" }, h("dt", {}, "Human-checked"), h("dd", {}, h("span", { class: "stat-value" }, percent(stats.human_checked_share ?? 0, 1)), h("small", {}, "of running time, by a person's mask or label"))),
    ),
    h("p", { class: "muted small" }, `Analysis ${stats.analysis_id}${stats.timings && stats.timings.total_s ? `, ${stats.timings.total_s.toFixed(1)} s of work` : ""}.`),
  );

  // --- timeline
  const jumpPanel = h("div", { class: "jump-panel", "aria-live": "polite" });
  const shotRows = new Map();
  const timelineWidget = drawTimeline({
    film,
    shots,
    scenes: scenes || [],
    bins: timeline && Array.isArray(timeline.timeline) ? timeline.timeline : null,
    frames: [],
    onJump: (time, shot) => jumpTo(time, shot),
    onOpen: async (time) => {
      const frame = await nearestFrame(time);
      if (frame) location.hash = `#/films/${film.id}/frames/${frame.frame_index}`;
    },
  });
  const timelineSection = h(
    "section",
    { class: "panel", "aria-labelledby": "timeline-heading" },
    h("h2", { id: "timeline-heading" }, "Timeline"),
    timelineWidget.element,
    jumpPanel,
  );

  async function nearestFrame(time) {
    const after = await getJson(`films/${film.id}/frames`, { min_time_s: Math.max(0, time - 0.5 / (film.fps || 25)), limit: 1 });
    if (after.items.length) return after.items[0];
    const all = await getJson(`films/${film.id}/frames`, { limit: 1 });
    if (!all.total) return null;
    const last = await getJson(`films/${film.id}/frames`, { limit: 1, offset: all.total - 1 });
    return last.items[0] || null;
  }

  async function jumpTo(time, shot) {
    for (const [index, row] of shotRows) row.classList.toggle("selected", shot !== null && index === shot.number);
    if (shot && shotRows.has(shot.number)) {
      const row = shotRows.get(shot.number);
      const box = shotTableScroll;
      box.scrollTop = row.offsetTop - box.clientHeight / 2;
    }
    try {
      const frame = await nearestFrame(time);
      if (!frame) {
        replace(jumpPanel, h("p", { class: "muted" }, "No sampled frame near this moment."));
        return;
      }
      for (const card of frameGrid.querySelectorAll(".frame-card")) {
        card.classList.toggle("selected", Number(card.dataset.frameIndex) === frame.frame_index);
      }
      const picture = framePicture(film.id, frame, { maxSize: 320, alt: `Frame ${frame.frame_index}`, eager: true });
      replace(
        jumpPanel,
        h(
          "div",
          { class: `jump-frame${masksToggle.checked ? " masks-on" : ""}` },
          picture.element,
          h(
            "div",
            {},
            h("p", {}, h("strong", {}, `Frame ${frame.frame_index}`), ` at ${timecode(frame.frame_index, film.fps)}`),
            h("p", {}, classBadge(frame.frame_class), ` P fraction ${percent(frame.p_fraction, 1)}`),
            h("a", { class: "button small", href: `#/films/${film.id}/frames/${frame.frame_index}` }, "Open frame"),
          ),
        ),
      );
    } catch (error) {
      replace(jumpPanel, h("p", { class: "state failed" }, `Could not find the frame: ${error.message}.`));
    }
  }

  // --- frames
  const masksToggle = h("input", { type: "checkbox", id: "toggle-masks", role: "switch" });
  const classFilter = h(
    "select",
    { id: "frame-class-filter" },
    h("option", { value: "" }, "All classes"),
    ["hybrid", "P", "NP"].map((key) => h("option", { value: key }, CLASS_LABELS[key])),
  );
  const frameOrder = h(
    "select",
    { id: "frame-order" },
    h("option", { value: "time" }, "In film order"),
    h("option", { value: "confidence" }, "Least sure first"),
  );
  const shotChip = h("span", { class: "chip-slot" });
  const frameGrid = h("ul", { class: "frame-grid", id: "frame-grid", "aria-label": "Sampled frames" });
  const frameCount = h("p", { class: "muted small", role: "status" });
  const moreButton = h("button", { type: "button", class: "button secondary", onclick: () => loadFrames(false) }, "Show more frames");

  masksToggle.addEventListener("change", () => {
    for (const element of [frameGrid, jumpPanel.firstElementChild].filter(Boolean)) {
      element.classList.toggle("masks-on", masksToggle.checked);
      if (masksToggle.checked) paintOverlays(element);
    }
  });
  classFilter.addEventListener("change", () => {
    frameFilter.frame_class = classFilter.value;
    loadFrames(true);
  });
  frameOrder.addEventListener("change", () => {
    frameFilter.sort = frameOrder.value;
    loadFrames(true);
  });

  // The page asked for the first frames before it was drawn; only the grid's first load uses them.
  let prefetched = firstFrames;

  async function loadFrames(fresh) {
    if (fresh) {
      loadedFrames = [];
      replace(frameGrid);
    }
    moreButton.disabled = true;
    const early = prefetched;
    prefetched = null;
    try {
      const page = await (early || getJson(`films/${film.id}/frames`, {
        frame_class: frameFilter.frame_class,
        shot_number: frameFilter.shot_number,
        sort: frameFilter.sort,
        limit: FRAMES_PAGE,
        offset: loadedFrames.length,
      }));
      loadedFrames.push(...page.items);
      framesTotal = page.total;
      frameGrid.append(...page.items.map((frame) => frameCard(film, frame)));
      frameCount.textContent = framesTotal ? `Showing ${loadedFrames.length} of ${framesTotal} sampled frames.` : "No sampled frame matches.";
      moreButton.hidden = loadedFrames.length >= framesTotal;
    } catch (error) {
      frameCount.textContent = `The frames could not be loaded: ${error.message}.`;
    } finally {
      moreButton.disabled = false;
    }
  }

  function showShotFrames(shot) {
    frameFilter.shot_number = shot ? shot.number : null;
    replace(
      shotChip,
      shot
        ? h(
            "span",
            { class: "chip" },
            `Shot ${shot.number} only`,
            h("button", { type: "button", class: "dismiss", "aria-label": "Show frames of all shots", onclick: () => showShotFrames(null) }, "×"),
          )
        : null,
    );
    loadFrames(true);
    if (shot) framesSection.scrollIntoView({ behavior: "smooth", block: "start" });
  }

  const framesSection = h(
    "section",
    { class: "panel", "aria-labelledby": "frames-heading" },
    h(
      "div",
      { class: "section-head" },
      h("h2", { id: "frames-heading" }, "Sampled frames"),
      h(
        "div",
        { class: "toolbar" },
        shotChip,
        h("label", { for: "frame-class-filter", class: "visually-hidden" }, "Show frames of class"),
        classFilter,
        h("label", { for: "frame-order", class: "visually-hidden" }, "Order frames"),
        frameOrder,
        h("label", { class: "switch", for: "toggle-masks" }, masksToggle, h("span", {}, "Show masks")),
      ),
    ),
    h("p", { class: "muted small" }, "Masks stripe the drawn (NP) part of a frame in magenta. Frames without a pixel mask (not hybrid, so not segmented) show the classifier's coarse grid instead."),
    frameGrid,
    frameCount,
    moreButton,
  );

  // --- review: the frames the model is least sure of, to annotate first
  const reviewList = h("ul", { class: "review-list", id: "review-list", "aria-label": "Frames to review first" });
  const reviewSection = h(
    "section",
    { class: "panel", "aria-labelledby": "review-heading" },
    h("h2", { id: "review-heading" }, "Review first"),
    h("p", { class: "muted small" }, "The frames the model is least sure of (lowest calibrated confidence): correcting these helps most."),
    reviewList,
  );
  masksToggle.addEventListener("change", () => {
    reviewList.classList.toggle("masks-on", masksToggle.checked);
    // Pictures ask for their masks only once the masks are switched on.
    if (masksToggle.checked) paintOverlays(reviewList);
  });
  getJson(`films/${film.id}/frames`, { sort: "confidence", limit: REVIEW_COUNT }).then(
    (page) => replace(reviewList, page.items.map((frame) => frameCard(film, frame, "review-card"))),
    (error) => replace(reviewList, h("li", { class: "muted" }, `The frames could not be loaded: ${error.message}.`)),
  );

  async function setShotLabel(shot, label) {
    try {
      if (label) await putJson(`films/${film.id}/shots/${shot.number}/label`, { label });
      else await del(`films/${film.id}/shots/${shot.number}/label`);
      window.dispatchEvent(new HashChangeEvent("hashchange"));
    } catch (error) {
      context.showMessage(`The shot's label could not be set: ${error.message}.`);
    }
  }

  function shotLabelCell(shot) {
    const own = shot.label_source === "human" ? shot.frame_class : "";
    const select = h(
      "select",
      { class: "needs-write", "aria-label": `Label of shot ${shot.number}`, dataset: { shot: shot.number } },
      h("option", { value: "" }, "Not set"),
      ["P", "NP", "hybrid"].map((key) => h("option", { value: key, selected: own === key }, CLASS_LABELS[key])),
    );
    select.addEventListener("change", () => setShotLabel(shot, select.value));
    return h("td", { class: "shot-label" }, select, h("small", { class: "muted" }, ` ${shot.label_source}`));
  }

  // --- shots
  const shotTableScroll = h("div", { class: "table-scroll shots-scroll", tabindex: 0, "aria-label": "Shot list" });
  const shotTable = h(
    "table",
    { class: "shots-table" },
    h("caption", { class: "visually-hidden" }, "Shots with SMPTE timecodes"),
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        ["Shot", "Start", "End", "Length", "Class", "Hybrid", "Mean P fraction", "Frames", "Label", ""].map((label) =>
          h("th", { scope: "col" }, label || h("span", { class: "visually-hidden" }, "Actions")),
        ),
      ),
    ),
    h(
      "tbody",
      {},
      shots.map((shot) => {
        const row = h(
          "tr",
          { dataset: { shot: shot.number } },
          h("th", { scope: "row", class: "num" }, shot.number),
          h("td", { class: "timecode" }, timecode(shot.start_frame, film.fps)),
          h("td", { class: "timecode" }, timecode(shot.end_frame, film.fps)),
          h("td", { class: "num" }, seconds(shot.end_time - shot.start_time)),
          h("td", {}, classBadge(shot.frame_class)),
          h("td", { class: "num" }, percent(shot.hybrid_ratio)),
          h("td", { class: "num" }, percent(shot.mean_p_fraction)),
          h("td", { class: "num" }, shot.sampled_frames ?? "–"),
          shotLabelCell(shot),
          h(
            "td",
            {},
            h(
              "button",
              {
                type: "button",
                class: "button secondary small",
                "aria-label": `Show the frames of shot ${shot.number}`,
                onclick: () => {
                  timelineWidget.jump(shot.start_time, { announce: false });
                  showShotFrames(shot);
                },
              },
              "Frames",
            ),
          ),
        );
        shotRows.set(shot.number, row);
        return row;
      }),
    ),
  );
  shotTableScroll.append(shotTable);
  const shotsSection = h("section", { class: "panel", "aria-labelledby": "shots-heading" }, h("h2", { id: "shots-heading" }, `Shots (${shots.length})`), shotTableScroll);

  // --- exports
  const exportsSection = h(
    "section",
    { class: "panel", "aria-labelledby": "exports-heading" },
    h("h2", { id: "exports-heading" }, "Export"),
    h(
      "div",
      { class: "actions wrap" },
      EXPORTS.map(([format, label]) =>
        h(
          "button",
          {
            type: "button",
            class: "button secondary",
            dataset: { format },
            onclick: async () => {
              try {
                await download(`films/${film.id}/export`, { format }, `film-${film.id}.${format}`);
              } catch (error) {
                context.showMessage(`Export failed: ${error.message}.`);
              }
            },
          },
          label,
        ),
      ),
    ),
    h("p", { class: "muted small" }, "Timecodes here and in the EDL are non-drop-frame at the film's rounded frame rate."),
  );

  loadFrames(true);
  return [statsSection, timelineSection, framesSection, reviewSection, shotsSection, exportsSection];
}
