// The archive: collections on the side; films with their figures and analysis state,
// filtered and sorted like GET /films; uploads with a progress bar; analyses of a film or of
// a whole collection, followed live.

import { del, download, getJson, postJson, uploadFilm } from "../api.js";
import { h, replace } from "../dom.js";
import { bytes, filmName, percent, seconds } from "../format.js";
import { kick, watchJobs } from "../jobs.js";

const PAGE_SIZE = 25;
const SORTS = [
  ["-created_at", "Newest first"],
  ["created_at", "Oldest first"],
  ["-hybrid_ratio", "Hybrid ratio, highest first"],
  ["hybrid_ratio", "Hybrid ratio, lowest first"],
  ["-adjusted_hybrid_ratio", "Adjusted hybrid ratio, highest first"],
  ["adjusted_hybrid_ratio", "Adjusted hybrid ratio, lowest first"],
  ["-p_time_share", "P share, highest first"],
  ["-np_time_share", "NP share, highest first"],
  ["-hybrid_shot_count", "Most hybrid shots"],
  ["title", "Title A–Z"],
  ["-year", "Year, newest first"],
  ["year", "Year, oldest first"],
  ["-duration_s", "Longest first"],
];
// Figure filters are typed as percentages and sent as fractions.
const SHARE_FILTERS = [
  ["hybrid_ratio", "Hybrid ratio"],
  ["adjusted_hybrid_ratio", "Adjusted hybrid ratio"],
  ["p_time_share", "P time share"],
  ["np_time_share", "NP time share"],
];
const QUERY_KEYS = [
  "collection",
  "search",
  "sort",
  "analyzed",
  "min_year",
  "max_year",
  "min_hybrid_shots",
  ...SHARE_FILTERS.flatMap(([key]) => [`min_${key}`, `max_${key}`]),
  "offset",
];

function readQuery(params) {
  const query = {};
  for (const key of QUERY_KEYS) {
    if (params.has(key) && params.get(key) !== "") query[key] = params.get(key);
  }
  query.sort = query.sort || "-created_at";
  query.offset = Number(query.offset || 0);
  return query;
}

function writeQuery(query) {
  const params = new URLSearchParams();
  for (const key of QUERY_KEYS) {
    const value = query[key];
    if (value === undefined || value === null || value === "") continue;
    if ((key === "offset" && !value) || (key === "sort" && value === "-created_at")) continue;
    params.set(key, value);
  }
  const text = params.toString();
  // replaceState: no hashchange, so the view (and an upload under way) stays as it is.
  history.replaceState(null, "", `#/${text ? `?${text}` : ""}`);
}

function shareBar(film) {
  if (film.p_time_share === null) return h("span", { class: "muted" }, "–");
  const parts = [
    ["P", film.p_time_share],
    ["hybrid", film.hybrid_time_share],
    ["NP", film.np_time_share],
  ];
  const label = `P ${percent(film.p_time_share)}, hybrid ${percent(film.hybrid_time_share)}, NP ${percent(film.np_time_share)}`;
  return h(
    "div",
    { class: "share-cell" },
    h(
      "div",
      { class: "share-bar", role: "img", "aria-label": label },
      parts.map(([key, value]) => h("span", { class: `class-${key}`, style: `width: ${(100 * (value || 0)).toFixed(2)}%` })),
    ),
    h("span", { class: "share-text" }, `P ${percent(film.p_time_share)} · NP ${percent(film.np_time_share)}`),
  );
}

// Whether the film has its 90 % range (analyses made with rates whose spreads were measured).
function ranged(film) {
  return [film.hybrid_ratio_low, film.hybrid_ratio_high].every((value) => value !== null && value !== undefined);
}

function ratioCell(film) {
  if (film.hybrid_ratio === null) return h("span", { class: "muted" }, "–");
  return h(
    "div",
    { class: "ratio-cell" },
    h("span", { class: "ratio-value" }, percent(film.hybrid_ratio, 1)),
    h("span", { class: "ratio-bar", "aria-hidden": "true" }, h("span", { style: `width: ${(100 * film.hybrid_ratio).toFixed(2)}%` })),
    film.adjusted_hybrid_ratio === null || film.adjusted_hybrid_ratio === undefined
      ? null
      : h(
          "small",
          {
            class: "muted ratio-adjusted",
            title: ranged(film)
              ? `adjusted for the models' measured error rates; 90 % likely ${percent(film.hybrid_ratio_low, 1)} to ${percent(film.hybrid_ratio_high, 1)}`
              : "adjusted for the models' measured error rates",
          },
          ranged(film)
            ? `adjusted ${percent(film.adjusted_hybrid_ratio, 1)} (${percent(film.hybrid_ratio_low, 1)}–${percent(film.hybrid_ratio_high, 1)})`
            : `adjusted ${percent(film.adjusted_hybrid_ratio, 1)}`,
        ),
  );
}

