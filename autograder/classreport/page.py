"""The report as one static HTML page: inline CSS, pictures as data URIs, a few lines of inline script
to sort the student table. Nothing is fetched from the network; it reads on a 1366-pixel laptop screen."""
from __future__ import annotations

import os
from html import escape
from pathlib import Path

from autograder.classreport import plots
from autograder.classreport.collect import Student, reason_of, review_lines
from autograder.classreport.similarity import Pair, Similarity
from autograder.classreport.stats import LOW_CORRELATION, ItemStats

CSS = """
:root { --fg:#1f2933; --muted:#616e7c; --line:#d9e2ec; --bg:#f5f7fa; --red:#c0392b; --amber:#b9770e;
        --green:#2e8b57; --blue:#3b6ea5; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       color: var(--fg); margin: 0; background: white; }
header { background: var(--bg); border-bottom: 1px solid var(--line); padding: 14px 24px; }
header h1 { margin: 0 0 4px; font-size: 20px; }
nav a { margin-right: 14px; color: var(--blue); text-decoration: none; font-weight: 600; }
main { padding: 8px 24px 40px; max-width: 1360px; }
h2 { margin: 28px 0 8px; font-size: 18px; border-bottom: 2px solid var(--line); padding-bottom: 4px; }
h3 { margin: 18px 0 6px; font-size: 15px; }
p.note, .muted { color: var(--muted); }
.cards { display: flex; flex-wrap: wrap; gap: 10px; margin: 10px 0; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 8px 12px; min-width: 120px; background: white; }
.card b { display: block; font-size: 22px; }
.card.bad b { color: var(--red); } .card.warn b { color: var(--amber); }
.grid { display: flex; flex-wrap: wrap; gap: 12px; }
.grid img, img.plot { max-width: 100%; height: auto; border: 1px solid var(--line); border-radius: 4px; }
table { border-collapse: collapse; margin: 6px 0 12px; font-size: 13px; }
#student-table { width: 100%; } #student-table td:nth-child(-n+2) { white-space: nowrap; }
td.reason { max-width: 28em; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: var(--bg); position: sticky; top: 0; cursor: default; }
th.sort { cursor: pointer; } th.sort:after { content: " ⇅"; color: var(--muted); }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.bad td { background: #fdecea; } tr.warn td { background: #fef5e7; } tr.off td { color: var(--muted); }
.tag { display: inline-block; padding: 0 6px; border-radius: 9px; font-size: 12px; margin: 1px 2px 1px 0;
       background: var(--bg); border: 1px solid var(--line); white-space: nowrap; }
.tag.bad { background: #fdecea; border-color: #f5b7b1; } .tag.warn { background: #fef5e7; border-color: #f8c471; }
.tag.ok { background: #e9f7ef; border-color: #a9dfbf; }
.wide { overflow-x: auto; max-height: 80vh; overflow-y: auto; }
details { margin: 4px 0; } summary { cursor: pointer; }
.side { display: grid; grid-template-columns: 1fr 1fr; gap: 8px; }
.side pre { margin: 0; padding: 8px; background: var(--bg); border: 1px solid var(--line); border-radius: 4px;
            font: 12px/1.4 ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; white-space: pre-wrap;
            overflow-x: auto; max-height: 480px; }
mark { background: #f9e79f; padding: 0; }
code { font: 12px ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; }
ul.tight { margin: 4px 0; padding-left: 20px; }
"""

SORT_JS = """
document.querySelectorAll('table.sortable').forEach(function (table) {
  table.querySelectorAll('th.sort').forEach(function (th, col) {
    th.addEventListener('click', function () {
      var body = table.tBodies[0], rows = Array.from(body.rows), dir = th.dataset.dir === 'up' ? -1 : 1;
      var idx = Array.prototype.indexOf.call(th.parentNode.children, th);
      rows.sort(function (a, b) {
        var x = a.cells[idx].dataset.v !== undefined ? a.cells[idx].dataset.v : a.cells[idx].innerText;
        var y = b.cells[idx].dataset.v !== undefined ? b.cells[idx].dataset.v : b.cells[idx].innerText;
        var nx = parseFloat(x), ny = parseFloat(y);
        if (!isNaN(nx) && !isNaN(ny)) return dir * (nx - ny);
        return dir * String(x).localeCompare(String(y));
      });
      rows.forEach(function (r) { body.appendChild(r); });
      th.dataset.dir = dir === 1 ? 'up' : 'down';
    });
  });
});
"""


