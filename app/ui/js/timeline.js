// The whole film at a glance: shots as blocks coloured P / NP / hybrid, the film's scenes as a
// band of alternating blocks above them, the P fraction as a curve above that, and a cursor. Click, or use the arrow keys, to jump; it is a slider to
// assistive technology, its value the time.

import { h, svg } from "./dom.js";
import { CLASS_LABELS, percent, timecode } from "./format.js";

const WIDTH = 1000;
const CURVE_TOP = 6;
const CURVE_BOTTOM = 74;
const SCENES_TOP = 80;
const SCENES_BOTTOM = 92;
const SHOTS_TOP = 96;
const SHOTS_BOTTOM = 126;
const HEIGHT = 130;

function curvePoints(bins, frames, duration) {
  const points = [];
  if (Array.isArray(bins) && bins.length && "mean_p_fraction" in bins[0]) {
    for (const bin of bins) {
      if (bin.mean_p_fraction === null || bin.mean_p_fraction === undefined) {
        points.push(null);
        continue;
      }
      points.push([(bin.start_s + bin.end_s) / 2, bin.mean_p_fraction]);
    }
  } else {
    for (const frame of frames) points.push([frame.time_s, frame.p_fraction]);
  }
  const x = (time) => (WIDTH * time) / duration;
  const y = (fraction) => CURVE_BOTTOM - (CURVE_BOTTOM - CURVE_TOP) * fraction;
  // A gap (an unclassified stretch: blank frames) breaks the line.
  const runs = [[]];
  for (const point of points) {
    if (point === null) {
      if (runs.at(-1).length) runs.push([]);
    } else {
      runs.at(-1).push(`${x(point[0]).toFixed(1)},${y(point[1]).toFixed(2)}`);
    }
  }
  return runs.filter((run) => run.length);
}

function shotAt(shots, time) {
  return shots.find((shot) => time >= shot.start_time && time < shot.end_time) || shots.at(-1) || null;
}

