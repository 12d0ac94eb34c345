// The page's shell: routes by the URL fragment (#/, #/films/3, #/films/3/frames/25,
// #/collections/2/elements; a collection is the archive filtered to it, #/?collection=2, which
// #/collections/2 leads to), the token dialog, breadcrumbs and the message area. A view that
// fails shows why; nothing leaves the page blank.

import { getAccess, getToken, setToken } from "./api.js";
import { h, replace } from "./dom.js";
import { renderArchive } from "./views/archive.js";
import { renderElements } from "./views/elements.js";
import { renderFilm } from "./views/film.js";
import { renderFrame } from "./views/frame.js";

const main = document.getElementById("main");
const messages = document.getElementById("messages");
const crumbs = document.getElementById("breadcrumbs");
const tokenDialog = document.getElementById("token-dialog");
const tokenInput = document.getElementById("token-input");
const tokenState = document.getElementById("token-state");

let cleanup = null;
let renderCount = 0;

export function showMessage(text, { kind = "error", timeoutMs = kind === "error" ? 0 : 6000, action = null } = {}) {
  const message = h(
    "div",
    { class: `notice ${kind}`, role: kind === "error" ? "alert" : "status" },
    h("span", {}, text),
    action ? h("button", { type: "button", class: "button secondary small", onclick: action.run }, action.label) : null,
    h("button", { type: "button", class: "dismiss", "aria-label": "Dismiss message", onclick: () => message.remove() }, "×"),
  );
  // The same message twice (a poll failing again) is shown once.
  for (const old of messages.querySelectorAll(".notice")) {
    if (old.firstChild.textContent === text) old.remove();
  }
  messages.append(message);
  if (timeoutMs) setTimeout(() => message.remove(), timeoutMs);
  return message;
}

function clearErrors() {
  for (const old of messages.querySelectorAll(".notice")) old.remove();
}

function setCrumbs(items) {
  replace(
    crumbs,
    h(
      "ol",
      {},
      items.map((item, index) =>
        h("li", {}, index === items.length - 1 ? h("span", { "aria-current": "page" }, item.label) : h("a", { href: item.href }, item.label)),
      ),
    ),
  );
  document.title = items.length ? `${items.at(-1).label} · hybridlens` : "hybridlens";
}

function openTokenDialog() {
  tokenInput.value = getToken();
  if (!tokenDialog.open) tokenDialog.showModal();
  tokenInput.focus();
}

function showTokenState(me = null) {
  tokenState.textContent = !getToken() ? "No token" : me && !me.can_write ? "Read-only token" : "Token set";
  tokenState.classList.toggle("missing", !getToken());
}

// Marks the page read-only (CSS hides every .needs-write control) unless the token may write.
async function applyAccess() {
  const me = await getAccess();
  document.body.dataset.access = me.can_write ? "write" : "read";
  showTokenState(me);
}

