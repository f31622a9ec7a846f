"""Drawings of self-attention: a PNG grid of heat maps (one per layer and head) and a
self-contained HTML page in the spirit of bertviz's head view (one panel per layer).

`weights` is `(layers, heads, n, n)`: row i of a head is how query piece i spreads its
attention over the n key pieces (each row sums to 1). Both take the pieces as the axis
labels. The HTML has no external resource: its data, styles and script are inline.
"""

from __future__ import annotations

import html
import json
import logging
import os
import warnings

import numpy as np

from tfbert.evaluation.plots import _figure, _save_png
from tfbert.evaluation.report import write_atomically

# Fonts with CJK glyphs, tried after matplotlib's default for the pieces' labels (matplotlib
# falls back glyph by glyph through the families it finds installed).
CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans CJK JP", "Source Han Sans SC", "WenQuanYi Zen Hei",
             "WenQuanYi Micro Hei", "Droid Sans Fallback", "Microsoft YaHei", "SimHei",
             "PingFang SC", "Heiti SC", "Arial Unicode MS")


def _check(tokens, weights) -> np.ndarray:
    weights = np.asarray(weights, "float32")
    if weights.ndim != 4 or weights.shape[2:] != (len(tokens), len(tokens)):
        raise ValueError(f"weights must be (layers, heads, {len(tokens)}, {len(tokens)}) for "
                         f"{len(tokens)} tokens. Received: shape={weights.shape}")
    return weights


def _label_fonts(tokens) -> list:
    """The font families for `tokens`: the default, then every installed CJK font. Text
    with CJK characters and no such font gets one warning saying how to install one."""
    from matplotlib import font_manager, rcParams

    from tfbert.tokenization.cjk import is_cjk

    found = _installed(font_manager)
    if not found:   # installed after matplotlib cached its font list: read them now
        known = {font.fname for font in font_manager.fontManager.ttflist}
        for path in font_manager.findSystemFonts():
            if path not in known and any(part in os.path.basename(path).lower()
                                         for part in ("cjk", "wqy", "han", "droid")):
                try:
                    font_manager.fontManager.addfont(path)
                except (OSError, RuntimeError, ValueError):
                    continue
        found = _installed(font_manager)
    if not found and any(is_cjk(c) for token in tokens for c in token):
        warnings.warn("no CJK font is installed, so Chinese pieces show as boxes in the PNG "
                      "(the HTML view uses the browser's fonts); install one, e.g. Debian's "
                      "fonts-noto-cjk or fonts-wqy-zenhei", stacklevel=3)
    return [*rcParams["font.family"], *found] if rcParams["font.family"] != ["sans-serif"] \
        else [*rcParams["font.sans-serif"][:1], *found]


def _installed(font_manager) -> list:
    installed = {font.name for font in font_manager.fontManager.ttflist}
    return [name for name in CJK_FONTS if name in installed]


def plot_attention(tokens, weights, path, title=None):
    """A grid of heat maps, layers down and heads across, each with the query pieces on
    the vertical axis and the key pieces on the horizontal, saved as a PNG at `path`.
    Returns `path`."""
    weights = _check(tokens, weights)
    # (matplotlib logs every weight it substitutes for a CJK font's: quiet while drawing)
    logger = logging.getLogger("matplotlib.font_manager")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        return _plot(tokens, weights, path, title)
    finally:
        logger.setLevel(level)


def _plot(tokens, weights, path, title):
    from matplotlib import rc_context

    layers, heads, n = weights.shape[0], weights.shape[1], len(tokens)
    side = min(max(1.6, 0.14 * n + 0.8), 3.0)      # inches per heat map
    font = 8 if n <= 16 else 6 if n <= 32 else 4
    with rc_context({"font.family": _label_fonts(tokens)}), warnings.catch_warnings():
        # (one warning above says a font is missing, not one per glyph)
        warnings.filterwarnings("ignore", message="Glyph .* missing from")
        figure = _figure(side * heads + 1.0, side * layers + (0.6 if title else 0.2))
        grid = figure.subplots(layers, heads, squeeze=False)
        for layer in range(layers):
            for head in range(heads):
                axes = grid[layer][head]
                image = axes.imshow(weights[layer, head], cmap="Blues", vmin=0.0, vmax=1.0)
                axes.set_title(f"layer {layer} head {head}", fontsize=font + 1)
                axes.set_xticks(range(n), tokens if layer == layers - 1 else [""] * n,
                                rotation=90, fontsize=font)
                axes.set_yticks(range(n), tokens if head == 0 else [""] * n, fontsize=font)
        figure.colorbar(image, ax=grid, shrink=0.6, label="attention weight")
        if title:
            figure.suptitle(title)
        return _save_png(figure, path)


