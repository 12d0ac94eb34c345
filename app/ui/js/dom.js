// A tiny element builder: h("button", {class: "x", onclick}, "Label"). Text is always set as
// text, never parsed as HTML, so names from the database cannot inject markup.

const SVG_NS = "http://www.w3.org/2000/svg";

function build(element, attrs, children) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      element.addEventListener(key.slice(2), value);
    } else if (key === "style") {
      // Through the CSSOM: the page's security policy refuses style attributes.
      element.style.cssText = value;
    } else if (key === "dataset") {
      Object.assign(element.dataset, value);
    } else if (key === "value" && "value" in element) {
      element.value = value;
    } else if (key === "checked" || key === "selected" || key === "disabled") {
      element[key] = Boolean(value);
    } else {
      element.setAttribute(key, value === true ? "" : String(value));
    }
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function h(tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children);
}

export function svg(tag, attrs, ...children) {
  return build(document.createElementNS(SVG_NS, tag), attrs, children);
}

export function replace(element, ...children) {
  element.replaceChildren();
  append(element, children);
  return element;
}
