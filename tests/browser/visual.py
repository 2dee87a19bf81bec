"""The visual check: what a projector audience would see as broken, read from the DOM of the page as drawn.

`inspect(page)` runs one script in the page and returns every problem at once (never stops at the first):

- key text cut: st.metric values, labels and deltas, headings, buttons, tabs, widget labels, captions,
  expander titles and sidebar links whose box clips their text (scrollWidth > clientWidth with overflow
  not visible, or text-overflow: ellipsis applied; also clipped vertically, e.g. a line clamp), or with a
  word broken across lines (a button squeezed to "C" / "ancel");
- the page wider than the window (horizontal scroll of the main area, or an element sticking out of it);
- charts (every `.js-plotly-plot`): any SVG text node (title, ticks, legend, annotations, point and bar
  labels) outside the chart's own box (its first `.main-svg`) or outside its Streamlit container; point
  labels (`.textpoint text`, `.bartext`) and data-anchored annotations outside the plot area (the subplot's
  `.nsewdrag` box): Plotly clips those at the axes, so they read cut; chart text under 9 px; a tick label
  repeated on one axis (the same "$1k" twice reads as a wrong axis);
- data tables (canvas grids) that scroll sideways: a WARNING, since their cells cannot be checked one by
  one and a wide table of the user's own data may have to scroll;
- overlapping point labels / annotations of one chart: FAIL when two boxes overlap by more than
  OVERLAP_FAIL of the smaller one (the text cannot be read), WARN below that (glyph boxes include the
  font's line gap, so labels that only touch are legible: recorded in the report, not a failure).

Console errors are collected separately (driver.Console; driver.ALLOWED_CONSOLE is the one allowance).
"""

from __future__ import annotations

from dataclasses import dataclass, field

OVERLAP_FAIL = 0.2
"""Share of the smaller label's box two chart labels may overlap before the check fails (below: a warning)."""
MIN_CHART_FONT_PX = 9.0
"""Smallest chart text that is readable on a projector at 1280x720."""
TOLERANCE_PX = 1.0
"""Sub-pixel rounding allowed on every box comparison."""