def e(x) -> str:
    return escape(str(x))


def pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.0f}%"


def num(x: float | None) -> str:
    return "–" if x is None else f"{x:.4g}"


def late_text(seconds: float) -> str:
    if seconds <= 0:
        return ""
    hours = seconds / 3600
    return f"{hours / 24:.1f} d late" if hours >= 48 else f"{hours:.1f} h late" if hours >= 1 else \
        f"{seconds / 60:.0f} min late"


def rel(path: Path | None, out: Path) -> str | None:
    return None if path is None else os.path.relpath(path, out)


def cards(report) -> str:
    data, sim = report.data, report.similarity
    students = data.students
    items = [("enrolled", len(students), ""), ("submitted", sum(s.submitted for s in students), ""),
             ("not submitted", sum(not s.submitted for s in students), "warn"),
             ("late", sum(s.seconds_late > 0 for s in students if s.submitted), "warn"),
             ("could not be graded", sum(s.status == "not graded" for s in students), "bad"),
             ("flagged for review", sum(s.needs_review for s in students), "bad"),
             ("similar pairs listed", len(sim.listed), "warn")]
    return '<div class="cards">' + "".join(
        f'<div class="card {cls if n else ""}"><b>{n}</b>{e(label)}</div>' for label, n, cls in items) + "</div>"


def attention(report) -> str:
    """The morning-after list: who could not be graded, who is flagged, the most similar pairs."""
    data, out = report.data, []
    failed = [s for s in data.students if s.status == "not graded"]
    flagged = [s for s in data.students if s.needs_review]
    out.append("<h3>Could not be graded</h3>" + ("<p class=note>None.</p>" if not failed else "<ul class=tight>"
               + "".join(f"<li><a href='#s-{e(s.id)}'>{e(s.id)}</a>: {e(reason_of(s))}</li>" for s in failed)
               + "</ul>"))
    out.append("<h3>Flagged for review</h3><p class=note>The static audit or a hidden check found "
               "something a person should read. Scores stand until someone decides.</p>"
               + ("<p class=note>None.</p>" if not flagged else "<ul class=tight>" + "".join(
                   f"<li><a href='#s-{e(s.id)}'>{e(s.id)}</a>: {e(review_summary(s))}</li>" for s in flagged)
                  + "</ul>"))
    out.append(checks_to_look_at(report))
    top = report.similarity.listed[:5]
    out.append("<h3>Most similar pairs</h3>" + ("<p class=note>No pair above the display threshold.</p>" if not top
               else "<ul class=tight>" + "".join(f"<li><a href='#p-{i}'>{e(p.a)} – {e(p.b)}</a>: "
                                                 f"{pct(p.similarity[0])} / {pct(p.similarity[1])}</li>"
                                                 for i, p in enumerate(top)) + "</ul>"))
    return "".join(out)


def checks_to_look_at(report, n: int = 8) -> str:
    """The checks of the item analysis worth a look first: red ones, then the least passed."""
    items = [it for items in report.items.values() for it in items if it.pass_rate is not None]
    red = [it for it in items if it.suspicious]
    hard = sorted((it for it in items if not it.suspicious and it.pass_rate < 0.5), key=lambda it: it.pass_rate)
    picked = (red + hard)[:n]
    if not picked:
        return "<h3>Checks to look at</h3><p class=note>No check is failed by half the class or more, none in red.</p>"
    return "<h3>Checks to look at</h3><ul class=tight>" + "".join(
        f"<li>{e(it.notebook)} · <code>{e(it.check)}</code> ({e(it.cell)}): {pct(it.pass_rate)} pass"
        + (f", r = {it.correlation:+.2f}" if it.correlation is not None else "")
        + (" — <b>failed by strong and weak students alike</b>" if it.suspicious else "") + "</li>"
        for it in picked) + "</ul>"


