// How figures read on the page: percentages, durations, SMPTE timecodes, sizes, classes.

export const CLASS_LABELS = { P: "Photographic", NP: "Drawn", hybrid: "Hybrid" };

export function percent(value, digits = 0) {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  return `${(100 * value).toFixed(digits)} %`;
}

export function seconds(value) {
  if (value === null || value === undefined) return "–";
  const total = Math.round(value);
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const secs = total % 60;
  if (hours) return `${hours} h ${String(minutes).padStart(2, "0")} min`;
  if (minutes) return `${minutes} min ${String(secs).padStart(2, "0")} s`;
  return `${value < 10 ? value.toFixed(1) : secs} s`;
}

// The same convention as the EDL export: non-drop-frame, at the rounded rate (29.97 -> 30).
export function nominalRate(fps) {
  return fps && fps > 0 ? Math.max(1, Math.round(fps)) : 25;
}

export function timecode(frame, fps) {
  const rate = nominalRate(fps);
  const count = Math.max(0, Math.round(frame));
  const frames = count % rate;
  const totalSeconds = Math.floor(count / rate);
  const pad = (n) => String(n).padStart(2, "0");
  const hours = Math.floor(totalSeconds / 3600) % 24;
  return `${pad(hours)}:${pad(Math.floor(totalSeconds / 60) % 60)}:${pad(totalSeconds % 60)}:${pad(frames)}`;
}

export function bytes(value) {
  if (value === null || value === undefined) return "–";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let size = value;
  let unit = 0;
  while (size >= 1000 && unit < units.length - 1) {
    size /= 1000;
    unit += 1;
  }
  return `${size < 10 && unit ? size.toFixed(1) : Math.round(size)} ${units[unit]}`;
}

export function filmName(film) {
  return film.title || film.original_filename || film.film_title || film.film_filename || `Film ${film.id}`;
}

export function dateTime(value) {
  if (!value) return "–";
  return new Date(value).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}
