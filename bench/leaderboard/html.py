"""index.html: the leaderboard as one static page, no server and no network (inline CSS and JS; figures are
referenced relative to the page, so the folder opens from disk or from any static host)."""

from __future__ import annotations

import re
from html import escape

from bench.leaderboard import headtohead, tables, verdict
from bench.leaderboard.report import Leaderboard, headline_table, method_lines, provenance, slug, status_line
from bench.metrics import METRICS

CSS = """
:root { --fg: #1d2330; --muted: #5b6475; --line: #d9dde5; --head: #eef1f6; --accent: #2456a6; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg);
       margin: 0; background: #fafbfc; }
header, main { max-width: 1280px; margin: 0 auto; padding: 0 20px; }
header { padding-top: 18px; }
h1 { margin: 0 0 6px; font-size: 24px; } h2 { margin-top: 34px; border-bottom: 2px solid var(--line); }
h3 { margin: 26px 0 6px; } section, article { scroll-margin-top: 36px; } .muted, figcaption, .notes { color: var(--muted); }
nav { position: sticky; top: 0; background: #fff; border-bottom: 1px solid var(--line); padding: 6px 20px;
      z-index: 2; font-size: 13px; } nav a { margin-right: 14px; color: var(--accent); }
.scroll { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; margin: 8px 0; background: #fff; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid var(--line); padding: 3px 8px; text-align: right; white-space: nowrap; }
th { background: var(--head); cursor: pointer; user-select: none; position: relative; padding-right: 18px; }
th:hover { background: #e1e7f0; } th:focus { outline: 2px solid var(--accent); }
th[aria-sort=ascending]::after { content: "▲"; position: absolute; right: 4px; font-size: 9px; top: 7px; }
th[aria-sort=descending]::after { content: "▼"; position: absolute; right: 4px; font-size: 9px; top: 7px; }
td.l, th.l { text-align: left; } td.b { font-weight: 700; } tbody tr:nth-child(even) { background: #f6f8fb; }
tbody tr:hover { background: #fff7d6; } td.wrap { white-space: normal; max-width: 520px; text-align: left; }
figure { margin: 10px 0; } figure img { max-width: 100%; height: auto; background: #fff;
         border: 1px solid var(--line); }
details { margin: 8px 0; } summary { cursor: pointer; color: var(--accent); }
.notes { margin: 4px 0; padding-left: 18px; font-size: 13px; } code { background: #eef1f6; padding: 0 3px; }
article { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 4px 16px 10px;
          margin: 16px 0; }
"""

# Click (or Enter on) a header to sort by that column; again to reverse. Cells carry their sort value in
# data-v (numbers compare as numbers); cells without one are missing values and always sort last; ties keep the
# order the page was written in.
JS = """
(function () {
  function key(td) {
    if (!td || !td.hasAttribute("data-v")) return null;
    var v = td.getAttribute("data-v"), x = Number(v);
    return v !== "" && !isNaN(x) ? x : v.toLowerCase();
  }
  function sortBy(table, th, col) {
    var asc = th.getAttribute("aria-sort") !== "ascending";
    table.querySelectorAll("thead th").forEach(function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", asc ? "ascending" : "descending");
    var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var ka = key(a.cells[col]), kb = key(b.cells[col]), first = a.dataset.i - b.dataset.i;
      if (ka === null || kb === null) return (ka === null) - (kb === null) || first;
      if (typeof ka !== typeof kb) return typeof ka === "number" ? -1 : 1;
      var c = ka < kb ? -1 : ka > kb ? 1 : 0;
      return (asc ? c : -c) || first;  // ties keep the page's own order
    });
    rows.forEach(function (r) { body.appendChild(r); });
  }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    Array.prototype.forEach.call(table.tBodies[0].rows, function (r, i) { r.dataset.i = i; });
    table.querySelectorAll("thead th").forEach(function (th, col) {
      th.tabIndex = 0;
      th.title = "sort by " + th.textContent;
      th.addEventListener("click", function () { sortBy(table, th, col); });
      th.addEventListener("keydown", function (e) {
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); sortBy(table, th, col); }
      });
    });
  });
})();
"""

def _inline(text: str) -> str:
    """Escape, then the little Markdown the shared sentences use: **bold** and `code`."""
    out = escape(text)
    out = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", out)
    return re.sub(r"`(.+?)`", r"<code>\1</code>", out)