def review_summary(s: Student, n: int = 2) -> str:
    lines = review_lines(s)
    more = f" … and {len(lines) - n} more" if len(lines) > n else ""
    return "; ".join(line[:200] for line in lines[:n]) + more


def notebooks_section(report) -> str:
    rows = []
    for st in report.notebook_stats:
        rows.append(f"<tr><td>{e(st.notebook)}</td><td class=num>{st.auto_max:g}</td><td class=num>{st.max_score:g}"
                    f"</td><td class=num>{st.submitted}</td><td class=num>{st.graded}</td><td class=num>{st.held}</td>"
                    f"<td class=num>{num(st.mean)}"
                    f"</td><td class=num>{num(st.median)}</td><td class=num>{pct(st.share(st.full))}</td>"
                    f"<td class=num>{pct(st.share(st.zero))}</td><td class=num>{pct(st.share(st.not_submitted))}</td>"
                    f"<td class=num>{st.manual_pending}</td></tr>")
    table = ("<table><thead><tr><th>notebook</th><th class=num>checks max</th><th class=num>max</th>"
             "<th class=num>submitted</th><th class=num>graded</th><th class=num title='a cell not graded for "
             "suspected tampering: left out of these figures until reviewed'>held for review</th>"
             "<th class=num>mean</th><th class=num>median</th>"
             "<th class=num>full marks</th><th class=num>zero</th><th class=num>not submitted</th>"
             "<th class=num>written answers to grade</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>")
    images = "".join(f'<img class="hist" alt="scores of {e(st.notebook)}" src="{report.images["hist"][st.notebook]}">'
                     for st in report.notebook_stats)
    return ("<h2 id=scores>Scores</h2><p class=note>Points of the hidden checks per notebook (green: full marks, "
            "red: zero). Shares are of all enrolled students; written answers are graded by hand later and "
            "are not in these histograms.</p>" + table + f'<div class="grid">{images}</div>'
            + f'<h3>Total</h3><img class="plot hist" alt="total scores" src="{report.images["total"]}">')


def _failure_list(item: ItemStats) -> str:
    if not item.failures:
        return ""
    return "<ul class=tight>" + "".join(f"<li><b>{f.count}×</b> <code>{e(f.message[:240])}</code></li>"
                                        for f in item.failures) + "</ul>"


def _item_row(item: ItemStats) -> str:
    r = item.correlation
    cls = "bad" if item.suspicious else ""
    r_text = "–" if r is None else f"{r:+.2f}"
    return (f"<tr class='{cls}'><td>{e(item.cell)}</td><td><code>{e(item.check)}</code><br><span class=muted>"
            f"{e(item.name)}</span></td><td class=num>{item.points:g}</td><td class=num data-v='{item.pass_rate or 0}'>"
            f"{pct(item.pass_rate)}</td><td class=num>{item.passed}/{item.results}</td><td class=num>{r_text}</td>"
            f"<td>{_failure_list(item)}</td></tr>")


