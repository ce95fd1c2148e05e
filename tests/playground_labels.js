// The browser test's check of the page's labels (tests/test_playground_browser.py): every
// visible text of the page that is clipped (outside its own box, its panel, an ancestor that
// hides its overflow, or the viewport's width) or overlaps another text or a control, and every
// control (canvases too) outside its panel. Returns the problems as sentences.
const problems = [], texts = [], controls = [];
const name = (n) => JSON.stringify(n.textContent.trim().slice(0, 30));
const inside = (r, b) => r.left >= b.left - 1 && r.right <= b.right + 1;
const insideY = (r, b) => r.top >= b.top - 1 && r.bottom <= b.bottom + 1;
// scrolled out of a panel that scrolls: not shown, so neither clipped nor overlapping
const hidden = (r, el) => {
  for (let a = el; a && a !== document.body; a = a.parentElement) {
    const s = getComputedStyle(a);
    if (["auto", "scroll"].includes(s.overflowY) && !insideY(r, a.getBoundingClientRect())) return true;
  }
  return false;
};
const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
for (let n = walker.nextNode(); n; n = walker.nextNode()) {
  const el = n.parentElement;
  // a closed <details>' content is not shown (Chromium still gives it boxes)
  if (!n.textContent.trim() || el.closest("option, script, select, [hidden], details:not([open]) > :not(summary)")) continue;
  const range = document.createRange();
  range.selectNodeContents(n);
  const rects = [...range.getClientRects()].filter((r) => r.width > 0 && r.height > 0 && !hidden(r, el));
  if (!rects.length || getComputedStyle(el).visibility === "hidden") continue;
  let box = el;
  while (getComputedStyle(box).display.startsWith("inline") && box.parentElement) box = box.parentElement;
  for (const r of rects) {
    texts.push({ r, n });
    if (!inside(r, box.getBoundingClientRect())) problems.push(`${name(n)} leaves its box`);
    if (r.right > innerWidth + 1 || r.left < -1) problems.push(`${name(n)} leaves the viewport`);
    const panel = el.closest(".panel, header");
    if (panel && !inside(r, panel.getBoundingClientRect())) problems.push(`${name(n)} leaves its panel`);
    for (let a = el; a && a !== document.body; a = a.parentElement) {
      const s = getComputedStyle(a), b = a.getBoundingClientRect();
      if (s.overflowX !== "visible" && !inside(r, b)) problems.push(`${name(n)} is clipped by ${a.id || a.tagName}`);
      if (s.overflowY === "hidden" && !insideY(r, b)) problems.push(`${name(n)} is clipped by ${a.id || a.tagName}`);
    }
  }
}
for (const c of document.querySelectorAll("input, select, button, canvas")) {
  const r = c.getBoundingClientRect();
  if (r.width > 0 && c.offsetParent !== null && !hidden(r, c)) controls.push({ r, c });
  const panel = c.closest(".panel, header");
  if (panel && r.width > 0 && !inside(r, panel.getBoundingClientRect())) problems.push(`${c.id || c.tagName} leaves its panel`);
}
const cross = (a, b) => Math.min(a.right, b.right) - Math.max(a.left, b.left) > 1
  && Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top) > 1;
for (let i = 0; i < texts.length; i++) {
  for (let j = i + 1; j < texts.length; j++) {
    if (texts[i].n !== texts[j].n && cross(texts[i].r, texts[j].r)) {
      problems.push(`${name(texts[i].n)} overlaps ${name(texts[j].n)}`);
    }
  }
  for (const { r, c } of controls) {
    if (!c.contains(texts[i].n) && cross(texts[i].r, r)) problems.push(`${name(texts[i].n)} overlaps ${c.id || c.tagName}`);
  }
}
if (document.documentElement.scrollWidth > innerWidth) problems.push("the page scrolls sideways");
return problems;