// film: {duration_s, fps}; shots: ShotPublic[]; scenes: ScenePublic[] (may be empty);
// bins: the timeline's bins (or null); frames: sampled frames (for the curve when there are
// no bins); onJump(time_s, shot).
export function drawTimeline({ film, shots, scenes = [], bins, frames, onJump, onOpen }) {
  const duration = film.duration_s || (shots.length ? shots.at(-1).end_time : 0) || 1;
  const fps = film.fps;
  const cursor = svg("line", { class: "timeline-cursor", x1: 0, x2: 0, y1: 0, y2: HEIGHT, visibility: "hidden" });

  const blocks = shots.map((shot) => {
    const x = (WIDTH * shot.start_time) / duration;
    const width = Math.max(0.8, (WIDTH * (shot.end_time - shot.start_time)) / duration);
    const label = shot.frame_class ? CLASS_LABELS[shot.frame_class] : "Not classified";
    return svg(
      "rect",
      {
        class: `shot-block class-${shot.frame_class || "none"}`,
        x: x.toFixed(2),
        width: width.toFixed(2),
        y: SHOTS_TOP,
        height: SHOTS_BOTTOM - SHOTS_TOP,
        dataset: { shot: shot.number },
      },
      svg("title", {}, `Shot ${shot.number}: ${label}, ${timecode(shot.start_frame, fps)}–${timecode(shot.end_frame, fps)}`),
    );
  });

  const sceneBlocks = scenes.map((scene) => {
    const x = (WIDTH * scene.start_time_s) / duration;
    const width = Math.max(0.8, (WIDTH * (scene.end_time_s - scene.start_time_s)) / duration);
    const count = scene.shot_indices.length;
    return svg(
      "rect",
      {
        class: `scene-block scene-${scene.index % 2 ? "odd" : "even"}`,
        x: x.toFixed(2),
        width: width.toFixed(2),
        y: SCENES_TOP,
        height: SCENES_BOTTOM - SCENES_TOP,
        dataset: { scene: scene.index + 1 },
      },
      svg("title", {}, `Scene ${scene.index + 1}: ${count} shot${count === 1 ? "" : "s"}, ${timecode(scene.start_frame, fps)}–${timecode(scene.end_frame, fps)}`),
    );
  });

  const runs = curvePoints(bins, frames, duration);
  const curve = runs.map((run) =>
    svg("polyline", { class: "p-curve", points: run.join(" "), "vector-effect": "non-scaling-stroke" }),
  );
  const area = runs
    .filter((run) => run.length > 1)
    .map((run) => {
      const first = run[0].split(",")[0];
      const last = run.at(-1).split(",")[0];
      return svg("polygon", { class: "p-area", points: `${first},${CURVE_BOTTOM} ${run.join(" ")} ${last},${CURVE_BOTTOM}` });
    });

  const chart = svg(
    "svg",
    {
      class: "timeline-chart",
      viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
      preserveAspectRatio: "none",
      "aria-hidden": "true",
    },
    svg("rect", { class: "curve-bg", x: 0, y: CURVE_TOP, width: WIDTH, height: CURVE_BOTTOM - CURVE_TOP }),
    svg("line", { class: "gridline", x1: 0, x2: WIDTH, y1: (CURVE_TOP + CURVE_BOTTOM) / 2, y2: (CURVE_TOP + CURVE_BOTTOM) / 2, "vector-effect": "non-scaling-stroke" }),
    area,
    curve,
    sceneBlocks,
    blocks,
    cursor,
  );

  const ticks = h("div", { class: "timeline-ticks", "aria-hidden": "true" });
  const tickCount = 5;
  for (let i = 0; i <= tickCount; i += 1) {
    const time = (duration * i) / tickCount;
    ticks.append(h("span", {}, timecode(time * (fps || 25), fps)));
  }

  const readout = h("p", { class: "timeline-readout", "aria-live": "polite" }, "Click the timeline to jump to a moment of the film.");
  const slider = h(
    "div",
    {
      class: "timeline",
      role: "slider",
      tabindex: 0,
      "aria-label": "Film timeline: arrow keys move between shots, Enter opens the frame",
      "aria-valuemin": 0,
      "aria-valuemax": duration.toFixed(2),
      "aria-valuenow": 0,
      "aria-valuetext": "start of the film",
    },
    h("div", { class: "timeline-axis-labels", "aria-hidden": "true" }, h("span", {}, "P fraction"), h("span", {}, "Scenes"), h("span", {}, "Shots")),
    chart,
  );

  let current = null;
  function jump(time, { announce = true } = {}) {
    const clamped = Math.min(Math.max(time, 0), duration);
    const shot = shotAt(shots, clamped);
    current = { time: clamped, shot };
    const x = (WIDTH * clamped) / duration;
    cursor.setAttribute("x1", x.toFixed(2));
    cursor.setAttribute("x2", x.toFixed(2));
    cursor.setAttribute("visibility", "visible");
    for (const block of blocks) block.classList.toggle("selected", shot !== null && Number(block.dataset.shot) === shot.number);
    const scene = scenes.find((item) => clamped >= item.start_time_s && clamped < item.end_time_s) || null;
    for (const block of sceneBlocks) block.classList.toggle("selected", scene !== null && Number(block.dataset.scene) === scene.index + 1);
    const text = `${timecode(clamped * (fps || 25), fps)}${scene ? `, scene ${scene.index + 1}` : ""}${shot ? `, shot ${shot.number} (${shot.frame_class ? CLASS_LABELS[shot.frame_class] : "not classified"}, P fraction ${percent(shot.mean_p_fraction)})` : ""}`;
    slider.setAttribute("aria-valuenow", clamped.toFixed(2));
    slider.setAttribute("aria-valuetext", text);
    readout.textContent = text;
    if (announce) onJump(clamped, shot);
  }

  chart.addEventListener("click", (event) => {
    const box = chart.getBoundingClientRect();
    jump(((event.clientX - box.left) / box.width) * duration);
  });
  chart.addEventListener("dblclick", () => current && onOpen && onOpen(current.time));
  slider.addEventListener("keydown", (event) => {
    const index = current && current.shot ? shots.indexOf(current.shot) : -1;
    let target = null;
    if (event.key === "ArrowRight" || event.key === "ArrowDown") target = shots[Math.min(index + 1, shots.length - 1)];
    else if (event.key === "ArrowLeft" || event.key === "ArrowUp") target = shots[Math.max(index - 1, 0)];
    else if (event.key === "Home") target = shots[0];
    else if (event.key === "End") target = shots.at(-1);
    else if (event.key === "Enter" && current && onOpen) {
      event.preventDefault();
      onOpen(current.time);
      return;
    } else return;
    event.preventDefault();
    if (target) jump(target.start_time);
  });

  const legend = h(
    "ul",
    { class: "legend", "aria-label": "Legend" },
    ["P", "NP", "hybrid"].map((key) => h("li", {}, h("span", { class: `swatch class-${key}` }), CLASS_LABELS[key])),
    h("li", {}, h("span", { class: "swatch curve" }), "P fraction (0–100 %)"),
  );

  return { element: h("div", { class: "timeline-wrap" }, slider, ticks, legend, readout), jump };
}