// What the button that starts an analysis says: "Re-analyse" only over results; a film
// whose only analysis failed was never analysed.
export function analyseLabel(film) {
  if (!film.last_analysis_id) return "Analyse";
  return film.analysis_status === "failed" ? "Analyse again" : "Re-analyse";
}

export function jobState(job) {
  if (job.status === "queued") return h("span", { class: "state queued" }, "Queued");
  // A propagation job spreads a shot's masks; only analyses go through stages.
  const doing = job.kind === "propagate" ? "Spreading masks" : "Analysing";
  const stage = job.stage && job.kind !== "propagate" ? ` (${job.stage})` : "";
  return h(
    "span",
    { class: "state running" },
    h("span", {}, `${doing}${stage} ${Math.round(job.overall_percent)} %`),
    h("progress", { max: 100, value: job.overall_percent, "aria-label": `${doing} progress of film ${job.film_id}` }),
  );
}

function restingState(film, failedJob) {
  if (film.last_analysis_id && film.analysis_status === "failed") {
    const why = film.analysis_note || (failedJob && failedJob.error) || "";
    return h("span", { class: "state failed", title: why }, "Failed", why ? h("small", {}, why) : null);
  }
  if (failedJob && (!film.last_analysis_id || failedJob.analysis_id !== film.last_analysis_id)) {
    return h("span", { class: "state failed", title: failedJob.error || "" }, "Failed", failedJob.error ? h("small", {}, failedJob.error) : null);
  }
  if (film.last_analysis_id && film.analysis_status === "partial") {
    const why = film.analysis_note || "the film is damaged";
    return h("span", { class: "state partial", title: why }, "Partial", h("small", {}, why));
  }
  // Done, but nothing in the film could be analysed: no figures, not a 0 % film.
  if (film.last_analysis_id && film.hybrid_ratio === null) {
    const why = film.analysis_note || "no analysable frames";
    return h("span", { class: "state partial", title: why }, "No figures", h("small", {}, why));
  }
  if (film.last_analysis_id) return h("span", { class: "state done" }, "Analysed");
  return h("span", { class: "state none" }, "Not analysed");
}