function parseRoute() {
  const hash = location.hash.replace(/^#/, "") || "/";
  const [path, query = ""] = hash.split("?");
  const params = new URLSearchParams(query);
  const parts = path.split("/").filter(Boolean);
  if (parts.length === 0) return { view: "archive", params };
  if (parts[0] === "films" && /^\d+$/.test(parts[1] || "")) {
    if (parts.length === 2) return { view: "film", filmId: Number(parts[1]), params };
    if (parts[2] === "frames" && /^\d+$/.test(parts[3] || "") && parts.length === 4) {
      return { view: "frame", filmId: Number(parts[1]), frameIndex: Number(parts[3]), params };
    }
  }
  if (parts[0] === "collections" && parts.length === 1) return { view: "archive", params, canonical: "#/" };
  if (parts[0] === "collections" && /^\d+$/.test(parts[1] || "")) {
    if (parts.length === 3 && parts[2] === "elements") return { view: "elements", collectionId: Number(parts[1]), params };
    // The archive shows a collection at #/?collection=2 (its own links, and the address it
    // writes as filters change): the natural address is the same view.
    if (parts.length === 2) {
      params.set("collection", String(Number(parts[1])));
      return { view: "archive", params, canonical: `#/?${params}` };
    }
  }
  return { view: "missing", path };
}

async function render() {
  const number = ++renderCount;
  if (cleanup) {
    cleanup();
    cleanup = null;
  }
  clearErrors();
  const route = parseRoute();
  // replaceState: no hashchange, so no second render.
  if (route.canonical) history.replaceState(null, "", route.canonical);
  const context = {
    setCrumbs,
    showMessage,
    openTokenDialog,
    // A view still loading when the user moved on must not draw over the next one.
    isCurrent: () => number === renderCount,
  };
  replace(main, h("p", { class: "loading" }, "Loading…"));
  try {
    if (!getToken()) {
      setCrumbs([{ label: "Films", href: "#/" }]);
      replace(
        main,
        h(
          "section",
          { class: "panel intro" },
          h("h1", {}, "Welcome to hybridlens"),
          h("p", {}, "Enter an API token to browse the archive's films and their hybrid compositions."),
          h("button", { type: "button", class: "button", onclick: openTokenDialog }, "Enter API token"),
        ),
      );
      return;
    }
    await applyAccess();
    let result;
    if (route.view === "archive") result = await renderArchive(main, route.params, context);
    else if (route.view === "film") result = await renderFilm(main, route.filmId, route.params, context);
    else if (route.view === "elements") result = await renderElements(main, route.collectionId, route.params, context);
    else if (route.view === "frame") result = await renderFrame(main, route.filmId, route.frameIndex, route.params, context);
    else {
      setCrumbs([{ label: "Films", href: "#/" }, { label: "Not found" }]);
      replace(main, h("section", { class: "panel" }, h("h1", {}, "Page not found"), h("p", {}, "Nothing lives at this address. ", h("a", { href: "#/" }, "Back to the films"), ".")));
    }
    if (number === renderCount) cleanup = result || null;
    else if (result) result();
  } catch (error) {
    if (number !== renderCount) return;
    showError(error);
  }
}

function showError(error) {
  const status = error && error.status;
  const title = status === 404 ? "Not found" : status === 401 ? "The API refused the token" : "Something went wrong";
  setCrumbs([{ label: "Films", href: "#/" }, { label: title }]);
  replace(
    main,
    h(
      "section",
      { class: "panel error-panel", role: "alert" },
      h("h1", {}, title),
      h("p", {}, error && error.message ? `${error.message.charAt(0).toUpperCase()}${error.message.slice(1)}.` : "Unknown error."),
      h(
        "p",
        {},
        status === 401 ? h("button", { type: "button", class: "button", onclick: openTokenDialog }, "Enter API token") : null,
        " ",
        h("a", { href: "#/", class: "button secondary" }, "Back to the films"),
      ),
    ),
  );
}

document.getElementById("token-button").addEventListener("click", openTokenDialog);
document.getElementById("token-cancel").addEventListener("click", () => tokenDialog.close());
document.getElementById("token-forget").addEventListener("click", () => {
  setToken("");
  tokenDialog.close();
});
document.getElementById("token-form").addEventListener("submit", (event) => {
  event.preventDefault();
  setToken(tokenInput.value);
  tokenDialog.close();
});
window.addEventListener("hybridlens:token", () => {
  showTokenState();
  render();
});
window.addEventListener("hybridlens:unauthorized", (event) => {
  showMessage(`The API refused the token: ${event.detail}.`, { action: { label: "Enter token", run: openTokenDialog } });
});
window.addEventListener("hashchange", render);
window.addEventListener("error", (event) => showMessage(`Unexpected error: ${event.message}`));
window.addEventListener("unhandledrejection", (event) => {
  const reason = event.reason;
  if (reason && reason.name === "AbortError") return;
  showMessage(`Unexpected error: ${reason && reason.message ? reason.message : reason}`);
});

showTokenState();
render();
