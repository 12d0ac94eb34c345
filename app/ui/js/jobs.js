// Which films are being analysed: polls GET /jobs?status=queued&status=running while some
// view listens, quickly while jobs run and slowly otherwise, and tells listeners about the
// active jobs and about the jobs that finished since the last poll.

import { getJson } from "./api.js";

const FAST_MS = 1000;
const SLOW_MS = 5000;

const listeners = new Set();
let activeByJob = new Map();
let timer = null;
let polling = false;

function schedule(delay) {
  clearTimeout(timer);
  timer = listeners.size ? setTimeout(poll, delay) : null;
}

async function poll() {
  if (polling || !listeners.size) return;
  if (document.hidden) {
    schedule(SLOW_MS);
    return;
  }
  polling = true;
  try {
    const jobs = await getJson("jobs", { status: ["queued", "running"], limit: 500 });
    const now = new Map(jobs.map((job) => [job.id, job]));
    const finishedIds = [...activeByJob.keys()].filter((id) => !now.has(id));
    const finished = await Promise.all(finishedIds.map((id) => getJson(`jobs/${id}`).catch(() => null)));
    activeByJob = now;
    const byFilm = new Map();
    for (const job of jobs) {
      // Newest first: the first job seen for a film is the one to show.
      if (!byFilm.has(job.film_id)) byFilm.set(job.film_id, job);
    }
    const update = { byFilm, jobs, finished: finished.filter(Boolean), error: null };
    for (const listener of listeners) listener(update);
    schedule(now.size ? FAST_MS : SLOW_MS);
  } catch (error) {
    for (const listener of listeners) listener({ byFilm: new Map(), jobs: [], finished: [], error });
    schedule(SLOW_MS * 2);
  } finally {
    polling = false;
  }
}

// listener({byFilm, jobs, finished, error}); returns the function that stops listening.
export function watchJobs(listener) {
  listeners.add(listener);
  kick();
  return () => {
    listeners.delete(listener);
    if (!listeners.size) clearTimeout(timer);
  };
}

// Poll now: something was just queued.
export function kick() {
  schedule(0);
}

document.addEventListener("visibilitychange", () => {
  if (!document.hidden) kick();
});