CHECK_JS = r"""
(opts) => {
  const failures = [], warnings = [];
  const tol = opts.tolerance;
  const visible = (el) => {
    if (!el || !el.getClientRects().length) return false;
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) return false;
    const s = getComputedStyle(el);
    return s.visibility !== 'hidden' && s.display !== 'none' && parseFloat(s.opacity || '1') > 0;
  };
  const short = (text) => {
    const t = (text || '').replace(/\s+/g, ' ').trim();
    return t.length > 70 ? t.slice(0, 67) + '...' : t;
  };
  // Material Symbols icons are ligatures: the text "home" drawn as one glyph, never read as text
  const isIcon = (el) => !!el && el.nodeType === 1
                         && /Material Symbols|Material Icons/i.test(getComputedStyle(el).fontFamily);
  const textOf = (root) => {
    const parts = [];
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      if (!isIcon(node.parentElement)) parts.push(node.data);
    }
    return short(parts.join(' '));
  };
  const textRects = (root) => {
    const rects = [];
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      if (isIcon(node.parentElement) || !node.data.trim()) continue;
      const range = document.createRange();
      range.selectNodeContents(node);
      rects.push(...[...range.getClientRects()].filter(r => r.width > 0 && r.height > 0));
    }
    return rects;
  };
  const kindOf = (el) => el.getAttribute('data-testid') || el.getAttribute('role')
                         || el.tagName.toLowerCase();

  // -- key text cut or squeezed ------------------------------------------------------------------------
  const KEY = [
    '[data-testid="stMetricValue"]', '[data-testid="stMetricLabel"]', '[data-testid="stMetricDelta"]',
    'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'button', '[role="tab"]', '[data-testid="stWidgetLabel"]',
    '[data-testid="stCaptionContainer"]', '[data-testid="stExpander"] summary',
    '[data-testid="stSidebarNav"] a', '[data-testid="stPageLink"] a',
  ].join(', ');
  const brokenWord = (root) => {
    // a word whose glyphs land on two lines: the box is narrower than the word itself
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      if (isIcon(node.parentElement)) continue;
      const re = /[^\s\-\u2010-\u2014\/]+/g;  // a break after a hyphen, dash or slash is a proper one
      let m;
      while ((m = re.exec(node.data))) {
        if (m[0].length < 2) continue;
        const range = document.createRange();
        range.setStart(node, m.index);
        range.setEnd(node, m.index + m[0].length);
        const rects = [...range.getClientRects()].filter(r => r.width > 0);
        const tops = new Set(rects.map(r => Math.round(r.top)));
        if (tops.size > 1) return m[0];
      }
    }
    return null;
  };
  const seen = new Set();
  for (const root of document.querySelectorAll(KEY)) {
    if (!visible(root) || seen.has(root)) continue;
    const text = textOf(root);
    if (!text) continue;
    let problem = null;
    for (const el of [root, ...root.querySelectorAll('*')]) {
      if (el !== root && seen.has(el)) continue;
      if (!visible(el) || el.tagName.toLowerCase() === 'svg' || el.closest('svg') || isIcon(el)) continue;
      const s = getComputedStyle(el);
      const clipsX = s.overflowX !== 'visible' || s.textOverflow === 'ellipsis';
      const clipsY = s.overflowY !== 'visible' || (s.webkitLineClamp && s.webkitLineClamp !== 'none');
      if (clipsX && el.clientWidth > 0 && el.scrollWidth > el.clientWidth + tol) {
        const how = s.textOverflow === 'ellipsis' ? 'ellipsis' : 'clipped';
        problem = `cut (${how}: needs ${el.scrollWidth}px, has ${el.clientWidth}px)`;
        break;
      }
      if (clipsY && el.clientHeight > 0 && el.scrollHeight > el.clientHeight + 2 * tol) {
        // scrollHeight also counts margins below the last line: cut only if a line of text lies outside
        const box = el.getBoundingClientRect();
        const lines = textRects(el);
        const out = lines.filter(r => r.bottom > box.bottom + tol || r.top < box.top - tol);
        if (out.length) {
          problem = `cut vertically (${out.length} of ${lines.length} lines outside its `
                    + `${Math.round(box.height)}px box)`;
          break;
        }
      }
    }
    if (!problem) {
      const word = brokenWord(root);
      const width = Math.round(root.getBoundingClientRect().width);
      if (word) problem = `word "${short(word)}" broken across lines (box ${width}px wide)`;
    }
    if (problem) {
      failures.push(`${kindOf(root)} "${text}": ${problem}`);
      root.querySelectorAll('*').forEach(e => seen.add(e));
    }
    seen.add(root);
  }

  // -- the page wider than the window ------------------------------------------------------------------
  const main = document.querySelector('[data-testid="stMain"]');
  if (main) {
    if (main.scrollWidth > main.clientWidth + tol) {
      failures.push(`the page scrolls sideways (content ${main.scrollWidth}px in ${main.clientWidth}px)`);
    }
    const block = main.querySelector('[data-testid="stMainBlockContainer"]') || main;
    const limit = block.getBoundingClientRect().right + tol;
    for (const el of block.querySelectorAll('[data-testid="stElementContainer"]')) {
      if (!visible(el)) continue;
      const r = el.getBoundingClientRect();
      if (r.right > limit) {
        const inner = el.querySelector('[data-testid]');
        failures.push(`${inner ? kindOf(inner) : 'element'} "${short(el.innerText)}" sticks out of the page `
                      + `by ${Math.round(r.right - limit)}px`);
      }
    }
  }

  // -- data tables scrolling sideways (a warning: a grid is drawn on a canvas, so its cells cannot be
  // checked one by one; a wide table of the user's own data may need to scroll) -------------------------
  const headings = [...document.querySelectorAll(
    'h1, h2, h3, h4, h5, h6, [data-testid="stExpander"] summary')].filter(visible);
  let tableNo = 0;
  for (const table of document.querySelectorAll('[data-testid="stDataFrame"]')) {
    if (!visible(table)) continue;
    tableNo += 1;
    const scroller = table.querySelector('.dvn-scroller');
    if (!scroller || scroller.scrollWidth <= scroller.clientWidth + tol) continue;
    const before = headings.filter(h => h.compareDocumentPosition(table) & Node.DOCUMENT_POSITION_FOLLOWING);
    const under = before.length ? ` under "${textOf(before[before.length - 1])}"` : '';
    warnings.push(`table #${tableNo}${under} scrolls sideways (columns ${scroller.scrollWidth}px in `
                  + `${scroller.clientWidth}px): some columns are out of sight`);
  }

  // -- charts -----------------------------------------------------------------------------------------
  const inside = (r, box) => r.left >= box.left - tol && r.right <= box.right + tol
                             && r.top >= box.top - tol && r.bottom <= box.bottom + tol;
  const sticks = (r, box) => {
    const parts = [];
    if (r.left < box.left - tol) parts.push(`left ${Math.round(box.left - r.left)}px`);
    if (r.right > box.right + tol) parts.push(`right ${Math.round(r.right - box.right)}px`);
    if (r.top < box.top - tol) parts.push(`top ${Math.round(box.top - r.top)}px`);
    if (r.bottom > box.bottom + tol) parts.push(`bottom ${Math.round(r.bottom - box.bottom)}px`);
    return parts.join(', ');
  };
  const overlapShare = (a, b) => {
    const w = Math.min(a.right, b.right) - Math.max(a.left, b.left);
    const h = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
    if (w <= 0 || h <= 0) return 0;
    const smaller = Math.min(a.width * a.height, b.width * b.height);
    return smaller > 0 ? (w * h) / smaller : 0;
  };
  let chartNo = 0;
  for (const plot of document.querySelectorAll('.js-plotly-plot')) {
    if (!visible(plot)) continue;
    chartNo += 1;
    const svgs = plot.querySelectorAll('svg.main-svg');
    if (!svgs.length) { failures.push(`chart #${chartNo}: not drawn (no SVG)`); continue; }
    const layout = plot._fullLayout || plot.layout || {};
    const titleText = (layout.title && (layout.title.text ?? layout.title)) || '';
    const gtitle = plot.querySelector('.gtitle');
    const name = short(typeof titleText === 'string' && titleText ? titleText.replace(/<[^>]+>/g, ' ')
                       : (gtitle ? gtitle.textContent : '')) || `untitled chart #${chartNo}`;
    const box = svgs[0].getBoundingClientRect();
    const holder = plot.closest('[data-testid="stPlotlyChart"]')
                   || plot.closest('[data-testid="stElementContainer"]');
    if (holder) {
      const hb = holder.getBoundingClientRect();
      if (box.right > hb.right + tol || box.left < hb.left - tol) {
        failures.push(`chart "${name}": ${Math.round(box.width)}px wide in a `
                      + `${Math.round(hb.width)}px container`);
      }
    }
    const areas = [...plot.querySelectorAll('.nsewdrag')].map(r => r.getBoundingClientRect())
                  .filter(r => r.width > 0);
    const inArea = (r) => areas.some(a => inside(r, a));
    const labels = [];
    const annotations = (layout.annotations || []);
    const tickTexts = new Map();
    const small = [];
    for (const t of plot.querySelectorAll('svg.main-svg text')) {
      const txt = short(t.textContent);
      if (!txt || t.closest('.hoverlayer') || !visible(t)) continue;
      const r = t.getBoundingClientRect();
      if (r.width === 0 || r.height === 0) continue;
      const where = sticks(r, box);
      if (where) failures.push(`chart "${name}": text "${txt}" outside the chart (${where})`);
      const size = parseFloat(getComputedStyle(t).fontSize);
      if (size && size < opts.minFont) small.push(`${txt} (${size.toFixed(1)}px)`);
      const point = t.closest('.textpoint') || t.classList.contains('bartext');
      const ann = t.closest('g.annotation');
      let anchored = false;
      if (ann) {
        const a = annotations[Number(ann.getAttribute('data-index'))] || {};
        const ref = (v) => typeof v === 'string' && /^[xy]\d*$/.test(v);
        anchored = ref(a.xref) && ref(a.yref);
      }
      if ((point || anchored) && areas.length && !inArea(r)) {
        const area = areas.find(a => overlapShare(r, a) > 0) || areas[0];
        failures.push(`chart "${name}": ${point ? 'point label' : 'annotation'} "${txt}" outside the plot `
                      + `area (${sticks(r, area)})`);
      }
      if (point || ann) labels.push({txt, r});
      const axis = t.closest('.xaxislayer-above, .yaxislayer-above');
      if (axis && (t.closest('.xtick') || t.closest('.ytick'))) {
        const key = axis;
        if (!tickTexts.has(key)) tickTexts.set(key, []);
        tickTexts.get(key).push(txt);
      }
    }
    if (small.length) {
      failures.push(`chart "${name}": text under ${opts.minFont}px: ${small.slice(0, 6).join('; ')}`
                    + (small.length > 6 ? ` and ${small.length - 6} more` : ''));
    }
    for (const [axis, texts] of tickTexts) {
      const counts = {};
      texts.forEach(x => { counts[x] = (counts[x] || 0) + 1; });
      const repeated = Object.entries(counts).filter(([, n]) => n > 1).map(([x, n]) => `"${x}" x${n}`);
      const which = axis.classList.contains('xaxislayer-above') ? 'x' : 'y';
      if (repeated.length) {
        failures.push(`chart "${name}": ${which} axis repeats tick labels ${repeated.join(', ')}`);
      }
    }
    // overlapping labels, reported once per cluster (labels linked by overlaps), failing when any pair of
    // the cluster overlaps by more than overlapFail
    const group = labels.map((_, i) => i);
    const find = (i) => (group[i] === i ? i : (group[i] = find(group[i])));
    const worst = new Map();
    for (let i = 0; i < labels.length; i++) {
      for (let j = i + 1; j < labels.length; j++) {
        const share = overlapShare(labels[i].r, labels[j].r);
        if (share <= 0) continue;
        group[find(i)] = find(j);
        worst.set(`${i},${j}`, share);
      }
    }
    const clusters = new Map();
    for (const [pair, share] of worst) {
      const [i, j] = pair.split(',').map(Number);
      const root = find(i);
      const c = clusters.get(root) || {members: new Set(), share: 0};
      c.members.add(i); c.members.add(j); c.share = Math.max(c.share, share);
      clusters.set(root, c);
    }
    for (const c of clusters.values()) {
      const names = [...c.members].sort((a, b) => a - b).map(i => `"${labels[i].txt}"`);
      const shown = names.length > 2 ? names.slice(0, -1).join(', ') + ' and ' + names[names.length - 1]
                                     : names.join(' and ');
      const share = c.share < 0.01 ? 'under 1' : 'up to ' + Math.round(c.share * 100);
      const msg = `chart "${name}": labels ${shown} overlap (${share}% of the smaller box)`;
      (c.share > opts.overlapFail ? failures : warnings).push(msg);
    }
  }
  return {failures, warnings};
}
"""