def items_section(report) -> str:
    out = [f"<h2 id=items>Item analysis</h2><p class=note>Each hidden check, the least passed first. <b>r</b>: "
           f"correlation of passing it with the rest of the notebook's score. Healthy checks have r clearly above "
           f"0; rows in red (r &lt; {LOW_CORRELATION}, fewer than 90% pass) are failed about as often by strong as "
           "by weak students: read the check, its hint and the failure messages.</p>"]
    for st in report.notebook_stats:
        items = report.items[st.notebook]
        out.append(f"<h3>{e(st.notebook)}</h3>")
        if not items:
            out.append("<p class=note>No check results (nothing graded).</p>")
            continue
        out.append(f'<img class="plot items" alt="pass rates of {e(st.notebook)}" '
                   f'src="{report.images["items"][st.notebook]}">')
        out.append("<div class=wide><table><thead><tr><th>cell</th><th>check</th><th class=num>points</th>"
                   "<th class=num>pass rate</th><th class=num>passed</th><th class=num>r</th>"
                   "<th>most common failures</th></tr></thead><tbody>" + "".join(_item_row(it) for it in items)
                   + "</tbody></table></div>")
        cells = report.cells[st.notebook]
        out.append("<details><summary>per check cell, from the gradebook</summary><table><thead><tr><th>cell</th>"
                   "<th class=num>points</th><th class=num>graded</th><th class=num>mean</th><th class=num>full</th>"
                   "<th class=num>zero</th><th class=num>not graded</th></tr></thead><tbody>" + "".join(
                       f"<tr><td>{e(c.cell)}</td><td class=num>{c.points:g}</td><td class=num>{c.graded}</td>"
                       f"<td class=num>{num(c.mean)}</td><td class=num>{c.full}</td><td class=num>{c.zero}</td>"
                       f"<td class=num>{c.not_graded}</td></tr>" for c in cells) + "</tbody></table></details>")
    return "".join(out)


def _pair_detail(i: int, pair: Pair) -> str:
    parts = []
    for m in pair.matches:
        head = (f"{e(m.notebook)} · {e(m.kind)}: {pct(m.similarity[0])} of {e(pair.a)}'s, "
                f"{pct(m.similarity[1])} of {e(pair.b)}'s")
        if m.left or m.right:
            parts.append(f"<details><summary>{head}</summary><div class=side><div><b>{e(pair.a)}</b>"
                         f"<pre>{m.left}</pre></div><div><b>{e(pair.b)}</b><pre>{m.right}</pre></div></div></details>")
        else:
            parts.append(f"<div class=muted>{head}</div>")
    return "".join(parts)


def similarity_section(report) -> str:
    sim: Similarity = report.similarity
    top = sim.listed
    rows = "".join(
        f"<tr id='p-{i}'><td class=num>{i + 1}</td><td><a href='#s-{e(p.a)}'>{e(p.a)}</a></td>"
        f"<td><a href='#s-{e(p.b)}'>{e(p.b)}</a></td><td class=num>{pct(p.similarity[0])}</td>"
        f"<td class=num>{pct(p.similarity[1])}</td><td class=num>{p.overlap}</td><td>{_pair_detail(i, p)}</td></tr>"
        for i, p in enumerate(top))
    table = ("<p class=note>No pair is similar enough to list.</p>" if not top else
             "<table class=pairs><thead><tr><th class=num>#</th><th>student A</th><th>student B</th>"
             "<th class=num>of A's work</th><th class=num>of B's work</th><th class=num>matching characters</th>"
             "<th>side by side (matching regions marked)</th></tr></thead><tbody>" + rows + "</tbody></table>")
    return ("<h2 id=similarity>Similarity</h2><p class=note>Cells students could edit, compared by winnowing "
            "fingerprints (copydetect, as MOSS): names, comments and order do not matter; the release's "
            "templates and scaffolding, and code that many students share, are ignored. A high score asks a person "
            f"to read both; it never changes a grade. {sim.documents} documents; {sim.candidates} of "
            f"{sim.possible} pairs shared enough fingerprints to be compared.</p>"
            + f'<img class="plot" alt="similarity of pairs" src="{report.images["similarity"]}">' + table)


