"""tfq.Report as one self-contained HTML page: plots embedded as PNG (data:
URLs), the table sorted by a few lines of inline script, no external file and
no network request, so it opens from a CI artifact or an e-mail as is."""
from __future__ import annotations

import base64
import html
import io
import os

import matplotlib

matplotlib.use("Agg")  # files only: no display on a CI machine
import matplotlib.pyplot as plt  # noqa: E402  (after the backend is chosen)
import numpy as np  # noqa: E402

from tfq import analysis, files  # noqa: E402

WORST_HISTOGRAMS = 3
_WORST_COLOR, _COLOR, _FLOAT_COLOR = "#c0392b", "#2e86c1", "#7f8c8d"

_STYLE = """
body { font-family: sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; font-size: 13px; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; }
th { background: #eee; cursor: pointer; user-select: none; }
td.text { text-align: left; }
tr.worst td { background: #fdecea; }
img { max-width: 100%; }
"""

# Click a header to sort by it; click again to reverse. Numbers sort as numbers.
_SORT_SCRIPT = """
document.querySelectorAll("table.sortable th").forEach(function (header, column) {
  header.addEventListener("click", function () {
    var body = header.closest("table").tBodies[0];
    var ascending = header.dataset.order !== "asc";
    header.dataset.order = ascending ? "asc" : "desc";
    var rows = Array.from(body.rows);
    rows.sort(function (a, b) {
      var x = a.cells[column].dataset.value, y = b.cells[column].dataset.value;
      var nx = parseFloat(x), ny = parseFloat(y);
      var order = (isNaN(nx) || isNaN(ny)) ? x.localeCompare(y) : nx - ny;
      return ascending ? order : -order;
    });
    rows.forEach(function (row) { body.appendChild(row); });
  });
});
"""

_COLUMNS = [  # (header, LayerError field, format)
    ("#", None, None), ("layer", "layer", "{}"), ("class", "layer_class", "{}"),
    ("op", "op", "{}"), ("type", "dtype", "{}"), ("SQNR (dB)", "sqnr_db", "{:.1f}"),
    ("layer SQNR (dB)", "layer_sqnr_db", "{:.1f}"), ("cosine", "cosine", "{:.5f}"),
    ("max |err|", "max_abs_error", "{:.4g}"), ("mean |err|", "mean_abs_error", "{:.4g}"),
    ("range use", "range_utilisation", "{:.1%}"), ("clipped", "clipped_share", "{:.3%}"),
    ("scale", "scale", "{:.4g}"), ("zero point", "zero_point", "{}"),
]