WAIT_CHARTS_JS = r"""
() => [...document.querySelectorAll('[data-testid="stPlotlyChart"]')]
  .filter(c => c.getClientRects().length && c.getBoundingClientRect().width > 0)
  .every(c => { const s = c.querySelector('.js-plotly-plot svg.main-svg');
                return s && s.getBoundingClientRect().width > 0; })
"""

@dataclass
class Findings:
    """What one page (or tab) at one size shows: failures fail the test, warnings go to the report."""

    where: str
    failures: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    """Time from opening the page (or clicking the tab) to the screenshot taken."""


def inspect(page, where: str) -> Findings:
    """Every visual problem on the page as drawn now (see the module docstring), for `where`."""
    found = page.evaluate(CHECK_JS, {"tolerance": TOLERANCE_PX, "minFont": MIN_CHART_FONT_PX,
                                     "overlapFail": OVERLAP_FAIL})
    exceptions = page.locator('[data-testid="stException"]')
    failures = [f"the app shows an exception: {short}" for short in
                (text.strip().splitlines()[0][:200] for text in exceptions.all_inner_texts() if text.strip())]
    return Findings(where, failures + list(found["failures"]), list(found["warnings"]))


def wait_for_charts(page, timeout_ms: float) -> None:
    """Wait until every visible Plotly chart has drawn its SVG, then two animation frames for its layout."""
    page.wait_for_function(WAIT_CHARTS_JS, timeout=timeout_ms)
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