def _student_row(report, s: Student) -> str:
    out, cells = report.out, []
    for info in report.data.notebooks:
        sub = s.notebooks.get(info.name)
        if sub is None or not sub.submitted or s.status != "graded":
            cells.append("<td class=num data-v='-1'>–</td>")
            continue
        text = f"{num(sub.score)}" if sub.score is not None else "?"
        link = rel(sub.feedback, out)
        text = f"<a href='{e(link)}'>{text}</a>" if link else text
        cells.append(f"<td class=num data-v='{sub.score if sub.score is not None else -1}'>{text}</td>")
    status = {"graded": "<span class='tag ok'>graded</span>", "not submitted": "<span class=tag>not submitted</span>",
              "not graded": f"<span class='tag bad'>could not be graded</span> {e(reason_of(s))}"}[s.status]
    flags = review_lines(s) if s.needs_review else []
    flag_html = "" if not flags else (
        f"<details><summary><span class='tag bad'>review ({len(flags)})</span></summary><ul class=tight>"
        + "".join(f"<li>{e(x)}</li>" for x in flags) + "</ul></details>")
    pairs = report.similarity.listed_with(s.id)
    similar = "".join(f"<span class='tag warn'>{e(p.b if p.a == s.id else p.a)} {pct(p.score)}</span>" for p in pairs)
    cls = "bad" if s.status == "not graded" or flags else "off" if s.status == "not submitted" else ""
    return (f"<tr id='s-{e(s.id)}' class='student {cls}'><td>{e(s.id)}</td><td>{e(s.name)}</td>" + "".join(cells)
            + (f"<td class=num data-v='{s.score}'>{num(s.score)}</td>" if s.status == "graded" else
               "<td class=num data-v='-1'>–</td>") +
            f"<td data-v='{s.seconds_late}'>{late_text(s.seconds_late)}</td><td class=reason>{status}</td>"
            f"<td>{flag_html}</td>"
            f"<td>{similar}</td></tr>")


def students_section(report) -> str:
    heads = "".join(f"<th class='sort num' title='{e(i.name)}'>{e(i.name).replace('_', '_<wbr>')}<br>"
                    f"<span class=muted>/ {i.max_score:g}</span></th>" for i in report.data.notebooks)
    return ("<h2 id=students>Students</h2><p class=note>One row per enrolled student; click a heading to sort. "
            "Scores are the gradebook's (written answers count once graded); a score links to the feedback page.</p>"
            "<div class=wide><table id=student-table class=sortable><thead><tr><th class=sort>student</th>"
            f"<th class=sort>name</th>{heads}<th class='sort num'>total<br><span class=muted>/ "
            f"{report.data.max_score:g}</span></th><th class=sort>late</th><th class=sort>status</th>"
            "<th>review</th><th>similar to</th></tr></thead><tbody>"
            + "".join(_student_row(report, s) for s in report.data.students) + "</tbody></table></div>")


def render(report) -> str:
    data = report.data
    warnings = "".join(f"<p class=note>⚠ {e(w)}</p>" for w in data.warnings)
    files = " · ".join(f"<a href='{e(name)}'>{e(name)}</a>" for name in report.files)
    due = f" · due {e(data.duedate)}" if data.duedate else ""
    return (f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
            f"<meta name=viewport content='width=device-width, initial-scale=1'>"
            f"<title>{e(data.assignment)} · class report</title><style>{CSS}</style></head><body>"
            f"<header><h1>{e(data.assignment)} · class report</h1><div class=muted>{e(data.course)}{due} · "
            f"generated {e(report.generated)} · data: {files}</div><nav><a href='#attention'>Needs attention</a>"
            "<a href='#scores'>Scores</a><a href='#items'>Item analysis</a><a href='#similarity'>Similarity</a>"
            "<a href='#students'>Students</a></nav></header><main>"
            f"<h2 id=attention>Needs attention</h2>{warnings}{cards(report)}{attention(report)}"
            f"{notebooks_section(report)}{items_section(report)}{similarity_section(report)}"
            f"{students_section(report)}</main><script>{SORT_JS}</script></body></html>")


def images(report) -> dict:
    totals = [s.score for s in report.data.students if s.status == "graded"]
    return {"hist": {st.notebook: plots.score_histogram(st) for st in report.notebook_stats},
            "total": plots.total_histogram(totals, report.data.max_score),
            "items": {st.notebook: plots.item_chart(report.items[st.notebook], st.notebook)
                      for st in report.notebook_stats if report.items[st.notebook]},
            "similarity": plots.similarity_histogram(report.similarity.scores,
                                                     [p.score for p in report.similarity.listed], report.show_above,
                                                     report.similarity.possible)}