def _png(figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(figure)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def sqnr_chart(report) -> str:
    """Bars: SQNR of each tensor; dots: the layer's own SQNR; worst in red."""
    worst = {row.layer for row in report.worst()}
    names = [row.layer for row in report.layers]
    figure, axes = plt.subplots(figsize=(max(6.0, 0.45 * len(names) + 2), 4.2))
    colors = [_WORST_COLOR if n in worst else _FLOAT_COLOR if row.dtype == "float32" else _COLOR
              for n, row in zip(names, report.layers)]
    positions = np.arange(len(names))
    axes.bar(positions, [row.sqnr_db for row in report.layers], color=colors,
             label="SQNR vs float (accumulated)")
    axes.plot(positions, [row.layer_sqnr_db for row in report.layers], "kD", markersize=5,
              label="layer SQNR (its own error)")
    axes.set_xticks(positions, names, rotation=60, ha="right", fontsize=8)
    axes.set_ylabel("dB (higher is better)")
    axes.set_title(f"{report.mode}: SQNR per layer (red: the {len(worst)} worst)")
    axes.legend(fontsize=8, loc="lower left")
    axes.grid(axis="y", alpha=0.3)
    return _png(figure)


def histogram(report, layer: str) -> str:
    """Float vs dequantized values of one tensor, with the quantization grid's ends."""
    reference, quantized = report.histograms[layer]
    row = next(r for r in report.layers if r.layer == layer)
    figure, axes = plt.subplots(figsize=(6.0, 3.4))
    low = float(min(reference.min(), quantized.min()))
    high = float(max(reference.max(), quantized.max()))
    bins = np.linspace(low, high if high > low else low + 1.0, 80)
    axes.hist(reference, bins=bins, alpha=0.55, color=_FLOAT_COLOR, label="float")
    axes.hist(quantized, bins=bins, alpha=0.55, color=_WORST_COLOR, label="quantized")
    if row.scale is not None:
        for edge in analysis.quantization_grid(row.dtype, row.scale, row.zero_point):
            if low <= edge <= high:
                axes.axvline(edge, color="k", linestyle="--", linewidth=1)
    axes.set_yscale("log")
    axes.set_title(f"{layer} ({row.op}): SQNR {row.sqnr_db:.1f} dB, "
                   f"layer SQNR {row.layer_sqnr_db:.1f} dB", fontsize=10)
    axes.legend(fontsize=8)
    return _png(figure)


def _cell(row, field, fmt) -> str:
    value = getattr(row, field)
    if value is None:
        return '<td data-value="">-</td>'
    shown = fmt.format(value)
    css = ' class="text"' if isinstance(value, str) else ""
    return f'<td{css} data-value="{html.escape(str(value))}">{html.escape(shown)}</td>'


def _layer_table(report) -> str:
    worst = {row.layer for row in report.worst()}
    header = "".join(f"<th>{html.escape(name)}</th>" for name, _, _ in _COLUMNS)
    rows = []
    for index, row in enumerate(report.layers):
        cells = f'<td data-value="{index}">{index}</td>' + "".join(
            _cell(row, field, fmt) for _, field, fmt in _COLUMNS[1:])
        css = ' class="worst"' if row.layer in worst else ""
        rows.append(f"<tr{css}>{cells}</tr>")
    return (f'<table class="sortable" id="layers"><thead><tr>{header}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table>')


def _suggestion_list(report) -> str:
    if not report.suggestions:
        return "<p>No suggestions were measured (suggestions=0).</p>"
    items = []
    for s in report.suggestions:
        outcome = (f"{report.metric_name} {s.metric:.2%} ({100 * s.gain:+.2f} points)"
                   if s.metric is not None else f"failed: {html.escape(s.error or '')}")
        items.append(f"<li><code>{html.escape(s.how)}</code>: {outcome}</li>")
    return (f"<p>Each re-converted from the float model and measured on the same "
            f"{report.samples} samples; the baseline re-conversion scores "
            f"{report.baseline_metric:.2%}.</p><ol id=\"suggestions\">{''.join(items)}</ol>")


def render(report) -> str:
    metric = f"{report.metric_name}: {report.quantized_metric:.2%}"
    if report.float_metric is not None:
        metric += f" (float {report.float_metric:.2%})"
    worst = report.worst()
    histograms = "".join(f'<img alt="histogram of {html.escape(row.layer)}" '
                         f'src="{histogram(report, row.layer)}">'
                         for row in worst[:WORST_HISTOGRAMS])
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>tfq analysis: {html.escape(report.mode)} model</title>
<style>{_STYLE}</style></head>
<body>
<h1>tfq per-layer analysis ({html.escape(report.mode)})</h1>
<p>{report.samples} samples. {html.escape(metric)}; top-1 agreement with float
{report.top1_agreement:.2%}; output SQNR {report.output_sqnr_db:.1f} dB, cosine
{report.output_cosine:.5f}, max |error| {report.output_max_abs_error:.4g}.</p>
<p>Worst layers (lowest layer SQNR, the error each adds by itself):
<b>{html.escape(", ".join(row.layer for row in worst))}</b>.</p>
<h2>Suggestions</h2>
{_suggestion_list(report)}
<h2>SQNR per layer</h2>
<img alt="SQNR per layer" src="{sqnr_chart(report)}">
<h2>Float vs quantized values of the worst layers</h2>
{histograms}
<h2>All layers</h2>
<p>Click a column header to sort.</p>
{_layer_table(report)}
<script>{_SORT_SCRIPT}</script>
</body></html>
"""


def write_html(report, directory: str) -> str:
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, "index.html")
    files.write_atomically(path, render(report))
    return path
