"""`pzjudge study report`: the numbers of a study as CSV tables, PNG figures and one
self-contained HTML page (figures inlined), from the rows stored in the study database.

The numbers come from `debate.study` (summaries, bootstrap intervals, calibration); this
module only selects rows (attention items out, participants who failed the attention rule
out) and writes files. Figures need matplotlib (the `plots` extra); without it the tables
and page are still written and the page says so.
"""

from __future__ import annotations

import base64
import csv
import html
import io
from pathlib import Path
from typing import Any

from debate.study import (
    StudySpec,
    attention_failures,
    summarize,
)
from debate.study_errors import item_trap_kinds, log10_error_groups
from tui.errors import TuiError


def report_data(
    spec: StudySpec, rows: list[dict[str, Any]], items: list[dict[str, Any]]
) -> dict[str, Any]:
    """Everything the report shows, as plain data (what `--json` prints)."""
    failed = attention_failures(rows, spec)
    kept = [r for r in rows if not r["attention"] and (r["judge"], r["participant"]) not in failed]
    names = {it["id"]: it["name"] for it in items}
    kinds = {it["id"]: item_trap_kinds(it) for it in items}
    return {
        "title": spec.title,
        "rows": len(rows),
        "kept": len(kept),
        "conditions": [s.model_dump() for s in summarize(kept)],
        # as by condition: own answers only, and no log10 error where P(Z) = 0
        "by_item": log10_error_groups(kept, "item", lambda r: [names[r["item"]]]),
        "by_trap_kind": log10_error_groups(kept, "trap_kind", lambda r: kinds[r["item"]]),
        "excluded": [
            {"judge": j, "participant": p, "passed": a, "required": b}
            for (j, p), (a, b) in sorted(failed.items())
        ],
    }


#: The columns of each table, written even when a table has no rows.
GROUP_COLUMNS = [
    "judge",
    "{key}",
    "condition",
    "rounds",
    "mean_log10_error",
    "log10_error_lo",
    "log10_error_hi",
]
EXCLUDED_COLUMNS = ["judge", "participant", "passed", "required"]


def _columns(key: str) -> list[str]:
    return [c.format(key=key) for c in GROUP_COLUMNS]


def _write_csv(path: Path, columns: list[str], rows: list[dict[str, Any]]) -> None:
    """A table with its header, also when it has no rows (a reader needs the columns)."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=columns)
        w.writeheader()
        w.writerows(rows)


def _ci(ci: Any, i: int) -> float | None:
    return None if ci is None else float(ci[i])


def condition_table(data: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per (judge, condition): the table of the report."""
    out = []
    for s in data["conditions"]:
        cal = s["calibration"] or {}
        out.append(
            {
                "judge": s["judge"],
                "condition": s["condition"],
                "rounds": s["rounds"],
                "no_answer": s["no_answer"],
                "accuracy": s["accuracy"],
                "accuracy_lo": _ci(s["accuracy_ci"], 0),
                "accuracy_hi": _ci(s["accuracy_ci"], 1),
                "mean_log10_error": s["mean_log10_error"],
                "log10_error_lo": _ci(s["log10_error_ci"], 0),
                "log10_error_hi": _ci(s["log10_error_ci"], 1),
                "zero_truth": s["zero_truth"],
                "mean_seconds": s["mean_seconds"],
                "timed_out": s["timed_out"],
                "brier": cal.get("brier"),
                "reliability": cal.get("reliability"),
                "resolution": cal.get("resolution"),
                "uncertainty": cal.get("uncertainty"),
                # Brier = reliability − resolution + uncertainty + within_bin, exactly
                "within_bin": cal.get("within_bin"),
                "ece": cal.get("ece"),
            }
        )
    return out


CONDITION_COLUMNS = [
    "judge",
    "condition",
    "rounds",
    "no_answer",
    "accuracy",
    "accuracy_lo",
    "accuracy_hi",
    "mean_log10_error",
    "log10_error_lo",
    "log10_error_hi",
    "zero_truth",
    "mean_seconds",
    "timed_out",
    "brier",
    "reliability",
    "resolution",
    "uncertainty",
    "within_bin",
    "ece",
]


def _save(fig: Any, out: Path, stem: str) -> list[Path]:
    """The figure as PNG (inlined in the page) and SVG (for a paper); both paths."""
    paths = [out / f"{stem}.png", out / f"{stem}.svg"]
    fig.savefig(paths[0], dpi=110)
    fig.savefig(paths[1])
    return paths


