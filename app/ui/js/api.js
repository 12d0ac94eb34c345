// The API as the page uses it: the token kept in localStorage and sent as a bearer token,
// JSON and image requests, file downloads, and uploads with progress (XHR: fetch cannot
// report upload progress).

const TOKEN_KEY = "hybridlens.token";

// The API lives one level above the page (/ui/ -> /), also behind a proxy's prefix.
export const API_BASE = new URL("../", document.baseURI);

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.name = "ApiError";
    this.status = status;
  }
}

export function getToken() {
  return localStorage.getItem(TOKEN_KEY) || "";
}

export function setToken(token) {
  if (token) {
    localStorage.setItem(TOKEN_KEY, token.trim());
  } else {
    localStorage.removeItem(TOKEN_KEY);
  }
  window.dispatchEvent(new CustomEvent("hybridlens:token"));
}

export function apiUrl(path, params) {
  const url = new URL(path.replace(/^\//, ""), API_BASE);
  for (const [key, value] of Object.entries(params || {})) {
    if (value === undefined || value === null || value === "") continue;
    for (const item of Array.isArray(value) ? value : [value]) {
      url.searchParams.append(key, String(item));
    }
  }
  return url;
}

function authHeaders() {
  const token = getToken();
  return token ? { Authorization: `Bearer ${token}` } : {};
}

// FastAPI says what went wrong in "detail": a sentence, or a list of validation errors.
function describe(status, body) {
  const detail = body && body.detail;
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) {
    return detail
      .map((item) => {
        const where = (item.loc || []).filter((part) => part !== "query" && part !== "body");
        return where.length ? `${where.join(".")}: ${item.msg}` : item.msg;
      })
      .join("; ");
  }
  if (status === 0) return "the server cannot be reached";
  return `the server answered ${status}`;
}

async function failure(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    // Not JSON (a proxy's error page, say): the status alone says enough.
  }
  const error = new ApiError(response.status, describe(response.status, body));
  if (response.status === 401) {
    window.dispatchEvent(new CustomEvent("hybridlens:unauthorized", { detail: error.message }));
  }
  return error;
}

async function send(method, path, { params, json, signal } = {}) {
  const headers = authHeaders();
  let body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  }
  let response;
  try {
    response = await fetch(apiUrl(path, params), { method, headers, body, signal });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(0, "the server cannot be reached");
  }
  if (!response.ok) throw await failure(response);
  return response;
}

// What the token may do (GET /me), asked once per token: the page hides the write actions
// (Upload, Create, Analyse...) of a read-only token instead of letting them fail.
let access = null;

export async function getAccess() {
  const token = getToken();
  if (!access || access.token !== token) {
    access = { token, me: getJson("me") };
    access.me.catch(() => {
      if (access && access.token === token) access = null; // ask again next time
    });
  }
  return access.me;
}

export async function getJson(path, params, options = {}) {
  const response = await send("GET", path, { params, ...options });
  return response.json();
}

export async function postJson(path, json, params) {
  const response = await send("POST", path, { json, params });
  return response.status === 204 ? null : response.json();
}

export async function putJson(path, json) {
  const response = await send("PUT", path, { json });
  return response.json();
}

export async function del(path) {
  await send("DELETE", path);
}

export async function getBlob(path, params, options = {}) {
  const response = await send("GET", path, { params, ...options });
  return response.blob();
}

// Every page of a paginated list ({items, total, limit, offset}).
export async function getAllPages(path, params, pageSize = 500) {
  const items = [];
  for (let offset = 0; ; offset += pageSize) {
    const page = await getJson(path, { ...params, limit: pageSize, offset });
    items.push(...page.items);
    if (offset + pageSize >= page.total || page.items.length === 0) return items;
  }
}

// Saves what the API sends as a file, under the name its Content-Disposition gives.
export async function download(path, params, fallbackName) {
  const response = await send("GET", path, { params });
  const disposition = response.headers.get("Content-Disposition") || "";
  const match = /filename="?([^";]+)"?/.exec(disposition);
  const blob = await response.blob();
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = match ? match[1] : fallbackName;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
}

// POST /films as multipart (field "file"); onProgress(loaded, total) while the bytes go out.
export function uploadFilm(file, fields, onProgress) {
  const form = new FormData();
  for (const [key, value] of Object.entries(fields)) {
    if (value !== undefined && value !== null && value !== "") form.append(key, String(value));
  }
  form.append("file", file, file.name);
  const xhr = new XMLHttpRequest();
  const done = new Promise((resolve, reject) => {
    xhr.open("POST", apiUrl("films"));
    const token = getToken();
    if (token) xhr.setRequestHeader("Authorization", `Bearer ${token}`);
    xhr.responseType = "json";
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) onProgress(event.loaded, event.total);
    });
    xhr.addEventListener("load", () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        resolve(xhr.response);
        return;
      }
      const error = new ApiError(xhr.status, describe(xhr.status, xhr.response));
      if (xhr.status === 401) {
        window.dispatchEvent(new CustomEvent("hybridlens:unauthorized", { detail: error.message }));
      }
      reject(error);
    });
    xhr.addEventListener("error", () => reject(new ApiError(0, "the upload was interrupted")));
    xhr.addEventListener("abort", () => reject(new ApiError(0, "the upload was cancelled")));
    xhr.send(form);
  });
  return { done, cancel: () => xhr.abort() };
}
