// Elements are built with textContent only: nothing the API returns is ever parsed as HTML.

/** h("td", {class: "num"}, "1.5", child…): an element with attributes and children. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") el.addEventListener(name.slice(2), value);
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** A table with a caption, a header row and body rows (arrays of cells or of `td`s). */
export function table(caption, headers, rows, attrs = {}) {
  return h(
    "table",
    attrs,
    caption ? h("caption", {}, caption) : null,
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        headers.map((t) => (t instanceof Node ? t : h("th", { scope: "col" }, t))),
      ),
    ),
    h("tbody", {}, rows),
  );
}

/** Replaces what `el` shows. */
export function show(el, ...children) {
  el.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined));
}

/** "3 min", "2 h 5 min": how long ago an ISO instant was. */
export function age(iso, now = Date.now()) {
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** An ISO instant as people read it, in their time zone; "never" for null. */
export function when(iso) {
  return iso ? new Date(iso).toLocaleString() : "never";
}

/** A message in place of a view's content. */
export function note(text, cls = "hint") {
  return h("p", { class: cls }, text);
}