def _figures(data: dict[str, Any], out: Path) -> list[Path]:
    """accuracy, log10_error, log10_error_by_trap and reliability, each as .png and .svg
    (an empty list without matplotlib)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    table = condition_table(data)
    judges = sorted({r["judge"] for r in table})
    conds = list(dict.fromkeys(r["condition"] for r in table))
    paths = []
    for key, label, fname in (
        ("accuracy", "judge accuracy (trusted the honest side)", "accuracy"),
        ("mean_log10_error", "mean log10 error of the estimate (orders)", "log10_error"),
    ):
        lo_key = "accuracy_lo" if key == "accuracy" else "log10_error_lo"
        hi_key = "accuracy_hi" if key == "accuracy" else "log10_error_hi"
        fig, ax = plt.subplots(figsize=(6.4, 3.6))
        width = 0.8 / max(1, len(judges))
        for j, judge in enumerate(judges):
            xs: list[float] = []
            ys: list[float] = []
            errs: list[list[float]] = [[], []]
            for c, cond in enumerate(conds):
                r = next((r for r in table if r["judge"] == judge and r["condition"] == cond), None)
                if r is None or r[key] is None:
                    continue
                xs.append(c + (j - (len(judges) - 1) / 2) * width)
                ys.append(r[key])
                lo, hi = r[lo_key], r[hi_key]
                errs[0].append(r[key] - lo if lo is not None else 0.0)
                errs[1].append(hi - r[key] if hi is not None else 0.0)
            ax.bar(xs, ys, width, yerr=errs, capsize=3, label=judge)
        ax.set_xticks(range(len(conds)), conds)
        ax.set_ylabel(label, fontsize=8)
        ax.set_title(f"{data['title']}: 95% bootstrap intervals", fontsize=9)
        ax.legend(fontsize=7)
        fig.tight_layout()
        paths += _save(fig, out, fname)
        plt.close(fig)
    paths += _trap_figure(plt, data, out)
    fig, ax = plt.subplots(figsize=(4.4, 4.4))
    ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="--")
    for s in data["conditions"]:
        cal = s["calibration"]
        if not cal:
            continue
        xs = [b[1] for b in cal["bins"]]
        ys = [b[2] for b in cal["bins"]]
        ax.plot(xs, ys, marker="o", label=f"{s['judge']} {s['condition']} (ECE {cal['ece']:.2f})")
    ax.set_xlabel("credence that A is honest")
    ax.set_ylabel("how often A was honest")
    ax.set_title("reliability", fontsize=9)
    ax.legend(fontsize=6)
    fig.tight_layout()
    paths += _save(fig, out, "reliability")
    plt.close(fig)
    return paths


def _trap_figure(plt: Any, data: dict[str, Any], out: Path) -> list[Path]:
    """log10_error_by_trap: one panel per judge, trap kinds along x, a bar per condition
    with its 95% interval (no figure when no group has a log10 error)."""
    rows = data["by_trap_kind"]
    if not rows:
        return []
    judges = sorted({r["judge"] for r in rows})
    kinds = sorted({r["trap_kind"] for r in rows})
    conds = list(dict.fromkeys(r["condition"] for r in rows))
    fig, axes = plt.subplots(
        len(judges), 1, figsize=(6.4, 0.6 + 2.2 * len(judges)), squeeze=False, sharex=True
    )
    width = 0.8 / max(1, len(conds))
    for ax, judge in zip(axes[:, 0], judges, strict=True):
        for c, cond in enumerate(conds):
            xs, ys, lo, hi = [], [], [], []
            for k, kind in enumerate(kinds):
                r = next(
                    (
                        r
                        for r in rows
                        if (r["judge"], r["trap_kind"], r["condition"]) == (judge, kind, cond)
                    ),
                    None,
                )
                if r is None:
                    continue
                m = r["mean_log10_error"]
                xs.append(k + (c - (len(conds) - 1) / 2) * width)
                ys.append(m)
                lo.append(m - r["log10_error_lo"] if r["log10_error_lo"] is not None else 0.0)
                hi.append(r["log10_error_hi"] - m if r["log10_error_hi"] is not None else 0.0)
            ax.bar(xs, ys, width, yerr=[lo, hi], capsize=3, label=cond)
        ax.set_title(judge, fontsize=8)
        ax.set_ylabel("log10 error", fontsize=7)
        ax.legend(fontsize=6)
    axes[-1, 0].set_xticks(range(len(kinds)), kinds, fontsize=7)
    fig.suptitle(f"{data['title']}: log10 error by trap kind (95% bootstrap)", fontsize=9)
    fig.tight_layout()
    paths = _save(fig, out, "log10_error_by_trap")
    plt.close(fig)
    return paths


def _html_table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "<p>none</p>"

    def cell(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.3g}"
        return html.escape("" if v is None else str(v))

    head = "".join(f"<th>{html.escape(k)}</th>" for k in rows[0])
    body = "".join(
        "<tr>" + "".join(f"<td>{cell(v)}</td>" for v in r.values()) + "</tr>" for r in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def write_report(data: dict[str, Any], out: Path) -> list[Path]:
    """Write the tables, figures and report.html into `out` (created); the files written.
    A path that cannot be written (a file, no permission) is a one-line TuiError."""
    try:
        return _write_report(data, out)
    except OSError as exc:
        why = "a file, not a directory" if out.exists() and not out.is_dir() else exc.strerror
        raise TuiError(f"cannot write the report to {out} ({why}); check the path") from None


def _write_report(data: dict[str, Any], out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    table = condition_table(data)
    files = []
    for name, columns, rows in (
        ("conditions.csv", CONDITION_COLUMNS, table),
        ("by_item.csv", _columns("item"), data["by_item"]),
        ("by_trap_kind.csv", _columns("trap_kind"), data["by_trap_kind"]),
        ("excluded.csv", EXCLUDED_COLUMNS, data["excluded"]),
    ):
        _write_csv(out / name, columns, rows)
        files.append(out / name)
    figs = _figures(data, out)
    files += figs
    imgs = "".join(
        f'<img alt="{p.stem}" src="data:image/png;base64,'
        f'{base64.b64encode(p.read_bytes()).decode()}">'
        for p in figs
        if p.suffix == ".png"
    )
    if not figs:
        imgs = "<p>Figures need matplotlib: pip install 'pzjudge[plots]'.</p>"
    page = io.StringIO()
    page.write(
        "<!doctype html><meta charset=utf-8>"
        f"<title>{html.escape(data['title'])}</title>"
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}"
        "table{border-collapse:collapse;font-size:.85em}td,th{border:1px solid #ccc;"
        "padding:2px 6px}img{max-width:100%}</style>"
        f"<h1>{html.escape(data['title'])}</h1>"
        f"<p>{data['kept']} judgements kept of {data['rows']} (attention-check rounds and "
        "participants who failed the attention rule are left out). <i>no_answer</i>: rounds "
        "whose estimate is not the judge's own (the time ran out before a valid estimate "
        "was typed, or the judge gave none); they are counted, and left out of accuracy, "
        "log10 error and calibration. An estimate typed and submitted by the time limit is "
        "the participant's own (counted in <i>timed_out</i> too). <i>zero_truth</i>: rounds "
        "whose P(Z) is exactly 0, where the log10 error is undefined; they count in accuracy, "
        "not in the log10 error. Condition <i>mimic</i>: mimic items (forecast a fine-tuned "
        "mimic's next book; simulated operators <i>sim:synchronised</i>, "
        "<i>sim:unconditioned</i>, <i>sim:table</i>, <i>sim:exact</i>): there are no sides, "
        "so no accuracy, "
        "and the log10 error is that of the forecast P(event). Accuracy: the final credence "
        "favoured the honest side "
        "(consultancy: the consultant when honest, else not; a credence of exactly 1/2 counts "
        "half). Intervals: 95% percentile bootstrap of the mean. ECE: expected calibration "
        "error over 10 bins; Brier = reliability − resolution + uncertainty + within_bin "
        "(the spread of credences inside a bin; exact, so the columns add up).</p>"
        f"<h2>By condition</h2>{_html_table(table)}{imgs}"
        f"<h2>By item</h2>{_html_table(data['by_item'])}"
        "<h2>By trap kind</h2><p>The kinds planted in an item's world, as the reveal names "
        "them (d4, parity, extremal: traps; planted-high, planted-independent: planted "
        "blocks that are innocent; flip: flipped statements; none: nothing planted). An "
        f"item counts under each of its kinds.</p>{_html_table(data['by_trap_kind'])}"
        f"<h2>Attention exclusions</h2>{_html_table(data['excluded'])}"
    )
    (out / "report.html").write_text(page.getvalue(), encoding="utf-8")
    files.append(out / "report.html")
    return files
