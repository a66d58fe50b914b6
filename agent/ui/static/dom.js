// dom.js: the only way the page makes elements. Text always goes in through
// textContent and values through attributes, never through HTML parsing, so a
// pod named or logging <script> shows as text (see the rule atop app.js).

const SVG_NS = 'http://www.w3.org/2000/svg';

function fill(node, attrs, children) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') node.setAttribute('class', v);
    else if (k === 'text') node.textContent = v;
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

// el('span', {class: 'x', text: name}) or el('div', {}, child, 'text', ...).
export function el(tag, attrs, ...children) {
  return fill(document.createElement(tag), attrs, children);
}

export function svgEl(tag, attrs, ...children) {
  return fill(document.createElementNS(SVG_NS, tag), attrs, children);
}

// Sets or removes a data-* attribute; false/undefined/null remove it.
export function setData(node, name, value) {
  if (value === undefined || value === null || value === false) delete node.dataset[name];
  else node.dataset[name] = String(value);
}

// Makes parent's children match items, reusing the element made for each key.
// A re-render then keeps focus, typed text, a disabled button and a click in
// progress (a click whose target is replaced between mousedown and mouseup is
// lost), which a rebuild from scratch would not.
export function syncChildren(parent, items, keyOf, create, update) {
  const old = new Map();
  for (const c of parent.children) if (c.dataset.key !== undefined) old.set(c.dataset.key, c);
  let i = 0;
  for (const item of items) {
    const key = keyOf(item);
    let node = old.get(key);
    if (node) old.delete(key);
    else {
      node = create(item);
      node.dataset.key = key;
    }
    update(node, item);
    if (parent.children[i] !== node) parent.insertBefore(node, parent.children[i] || null);
    i++;
  }
  for (const node of old.values()) node.remove();
}

// The text of a span-like child found by class, set only when it changed.
export function setText(parent, selector, text) {
  const n = parent.querySelector(selector);
  if (n && n.textContent !== text) n.textContent = text;
}