def table(t: tables.Table, table_id: str) -> str:
    left = [h in tables.LEFT for h in t.headers]
    head = "".join(f'<th class="l">{escape(h)}</th>' if left[i] else f"<th>{escape(h)}</th>"
                   for i, h in enumerate(t.headers))
    rows = []
    for row in t.rows:
        tds = []
        for i, c in enumerate(row):
            cls = " ".join(x for x in ("l" if left[i] else "", "b" if c.bold else "",
                                       "wrap" if t.headers[i] == "first failure" else "") if x)
            attrs = (f' class="{cls}"' if cls else "") + ("" if c.sort is None else f' data-v="{escape(str(c.sort))}"')
            attrs += f' title="{escape(c.title)}"' if c.title else ""
            tds.append(f"<td{attrs}>{escape(c.text)}</td>")
        rows.append("<tr>" + "".join(tds) + "</tr>")
    return (f'<div class="scroll"><table class="sortable" id="{escape(table_id)}"><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table></div>")


def _figure(path: str, caption: str) -> str:
    return (f'<figure><a href="{escape(path)}"><img src="{escape(path)}" alt="{escape(caption)}"></a>'
            f"<figcaption>{escape(caption)}</figcaption></figure>")


def _section(lb: Leaderboard, s) -> str:
    c = slug(s.classifier)
    parts = [f'<section id="clf-{c}"><h2>Classifier: {escape(s.classifier)}</h2>']
    if s.results:
        parts += ["<h3>Mean rank on every metric</h3>",
                  '<p class="muted">Lower is better; bold: best per metric. Click a header to sort.</p>',
                  table(tables.rank_overview(s.results), f"ranks-{c}")]
    keys = lb.keys(s.classifier)
    for m in s.headline:
        r = s.results[m]
        parts += [f'<article id="{c}-{m}"><h3>{escape(m)} {tables.arrow(m)} · {escape(s.classifier)}</h3>',
                  f'<p class="muted">{escape(METRICS[m].description)}.</p>',
                  table(headline_table(lb, s, r), f"headline-{c}-{m}"),
                  '<ul class="notes">' + "".join(f"<li>{escape(t)}</li>" for t in tables.test_lines(r)) + "</ul>"]
        for path in s.figures.get(f"cd:{m}", [])[:1]:
            parts.append(_figure(path, f"Critical-difference diagram: {m}, {s.classifier}"))
        parts += [("<details><summary>Per dataset: mean ± std over folds and seeds (bold: best; † partial; "
                  "hover an entry for its cell keys)</summary>"),
                  table(tables.per_dataset(r, keys), f"datasets-{c}-{m}"), "</details></article>"]
    captions = {"points": "per dataset, mean ± std over folds and seeds", "cost": "cost vs gain",
                "scaling": "metric vs number of synthetic rows"}
    figs = [(k, p) for k, ps in s.figures.items() for p in ps if not k.startswith("cd:")]
    if figs:
        parts.append(f"<h3>Plots · {escape(s.classifier)}</h3>")
        parts += [_figure(p, f"{captions[k.split(':')[0]]}: {k.partition(':')[2] or 'minority recall'}")
                  for k, p in figs]
    parts += [f"<h3>Cost · {escape(s.classifier)}</h3>", table(tables.cost(s.cost), f"cost-{c}"), "</section>"]
    return "\n".join(parts)


def page(lb: Leaderboard) -> str:
    nav = "".join(f'<a href="#clf-{slug(s.classifier)}">{escape(s.classifier)}</a>' for s in lb.sections)
    nav += '<a href="#status">cells by status</a>'
    failed = (lb.cells["status"] != "ok").any()
    nav += '<a href="#failed">failed cells</a>' if failed else ""
    exports = " · ".join(f'<a href="{f}">{f}</a>' for f in ("results.csv", "results.json", "aggregates.csv",
                                                          "stats.json", "README.md"))
    body = [
        f"<header><h1>Leaderboard: {escape(lb.suite)}</h1>",
        f'<p class="muted">{escape(provenance(lb))}</p>',
        f"<p><strong>{escape(status_line(lb.cells))}</strong></p><p>Exports: {exports}</p></header>",
        f"<nav>{nav}</nav><main>",
        *([f'<section id="verdict"><h2>Verdict</h2><p>{_inline(verdict.summary(lb.verdicts))}</p><ul>'
           + "".join(f"<li>{_inline(verdict.sentence(v))}</li>" for v in lb.verdicts) + "</ul></section>"]
          if lb.verdicts else []),
        *(['<section id="head-to-head"><h2>Head to head: language-model methods</h2><ul>'
           + "".join(f"<li>{_inline(text)}</li>" for text in headtohead.sentences(lb.duels))
           + "</ul>" + table(headtohead.table(lb.duels), "head-to-head") + "</section>"] if lb.duels else []),
        "<section id=\"how\"><h2>How to read it</h2><ul>"
        + "".join(f"<li>{_inline(line[2:])}</li>" for line in method_lines(lb)) + "</ul></section>",
        *[_section(lb, s) for s in lb.sections],
        '<section id="status"><h2>Cells by status</h2>', table(tables.status_counts(lb.cells), "status"),
        "</section>",
    ]
    if failed:
        body += [('<section id="failed"><h2>Failed cells</h2><p class="muted">One row per (classifier, dataset, '
                 "method, status); <code>bench show --failed</code> lists every cell.</p>"),
                 table(tables.failures(lb.cells), "failures"), "</section>"]
    body.append("</main>")
    return (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<link rel="icon" href="data:,"><title>Leaderboard: {escape(lb.suite)}</title>'
            f"<style>{CSS}</style></head>\n<body>\n" + "\n".join(body) + f"\n<script>{JS}</script>\n</body></html>\n")