export async function renderArchive(main, params, context) {
  const query = readQuery(params);
  const state = {
    collections: [],
    films: null,
    failedByFilm: new Map(),
    activeByFilm: new Map(),
    selected: new Set(),
    stopBatch: null,
  };

  const collectionList = h("ul", { class: "collection-list" });
  const collectionHeader = h("div", { class: "collection-header" });
  const filmsRegion = h("div", { class: "films-region", "aria-live": "polite", "aria-busy": "true" });
  const bulkBar = h("div", { class: "bulk-bar", hidden: true });
  const newCollectionName = h("input", { id: "new-collection-name", name: "name", required: true, maxlength: 255, placeholder: "e.g. Newsreels 1930s" });

  async function loadCollections() {
    const page = await getJson("collections", { limit: 500 });
    state.collections = page.items;
    const current = query.collection ? Number(query.collection) : null;
    replace(
      collectionList,
      h("li", {}, h("a", { href: "#/", "aria-current": current === null ? "page" : null, onclick: (event) => chooseCollection(event, null) }, "All films")),
      state.collections.map((collection) =>
        h(
          "li",
          {},
          h(
            "a",
            {
              href: `#/?collection=${collection.id}`,
              "aria-current": current === collection.id ? "page" : null,
              onclick: (event) => chooseCollection(event, collection.id),
            },
            h("span", {}, collection.name),
            h("span", { class: "count", "aria-label": `${collection.film_count} films` }, String(collection.film_count)),
          ),
        ),
      ),
    );
  }

  function chooseCollection(event, collectionId) {
    event.preventDefault();
    query.collection = collectionId === null ? undefined : String(collectionId);
    query.offset = 0;
    state.selected.clear();
    writeQuery(query);
    refreshAll();
  }

  function currentCollection() {
    return state.collections.find((item) => String(item.id) === String(query.collection)) || null;
  }

  async function loadCollectionHeader() {
    if (state.stopBatch) state.stopBatch();
    state.stopBatch = null;
    const collection = currentCollection();
    if (!collection && query.collection) {
      replace(
        collectionHeader,
        h("h1", {}, "Collection not found"),
        h("p", { class: "muted" }, `There is no collection ${query.collection}. `, h("a", { href: "#/", onclick: (event) => chooseCollection(event, null) }, "All films"), "."),
      );
      return;
    }
    if (!collection) {
      replace(collectionHeader, h("h1", {}, "All films"));
      return;
    }
    const stats = await getJson(`collections/${collection.id}/stats`, { bins: 10 });
    const batchPanel = h("div", { class: "batch-panel" });
    const histogramMax = Math.max(1, ...stats.hybrid_ratio_histogram.map((bin) => bin.count));
    replace(
      collectionHeader,
      h("h1", {}, collection.name),
      collection.description ? h("p", { class: "muted" }, collection.description) : null,
      h(
        "dl",
        { class: "stat-cards" },
        statCard("Films", `${stats.film_count}`, `${stats.analyzed_count} analysed`),
        statCard("Running time", seconds(stats.total_duration_s), `${seconds(stats.hybrid_duration_s)} hybrid`),
        statCard("Hybrid ratio", percent(stats.time_weighted_hybrid_ratio, 1), `mean per film ${percent(stats.mean_hybrid_ratio, 1)}`),
        stats.time_weighted_adjusted_hybrid_ratio === null || stats.time_weighted_adjusted_hybrid_ratio === undefined
          ? null
          : statCard(
              "Hybrid ratio, adjusted",
              percent(stats.time_weighted_adjusted_hybrid_ratio, 1),
              `for the models' error rates, over ${stats.adjusted_count} of ${stats.analyzed_count} analysed films` +
                (stats.adjusted_hybrid_ratio_range
                  ? ` · 90 % likely ${percent(stats.adjusted_hybrid_ratio_range[0], 1)} to ${percent(stats.adjusted_hybrid_ratio_range[1], 1)}`
                  : ""),
            ),
        statCard("P / NP time", `${percent(stats.time_weighted_p_share)} / ${percent(stats.time_weighted_np_share)}`, "time-weighted"),
        statCard("Hybrid shots", `${stats.hybrid_shot_count}`, ""),
      ),
      h(
        "figure",
        { class: "histogram" },
        h(
          "div",
          { class: "histogram-bars", role: "img", "aria-label": `Films by hybrid ratio: ${stats.hybrid_ratio_histogram.map((bin) => `${percent(bin.lower)}–${percent(bin.upper)}: ${bin.count}`).join(", ")}` },
          stats.hybrid_ratio_histogram.map((bin) =>
            h("span", { style: `height: ${((100 * bin.count) / histogramMax).toFixed(1)}%`, title: `${percent(bin.lower)}–${percent(bin.upper)}: ${bin.count} films` }),
          ),
        ),
        h("figcaption", {}, "Films by hybrid ratio (0–100 %)"),
      ),
      h(
        "div",
        { class: "actions" },
        h("button", { type: "button", class: "button needs-write", id: "analyze-collection", onclick: () => analyzeCollection(collection, batchPanel) }, "Analyse collection"),
        h("a", { class: "button secondary", href: `#/collections/${collection.id}/elements` }, "Recurring elements"),
        h("button", { type: "button", class: "button secondary", onclick: () => exportCollection(collection, "csv") }, "Export CSV"),
        h("button", { type: "button", class: "button secondary", onclick: () => exportCollection(collection, "json") }, "Export JSON"),
        h("button", { type: "button", class: "button danger needs-write", onclick: () => deleteCollection(collection) }, "Delete collection"),
      ),
      batchPanel,
    );
    const [latest] = await getJson("batches", { collection: collection.id, limit: 1 });
    if (latest && (latest.counts.queued || latest.counts.running)) followBatch(latest.id, batchPanel);
  }

  function statCard(label, value, note) {
    return h("div", { class: "stat-card" }, h("dt", {}, label), h("dd", {}, h("span", { class: "stat-value" }, value), note ? h("small", {}, note) : null));
  }

  async function exportCollection(collection, format) {
    try {
      await download(`collections/${collection.id}/export`, { format }, `collection-${collection.id}.${format}`);
    } catch (error) {
      context.showMessage(`Export failed: ${error.message}.`);
    }
  }

  async function deleteCollection(collection) {
    if (!confirm(`Delete the collection “${collection.name}”? Its films stay in the archive.`)) return;
    try {
      await del(`collections/${collection.id}`);
      query.collection = undefined;
      writeQuery(query);
      context.showMessage(`Collection “${collection.name}” deleted.`, { kind: "success" });
      refreshAll();
    } catch (error) {
      context.showMessage(`Could not delete the collection: ${error.message}.`);
    }
  }

  async function analyzeCollection(collection, panel) {
    try {
      const batch = await postJson(`collections/${collection.id}/analyze`);
      kick();
      followBatch(batch.id, panel);
    } catch (error) {
      context.showMessage(`Could not start the analysis: ${error.message}.`);
    }
  }

  function followBatch(batchId, panel) {
    let stopped = false;
    let timer = null;
    if (state.stopBatch) state.stopBatch();
    state.stopBatch = () => {
      stopped = true;
      clearTimeout(timer);
    };
    const poll = async () => {
      if (stopped) return;
      try {
        const batch = await getJson(`batches/${batchId}`);
        const counts = batch.counts;
        const finished = counts.done + counts.partial + counts.failed + counts.cancelled;
        const active = counts.queued + counts.running > 0;
        const overall = batch.jobs.length ? batch.jobs.reduce((sum, job) => sum + job.overall_percent, 0) / batch.jobs.length : 100;
        replace(
          panel,
          h("h2", {}, `Batch ${batch.id}`),
          h("progress", { max: 100, value: overall.toFixed(1), "aria-label": `Batch ${batch.id} progress` }),
          h(
            "p",
            { class: "batch-counts", role: "status" },
            `${finished} of ${counts.total} films finished: ${counts.done} done, ${counts.running} running, ${counts.queued} queued`,
            counts.failed ? `, ${counts.failed} failed` : "",
            counts.cancelled ? `, ${counts.cancelled} cancelled` : "",
            ".",
          ),
          batch.jobs.filter((job) => job.status === "failed").map((job) => h("p", { class: "state failed" }, `${filmName(job)}: ${job.error || "failed"}`)),
          h(
            "div",
            { class: "actions" },
            active ? h("button", { type: "button", class: "button secondary needs-write", onclick: () => cancelBatch(batch.id) }, "Cancel batch") : null,
            !active && counts.failed && !batch.cancelled
              ? h("button", { type: "button", class: "button secondary needs-write", onclick: () => rerunFailed(batch.id, panel) }, "Re-run failed films")
              : null,
          ),
        );
        if (active) timer = setTimeout(poll, 1500);
        else {
          loadFilms();
          loadCollectionStatsQuietly();
        }
      } catch (error) {
        replace(panel, h("p", { class: "state failed" }, `Batch progress unavailable: ${error.message}.`));
      }
    };
    poll();
  }

  async function loadCollectionStatsQuietly() {
    try {
      await loadCollections();
    } catch {
      // The list on the side is a convenience; the batch panel already said what happened.
    }
  }

  async function cancelBatch(batchId) {
    try {
      const cancelled = await postJson(`batches/${batchId}/cancel`);
      context.showMessage(`Cancelled ${cancelled.cancelled_job_ids.length} jobs.`, { kind: "success" });
    } catch (error) {
      context.showMessage(`Could not cancel: ${error.message}.`);
    }
  }

  async function rerunFailed(batchId, panel) {
    try {
      await postJson(`batches/${batchId}/rerun-failed`);
      kick();
      followBatch(batchId, panel);
    } catch (error) {
      context.showMessage(`Could not re-run: ${error.message}.`);
    }
  }

  // --- films -------------------------------------------------------------------------

  const filterForm = buildFilterForm();

  function buildFilterForm() {
    const field = (id, label, input) => h("div", { class: "field" }, h("label", { for: id }, label), input);
    const number = (key, attrs) => h("input", { id: `filter-${key}`, name: key, type: "number", inputmode: "decimal", value: query[key] ?? "", ...attrs });
    const shareValue = (key) => (query[key] !== undefined ? String(Math.round(Number(query[key]) * 1000) / 10) : "");
    const form = h(
      "form",
      { class: "filters", role: "search", "aria-label": "Filter and sort films" },
      field("filter-search", "Search title or file", h("input", { id: "filter-search", name: "search", type: "search", value: query.search || "" })),
      field(
        "filter-sort",
        "Sort",
        h("select", { id: "filter-sort", name: "sort" }, SORTS.map(([value, label]) => h("option", { value, selected: value === query.sort }, label))),
      ),
      SHARE_FILTERS.map(([key, label]) =>
        h(
          "fieldset",
          { class: "range" },
          h("legend", {}, `${label} (%)`),
          h(
            "div",
            { class: "range-inputs" },
            h("label", { for: `filter-min_${key}`, class: "visually-hidden" }, `${label} at least (%)`),
            h("input", { id: `filter-min_${key}`, name: `min_${key}`, type: "number", min: 0, max: 100, step: "any", placeholder: "min", value: shareValue(`min_${key}`) }),
            h("span", { "aria-hidden": "true" }, "–"),
            h("label", { for: `filter-max_${key}`, class: "visually-hidden" }, `${label} at most (%)`),
            h("input", { id: `filter-max_${key}`, name: `max_${key}`, type: "number", min: 0, max: 100, step: "any", placeholder: "max", value: shareValue(`max_${key}`) }),
          ),
        ),
      ),
      field("filter-min_hybrid_shots", "Hybrid shots at least", number("min_hybrid_shots", { min: 0, step: 1 })),
      h(
        "fieldset",
        { class: "range" },
        h("legend", {}, "Year"),
        h(
          "div",
          { class: "range-inputs" },
          h("label", { for: "filter-min_year", class: "visually-hidden" }, "Year from"),
          number("min_year", { min: 0, max: 9999, step: 1, placeholder: "from" }),
          h("span", { "aria-hidden": "true" }, "–"),
          h("label", { for: "filter-max_year", class: "visually-hidden" }, "Year to"),
          number("max_year", { min: 0, max: 9999, step: 1, placeholder: "to" }),
        ),
      ),
      field(
        "filter-analyzed",
        "State",
        h(
          "select",
          { id: "filter-analyzed", name: "analyzed" },
          h("option", { value: "" }, "Any"),
          h("option", { value: "true", selected: query.analyzed === "true" }, "Analysed"),
          h("option", { value: "false", selected: query.analyzed === "false" }, "Not analysed"),
        ),
      ),
      h(
        "div",
        { class: "filter-actions" },
        h("button", { type: "submit", class: "button" }, "Apply"),
        h("button", { type: "reset", class: "button secondary" }, "Clear"),
      ),
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      applyFilters();
    });
    form.addEventListener("change", (event) => {
      if (event.target.tagName === "SELECT") applyFilters();
    });
    form.addEventListener("reset", () => {
      setTimeout(() => {
        for (const element of form.elements) if (element.name && element.name !== "sort") element.value = "";
        applyFilters();
      });
    });
    return form;
  }

  function applyFilters() {
    const data = new FormData(filterForm);
    for (const key of QUERY_KEYS) {
      if (key === "collection" || key === "offset") continue;
      const raw = (data.get(key) ?? "").toString().trim();
      const isShare = SHARE_FILTERS.some(([share]) => key.endsWith(share));
      query[key] = raw === "" ? undefined : isShare ? String(Number(raw) / 100) : raw;
    }
    query.sort = query.sort || "-created_at";
    query.offset = 0;
    writeQuery(query);
    loadFilms();
  }

  async function loadFilms() {
    filmsRegion.setAttribute("aria-busy", "true");
    const params = {
      search: query.search,
      sort: query.sort,
      analyzed: query.analyzed,
      min_year: query.min_year,
      max_year: query.max_year,
      min_hybrid_shots: query.min_hybrid_shots,
      collection: query.collection,
      limit: PAGE_SIZE,
      offset: query.offset,
    };
    for (const [key] of SHARE_FILTERS) {
      params[`min_${key}`] = query[`min_${key}`];
      params[`max_${key}`] = query[`max_${key}`];
    }
    try {
      const [page, failed] = await Promise.all([getJson("films", params), getJson("jobs", { status: "failed", limit: 500 })]);
      if (!context.isCurrent()) return;
      state.films = page;
      state.failedByFilm = new Map();
      for (const job of failed) if (!state.failedByFilm.has(job.film_id)) state.failedByFilm.set(job.film_id, job);
      drawFilms();
    } catch (error) {
      replace(filmsRegion, h("p", { class: "notice error", role: "alert" }, `The films could not be listed: ${error.message}.`));
    } finally {
      filmsRegion.setAttribute("aria-busy", "false");
    }
  }

  function stateCell(film) {
    const job = state.activeByFilm.get(film.id);
    return job ? jobState(job) : restingState(film, state.failedByFilm.get(film.id));
  }

  function drawFilms() {
    const page = state.films;
    if (!page.items.length) {
      const filtered = QUERY_KEYS.some((key) => !["collection", "sort", "offset"].includes(key) && query[key] !== undefined);
      replace(
        filmsRegion,
        h("p", { class: "empty" }, filtered ? "No film matches these filters." : query.collection ? "This collection has no films yet: upload one above, or add films from All films." : "No films yet: upload one above."),
      );
      updateBulkBar();
      return;
    }
    const rows = page.items.map((film) =>
      h(
        "tr",
        { dataset: { filmId: film.id } },
        h(
          "td",
          { class: "select-cell needs-write" },
          h("input", {
            type: "checkbox",
            "aria-label": `Select ${filmName(film)}`,
            checked: state.selected.has(film.id),
            onchange: (event) => {
              if (event.target.checked) state.selected.add(film.id);
              else state.selected.delete(film.id);
              updateBulkBar();
            },
          }),
        ),
        h(
          "th",
          { scope: "row", class: "film-cell" },
          h("a", { href: `#/films/${film.id}` }, filmName(film)),
          h("small", {}, [film.title ? film.original_filename : null, bytes(film.size_bytes)].filter(Boolean).join(" · ")),
        ),
        h("td", { class: "num" }, film.year ?? "–"),
        h("td", { class: "num" }, seconds(film.duration_s)),
        h("td", {}, ratioCell(film)),
        h("td", {}, shareBar(film)),
        h("td", { class: "num" }, film.hybrid_shot_count ?? "–"),
        h("td", { class: "state-cell" }, stateCell(film)),
        h(
          "td",
          { class: "row-actions needs-write" },
          h(
            "button",
            {
              type: "button",
              class: "button secondary small",
              onclick: () => analyzeFilm(film),
              "aria-label": `Analyse ${filmName(film)}`,
            },
            analyseLabel(film),
          ),
        ),
      ),
    );
    const first = page.total ? page.offset + 1 : 0;
    const last = page.offset + page.items.length;
    replace(
      filmsRegion,
      h(
        "div",
        { class: "table-scroll" },
        h(
          "table",
          { class: "films-table" },
          h("caption", { class: "visually-hidden" }, "Films with their figures and analysis state"),
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              h("th", { scope: "col", class: "needs-write" }, h("span", { class: "visually-hidden" }, "Select")),
              h("th", { scope: "col" }, "Film"),
              h("th", { scope: "col", class: "num" }, "Year"),
              h("th", { scope: "col", class: "num" }, "Length"),
              h("th", { scope: "col" }, "Hybrid ratio"),
              h("th", { scope: "col" }, "Time shares"),
              h("th", { scope: "col", class: "num" }, "Hybrid shots"),
              h("th", { scope: "col" }, "Analysis"),
              h("th", { scope: "col", class: "needs-write" }, h("span", { class: "visually-hidden" }, "Actions")),
            ),
          ),
          h("tbody", {}, rows),
        ),
      ),
      h(
        "nav",
        { class: "pager", "aria-label": "Pages of films" },
        h("button", { type: "button", class: "button secondary small", disabled: page.offset === 0, onclick: () => turnPage(-1) }, "Previous"),
        h("span", {}, `${first}–${last} of ${page.total}`),
        h("button", { type: "button", class: "button secondary small", disabled: last >= page.total, onclick: () => turnPage(1) }, "Next"),
      ),
    );
    updateBulkBar();
  }

  function turnPage(direction) {
    query.offset = Math.max(0, query.offset + direction * PAGE_SIZE);
    writeQuery(query);
    loadFilms();
  }

  function updateBulkBar() {
    const count = state.selected.size;
    bulkBar.hidden = count === 0;
    if (!count) return;
    const collection = currentCollection();
    const others = state.collections.filter((item) => !collection || item.id !== collection.id);
    const target = h(
      "select",
      { id: "bulk-target", "aria-label": "Collection to add the selected films to" },
      others.map((item) => h("option", { value: item.id }, item.name)),
    );
    replace(
      bulkBar,
      h("span", {}, `${count} selected`),
      others.length
        ? [target, h("button", { type: "button", class: "button small", onclick: () => addSelected(Number(target.value)) }, "Add to collection")]
        : h("span", { class: "muted" }, "Create a collection to group films."),
      collection ? h("button", { type: "button", class: "button secondary small", onclick: () => removeSelected(collection) }, "Remove from this collection") : null,
      h("button", { type: "button", class: "button secondary small", onclick: () => analyzeSelected() }, "Analyse selected"),
    );
  }

  async function addSelected(collectionId) {
    try {
      const result = await postJson(`collections/${collectionId}/films`, { film_ids: [...state.selected] });
      context.showMessage(`Added ${result.changed} films to the collection.`, { kind: "success" });
      state.selected.clear();
      await loadCollections();
      loadFilms();
    } catch (error) {
      context.showMessage(`Could not add the films: ${error.message}.`);
    }
  }

  async function removeSelected(collection) {
    try {
      for (const filmId of state.selected) await del(`collections/${collection.id}/films/${filmId}`);
      state.selected.clear();
      await loadCollections();
      refreshAll();
    } catch (error) {
      context.showMessage(`Could not remove the films: ${error.message}.`);
    }
  }

  async function analyzeSelected() {
    const ids = [...state.selected];
    try {
      for (const filmId of ids) await postJson(`films/${filmId}/analyze`);
      state.selected.clear();
      kick();
      context.showMessage(`Queued ${ids.length} analyses.`, { kind: "success" });
      loadFilms();
    } catch (error) {
      context.showMessage(`Could not start the analyses: ${error.message}.`);
    }
  }

  async function analyzeFilm(film) {
    try {
      const job = await postJson(`films/${film.id}/analyze`);
      state.activeByFilm.set(film.id, job);
      updateStateCell(film.id);
      kick();
    } catch (error) {
      context.showMessage(`Could not analyse ${filmName(film)}: ${error.message}.`);
    }
  }

  function updateStateCell(filmId) {
    const cell = filmsRegion.querySelector(`tr[data-film-id="${filmId}"] .state-cell`);
    const film = state.films && state.films.items.find((item) => item.id === filmId);
    if (cell && film) replace(cell, stateCell(film));
  }

  // --- upload ------------------------------------------------------------------------

  const uploadPanel = buildUploadPanel();

  function buildUploadPanel() {
    const fileInput = h("input", { id: "upload-file", name: "file", type: "file", accept: "video/*,.mkv,.mxf,.mov,.avi,.ts", required: true });
    const title = h("input", { id: "upload-title", name: "title", maxlength: 512 });
    const year = h("input", { id: "upload-year", name: "year", type: "number", min: 1850, max: 2200, step: 1 });
    const analyze = h("input", { id: "upload-analyze", name: "analyze", type: "checkbox", checked: true });
    const status = h("div", { class: "upload-status", id: "upload-status", "aria-live": "polite" });
    const submit = h("button", { type: "submit", class: "button", id: "upload-submit" }, "Upload");
    const form = h(
      "form",
      { class: "upload-form needs-write", "aria-labelledby": "upload-heading" },
      h("h2", { id: "upload-heading" }, "Upload a film"),
      h(
        "div",
        { class: "upload-fields" },
        h("div", { class: "field grow" }, h("label", { for: "upload-file" }, "Video file"), fileInput),
        h("div", { class: "field grow" }, h("label", { for: "upload-title" }, "Title (optional)"), title),
        h("div", { class: "field" }, h("label", { for: "upload-year" }, "Year (optional)"), year),
        h("div", { class: "field checkbox" }, analyze, h("label", { for: "upload-analyze" }, "Analyse after upload")),
        submit,
      ),
      status,
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const file = fileInput.files[0];
      if (!file) return;
      submit.disabled = true;
      const bar = h("progress", { id: "upload-progress", max: 100, value: 0, "aria-label": `Upload of ${file.name}` });
      const text = h("span", {}, `Uploading ${file.name}…`);
      replace(status, text, bar);
      const upload = uploadFilm(file, { title: title.value.trim(), year: year.value, analyze: analyze.checked }, (loaded, total) => {
        bar.value = (100 * loaded) / total;
        text.textContent = `Uploading ${file.name}: ${bytes(loaded)} of ${bytes(total)}`;
      });
      const cancel = h("button", { type: "button", class: "button secondary small", onclick: () => upload.cancel() }, "Cancel");
      status.append(cancel);
      try {
        const film = await upload.done;
        cancel.remove();
        bar.value = 100;
        const collection = currentCollection();
        if (collection) await postJson(`collections/${collection.id}/films`, { film_ids: [film.id] });
        form.reset();
        analyze.checked = true;
        const link = h("a", { href: `#/films/${film.id}` }, filmName(film));
        text.replaceChildren(film.created ? "Uploaded " : "Already in the archive: ", link, ".");
        if (film.job_id) followUploadJob(film, status);
        refreshAll();
      } catch (error) {
        text.textContent = `Upload failed: ${error.message}.`;
        status.classList.add("failed");
        cancel.remove();
      } finally {
        submit.disabled = false;
      }
    });
    return h("section", { class: "panel upload-panel needs-write" }, form);
  }

  function followUploadJob(film, status) {
    const line = h("p", { class: "upload-job", id: "upload-job", role: "status" }, "Analysis queued…");
    const bar = h("progress", { id: "upload-job-progress", max: 100, value: 0, "aria-label": `Analysis of ${filmName(film)}` });
    status.append(line, bar);
    kick();
    const poll = async () => {
      if (!line.isConnected) return;
      try {
        const job = await getJson(`jobs/${film.job_id}`);
        bar.value = job.overall_percent;
        if (job.status === "queued" || job.status === "running") {
          line.textContent = job.status === "queued" ? "Analysis queued…" : `Analysing${job.stage ? ` (${job.stage})` : ""}: ${Math.round(job.overall_percent)} %`;
          setTimeout(poll, 1000);
          return;
        }
        line.dataset.status = job.status;
        if (job.status === "done" || job.status === "partial") {
          line.replaceChildren(
            job.status === "done" ? "Analysis done. " : `Analysis partly done (${job.error || "the file is damaged"}). `,
            h("a", { href: `#/films/${film.id}` }, "Open the film"),
          );
        } else {
          line.textContent = `Analysis ${job.status}${job.error ? `: ${job.error}` : ""}.`;
          line.classList.add("failed");
        }
        loadFilms();
      } catch (error) {
        line.textContent = `Analysis progress unavailable: ${error.message}.`;
      }
    };
    poll();
  }

  // --- layout ------------------------------------------------------------------------

  const newCollectionForm = h(
    "form",
    { class: "new-collection needs-write" },
    h("label", { for: "new-collection-name" }, "New collection"),
    h("div", { class: "inline" }, newCollectionName, h("button", { type: "submit", class: "button small" }, "Create")),
  );
  newCollectionForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const collection = await postJson("collections", { name: newCollectionName.value.trim() });
      newCollectionName.value = "";
      query.collection = String(collection.id);
      query.offset = 0;
      writeQuery(query);
      refreshAll();
    } catch (error) {
      context.showMessage(`Could not create the collection: ${error.message}.`);
    }
  });

  context.setCrumbs([{ label: "Films", href: "#/" }]);
  replace(
    main,
    h(
      "div",
      { class: "archive" },
      h("aside", { class: "panel sidebar", "aria-labelledby": "collections-heading" }, h("h2", { id: "collections-heading" }, "Collections"), collectionList, newCollectionForm),
      h("div", { class: "archive-main" }, h("section", { class: "panel" }, collectionHeader, filterForm), uploadPanel, h("section", { class: "panel films-panel", "aria-label": "Films" }, bulkBar, filmsRegion)),
    ),
  );

  async function refreshAll() {
    try {
      await loadCollections();
      if (!context.isCurrent()) return;
      await Promise.all([loadCollectionHeader(), loadFilms()]);
    } catch (error) {
      context.showMessage(`The archive could not be loaded: ${error.message}.`);
    }
  }

  await loadCollections();
  await Promise.all([loadCollectionHeader(), loadFilms()]);

  const stopWatching = watchJobs((update) => {
    if (update.error) return;
    const before = state.activeByFilm;
    state.activeByFilm = update.byFilm;
    const changed = new Set([...before.keys(), ...update.byFilm.keys()]);
    for (const filmId of changed) updateStateCell(filmId);
    const shown = new Set((state.films ? state.films.items : []).map((film) => film.id));
    if (update.finished.some((job) => shown.has(job.film_id))) loadFilms();
  });

  return () => {
    stopWatching();
    if (state.stopBatch) state.stopBatch();
  };
}