def attention_html(tokens, weights, title="Attention", segment_ids=None) -> str:
    """A self-contained HTML page: per layer, the pieces in two columns joined by lines
    as strong as the attention (one colour per head, heads toggled by clicking their
    swatch; hovering a piece shows only its own lines)."""
    weights = _check(tokens, weights)
    data = {"tokens": [str(t) for t in tokens],
            "segments": [int(s) for s in (segment_ids if segment_ids is not None
                                          else [0] * len(tokens))],
            "weights": np.round(weights, 4).tolist()}
    # JSON inside <script>: "<" escaped, so no piece can close the element.
    payload = json.dumps(data, ensure_ascii=False).replace("<", "\\u003c")
    return _PAGE.replace("__TITLE__", html.escape(title)).replace("__DATA__", payload)


def write_attention_html(tokens, weights, path, title="Attention", segment_ids=None):
    """`attention_html` written to `path` atomically; returns `path`."""
    page = attention_html(tokens, weights, title, segment_ids).encode("utf-8")
    return write_atomically(path, lambda f: f.write(page))


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>__TITLE__</title>
<style>
body { font-family: system-ui, sans-serif; margin: 16px; color: #222; background: #fff; }
h1 { font-size: 18px; margin: 0 0 8px; }
#heads { margin: 8px 0 12px; }
#heads span { display: inline-block; width: 18px; height: 18px; margin-right: 4px;
  cursor: pointer; border: 2px solid #fff; vertical-align: middle; }
#heads span.off { opacity: 0.15; }
#layers { display: grid; grid-template-columns: repeat(auto-fill, minmax(320px, 1fr));
  gap: 12px; }
.layer { border: 1px solid #ddd; border-radius: 4px; padding: 6px; }
.layer h2 { font-size: 13px; margin: 0 0 4px; font-weight: 600; }
svg text { font-size: 12px; dominant-baseline: middle; cursor: default; }
svg text.second { fill: #8a3b00; }
</style></head>
<body>
<h1>__TITLE__</h1>
<div>Heads (click to show or hide): <span id="heads"></span>
 Hover a piece on the left to see where it attends.</div>
<div id="layers"></div>
<script type="application/json" id="attention-data">__DATA__</script>
<script>
"use strict";
window.addEventListener("error", e => { document.body.dataset.error = e.message; });
const data = JSON.parse(document.getElementById("attention-data").textContent);
const n = data.tokens.length, layers = data.weights.length;
const heads = layers ? data.weights[0].length : 0;
const shown = new Array(heads).fill(true);
const colour = h => `hsl(${Math.round(360 * h / Math.max(heads, 1))}, 70%, 45%)`;
const SVG = "http://www.w3.org/2000/svg", ROW = 20, WIDTH = 300, LEFT = 100, RIGHT = 200;
function element(name, attributes, parent) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attributes)) node.setAttribute(k, v);
  parent.appendChild(node);
  return node;
}
function draw(svg, layer, focus) {
  svg.querySelectorAll("line").forEach(line => line.remove());
  for (let h = 0; h < heads; h++) {
    if (!shown[h]) continue;
    for (let i = 0; i < n; i++) {
      if (focus !== null && focus !== i) continue;
      for (let j = 0; j < n; j++) {
        const w = data.weights[layer][h][i][j];
        if (w < 0.02) continue;
        element("line", {x1: LEFT + 4, y1: 20 + i * ROW, x2: RIGHT - 4, y2: 20 + j * ROW,
                         stroke: colour(h), "stroke-width": 2,
                         "stroke-opacity": Math.min(1, w * (focus === null ? 1 : 1.5))},
                svg);
      }
    }
  }
}
const panels = [];
for (let layer = 0; layer < layers; layer++) {
  const box = document.createElement("section");
  box.className = "layer";
  box.dataset.layer = layer;
  box.innerHTML = `<h2>layer ${layer}</h2>`;
  const svg = element("svg", {width: WIDTH, height: 20 + n * ROW, class: "layer-view"}, box);
  data.tokens.forEach((token, i) => {
    for (const [x, anchor, side] of [[LEFT, "end", "query"], [RIGHT, "start", "key"]]) {
      const text = element("text", {x: x, y: 20 + i * ROW, "text-anchor": anchor,
                                    class: (data.segments[i] ? "second " : "") + side}, svg);
      text.textContent = token;
      if (side === "query") {
        text.addEventListener("mouseenter", () => draw(svg, layer, i));
        text.addEventListener("mouseleave", () => draw(svg, layer, null));
      }
    }
  });
  document.getElementById("layers").appendChild(box);
  panels.push([svg, layer]);
}
const redraw = () => panels.forEach(([svg, layer]) => draw(svg, layer, null));
for (let h = 0; h < heads; h++) {
  const swatch = document.createElement("span");
  swatch.style.background = colour(h);
  swatch.title = `head ${h}`;
  swatch.addEventListener("click", () => {
    shown[h] = !shown[h];
    swatch.classList.toggle("off", !shown[h]);
    redraw();
  });
  document.getElementById("heads").appendChild(swatch);
}
redraw();
document.body.dataset.panels = panels.length;
</script>
</body></html>
"""
