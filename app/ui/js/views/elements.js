// A collection's recurring drawn elements: one collage tile per cluster (largest first);
// naming, merging and splitting clusters; a cluster's members as frames with each element's
// box drawn. The elements job is started here and followed live.

import { getBlob, getJson, postJson, putJson } from "../api.js";
import { h, replace } from "../dom.js";
import { percent } from "../format.js";
import { frameImageUrl } from "../frames.js";

const POLL_MS = 2000;
const MEMBERS_PAGE = 48;

function runLine(run) {
  if (!run) return "No element search has run on this collection yet.";
  if (run.status === "queued") return "Element search queued…";
  if (run.status === "running") return `Element search: ${run.stage || "starting"} (${percent(run.progress)})…`;
  if (run.status === "failed") return `The last element search failed: ${run.error || "unknown error"}.`;
  const summary = run.summary || {};
  const refined = summary.refined ? "refined on this collection" : "pretrained embeddings";
  return `${summary.elements ?? 0} elements in ${summary.tracks ?? 0} tracks, ${summary.clusters ?? 0} clusters (${refined}).`;
}

export async function renderElements(main, collectionId, params, context) {
  const base = `collections/${collectionId}/elements`;
  const collection = await getJson(`collections/${collectionId}`);
  context.setCrumbs([
    { label: "Films", href: "#/" },
    { label: collection.name, href: `#/?collection=${collectionId}` },
    { label: "Recurring elements" },
  ]);
  const status = h("p", { class: "muted run-line", role: "status" });
  const tiles = h("div", { class: "cluster-grid" });
  const members = h("section", { class: "panel cluster-members", hidden: true });
  const mergeButton = h("button", { type: "button", class: "button secondary needs-write", disabled: true, onclick: mergeSelected }, "Merge selected");
  const startButton = h("button", { type: "button", class: "button needs-write", onclick: start }, "Find recurring elements");
  const selected = new Set();
  const objectUrls = [];
  let timer = null;
  let stopped = false;

  replace(
    main,
    h(
      "section",
      { class: "panel" },
      h("h1", {}, `Recurring elements · ${collection.name}`),
      h("p", { class: "muted" }, "Drawn figures and graphic elements that come back across the collection's films, found in each film's drawn regions, tracked within shots and clustered in an embedding refined on this collection."),
      status,
      h("p", { class: "actions" }, startButton, " ", mergeButton),
    ),
    tiles,
    members,
  );

  function track(url) {
    objectUrls.push(url);
    return url;
  }

  async function start() {
    startButton.disabled = true;
    try {
      const run = await postJson(base, { refine: true });
      status.textContent = runLine(run);
      poll();
    } catch (error) {
      startButton.disabled = false;
      context.showMessage(`Could not start the element search: ${error.message}.`);
    }
  }

  async function poll() {
    if (stopped || !context.isCurrent()) return;
    const run = await getJson(`${base}/run`);
    status.textContent = runLine(run);
    const active = run && (run.status === "queued" || run.status === "running");
    startButton.disabled = Boolean(active);
    if (active) {
      timer = setTimeout(() => poll().catch((error) => context.showMessage(error.message)), POLL_MS);
    } else if (run && run.status === "done") {
      await drawClusters();
      return true;
    }
    return false;
  }

  async function drawClusters() {
    const clusters = await getJson(base);
    selected.clear();
    mergeButton.disabled = true;
    if (!clusters.length) {
      replace(tiles, h("p", { class: "muted empty" }, "No clusters yet."));
      return;
    }
    replace(tiles, clusters.map(tile));
  }

  function tile(cluster) {
    const picture = h("img", { class: "collage", alt: `Collage of cluster ${cluster.cluster_id}` });
    getBlob(`${base}/${cluster.cluster_id}/collage.jpg`).then((blob) => {
      picture.src = track(URL.createObjectURL(blob));
    }, () => {});
    const nameInput = h("input", { type: "text", maxlength: 255, value: cluster.name || "", placeholder: "Name this element", "aria-label": `Name of cluster ${cluster.cluster_id}` });
    const form = h(
      "form",
      { class: "name-form needs-write", onsubmit: (event) => saveName(event, cluster, nameInput) },
      nameInput,
      h("button", { type: "submit", class: "button small" }, "Save"),
    );
    const films = cluster.films.map((film) => `${film.title || `Film ${film.film_id}`} (${film.count})`).join(", ");
    return h(
      "article",
      { class: "cluster-tile", dataset: { clusterId: cluster.cluster_id } },
      h("button", { type: "button", class: "collage-button", onclick: () => showMembers(cluster), "aria-label": `Show the ${cluster.size} sightings of ${cluster.name || `cluster ${cluster.cluster_id}`}` }, picture),
      h("h2", { class: "cluster-name" }, cluster.name || "Unnamed", h("span", { class: "muted" }, ` · ${cluster.size} sightings`)),
      h("p", { class: "muted small" }, films),
      form,
      h("button", { type: "button", class: "button secondary small needs-write split-button", onclick: () => split(cluster) }, "Split in two"),
      h(
        "label",
        { class: "merge-pick needs-write" },
        h("input", { type: "checkbox", onchange: (event) => pick(cluster.cluster_id, event.target.checked) }),
        " select to merge",
      ),
    );
  }

  function pick(clusterId, on) {
    if (on) selected.add(clusterId);
    else selected.delete(clusterId);
    mergeButton.disabled = selected.size < 2;
  }

  async function saveName(event, cluster, input) {
    event.preventDefault();
    try {
      await putJson(`${base}/${cluster.cluster_id}`, { name: input.value });
      context.showMessage("Name saved.", { kind: "success" });
      await drawClusters();
    } catch (error) {
      context.showMessage(`Could not name the cluster: ${error.message}.`);
    }
  }

  async function mergeSelected() {
    const [into, ...rest] = [...selected];
    try {
      await postJson(`${base}/${into}/merge`, { cluster_ids: rest });
      context.showMessage("Clusters merged.", { kind: "success" });
      await drawClusters();
    } catch (error) {
      context.showMessage(`Could not merge: ${error.message}.`);
    }
  }

  async function split(cluster) {
    try {
      await postJson(`${base}/${cluster.cluster_id}/split`, {});
      context.showMessage("Cluster split in two.", { kind: "success" });
      await drawClusters();
    } catch (error) {
      context.showMessage(`Could not split: ${error.message}.`);
    }
  }

  async function showMembers(cluster) {
    const page = await getJson(`${base}/${cluster.cluster_id}`, { limit: MEMBERS_PAGE });
    members.hidden = false;
    replace(
      members,
      h("h2", {}, `${cluster.name || "Unnamed"}: ${page.total} sightings`, page.total > page.items.length ? ` (the ${page.items.length} nearest its centre)` : ""),
      h("ul", { class: "member-grid" }, page.items.map(memberCard)),
    );
    members.scrollIntoView({ behavior: "smooth", block: "start" });
  }

  function memberCard(member) {
    const image = h("img", { alt: `Frame ${member.frame_index} of film ${member.film_id}` });
    const [x0, y0, x1, y1] = member.box;
    const box = h("span", { class: "element-box", "aria-hidden": "true" });
    box.style.cssText = `left:${x0 * 100}%;top:${y0 * 100}%;width:${(x1 - x0) * 100}%;height:${(y1 - y0) * 100}%`;
    const picture = h("span", { class: "member-picture" }, image, box);
    frameImageUrl(member.film_id, member.frame_index, 320).then(
      async (url) => {
        image.src = url;
        await image.decode();
        // The box is in fractions of the frame: the frame's own shape keeps it in place.
        picture.style.aspectRatio = String(image.naturalWidth / image.naturalHeight);
      },
      () => {
        image.remove();
        picture.classList.add("missing");
        picture.prepend(h("span", { class: "muted small" }, "No picture of this frame"));
      },
    ).catch(() => {});
    return h(
      "li",
      { class: "member-card" },
      h(
        "a",
        { href: `#/films/${member.film_id}/frames/${member.frame_index}` },
        picture,
        h("span", { class: "small" }, `Film ${member.film_id} · ${member.time_s.toFixed(1)} s`),
      ),
    );
  }

  // A failed or queued latest run still leaves the previous run's clusters to show.
  if (!(await poll())) await drawClusters();
  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
    for (const url of objectUrls) URL.revokeObjectURL(url);
  };
}
