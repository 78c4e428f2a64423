"""`pzjudge tournament --report DIR`: a tournament's ratings as CSV and Markdown tables and
as figures (PNG and SVG, matplotlib's Agg backend).

Every number comes from the tournament's result (`debate.ratings`); this module only writes
files. The CSV cells hold the numbers exactly (shortest round-trip form), so they equal the
`--json` figures; the Markdown table rounds them for reading.

Files: `ratings.csv` (each debater as honest and as liar: debates, won, Bradley–Terry
rating and its 95% interval), `judges.csv` (accuracy and mean log10 error with intervals),
`matrix.csv` (who beats whom: honest debater × liar, how often the judge trusted each),
`report.md` (the three tables), `ratings.png/svg`, `judges.png/svg`, `matrix.png/svg`.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from debate.ratings import Estimate, Ratings
from tui.errors import TuiError

RATING_COLUMNS = ["debater", "role", "debates", "won", "rating", "rating_low", "rating_high"]
JUDGE_COLUMNS = [
    "judge", "debates", "accuracy", "accuracy_low", "accuracy_high",
    "log10_error", "log10_error_low", "log10_error_high",
]  # fmt: skip
MATRIX_COLUMNS = ["honest", "liar", "debates", "honest_trusted", "liar_trusted", "honest_share"]


def _est(e: Estimate | None) -> list[float | None]:
    return [None, None, None] if e is None else [e.value, e.low, e.high]


def rating_rows(r: Ratings) -> list[list[Any]]:
    """`ratings.csv`: per debater one row as honest and one as liar ("won" is the debates
    the judge trusted it as honest, or was fooled by it as liar)."""
    out: list[list[Any]] = []
    for d in r.debaters:
        out.append([d.name, "honest", d.as_honest, d.won_as_honest, *_est(d.honest)])
        out.append([d.name, "liar", d.as_liar, d.fooled_as_liar, *_est(d.liar)])
    return out


def judge_rows(r: Ratings) -> list[list[Any]]:
    return [[j.name, j.debates, *_est(j.accuracy), *_est(j.log10_error)] for j in r.judges]


def matrix_rows(r: Ratings) -> list[list[Any]]:
    return [
        [p.honest, p.liar, p.debates, p.honest_trusted, p.liar_trusted, p.honest_share]
        for p in r.pairings
    ]


def _csv(path: Path, header: list[str], rows: list[list[Any]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows([["" if v is None else v for v in row] for row in rows])


def _md(header: list[str], rows: list[list[Any]]) -> str:
    def cell(v: Any) -> str:
        if v is None:
            return "-"
        if isinstance(v, float):
            return f"{v:.3g}"
        return str(v).replace("|", "\\|")

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _figures(r: Ratings, out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    paths: list[Path] = []

    def save(fig: Any, stem: str) -> None:
        fig.tight_layout()
        for ext in ("png", "svg"):
            path = out / f"{stem}.{ext}"
            fig.savefig(path, dpi=110)
            paths.append(path)
        plt.close(fig)

    names = [d.name for d in r.debaters]
    fig, ax = plt.subplots(figsize=(6.4, 0.9 + 0.45 * max(1, len(names))))
    for k, (role, offset) in enumerate((("honest", -0.15), ("liar", 0.15))):
        ys, xs, lo, hi = [], [], [], []
        for i, d in enumerate(r.debaters):
            e = d.honest if role == "honest" else d.liar
            if e is None:
                continue
            ys.append(i + offset)
            xs.append(e.value)
            lo.append(e.value - e.low)
            hi.append(e.high - e.value)
        ax.errorbar(xs, ys, xerr=[lo, hi], fmt="o", capsize=3, color=f"C{k}", label=f"as {role}")
    ax.axvline(0.0, color="grey", lw=0.8, ls="--")
    ax.set_yticks(range(len(names)), names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("Bradley–Terry rating (log-odds), 95% bootstrap interval", fontsize=8)
    ax.set_title("debaters: winning the judge's trust as honest, fooling it as liar", fontsize=9)
    ax.legend(fontsize=7)
    save(fig, "ratings")

    judges = r.judges
    fig, axes = plt.subplots(1, 2, figsize=(7.2, 0.9 + 0.45 * max(1, len(judges))))
    for ax, key, label in (
        (axes[0], "accuracy", "trusted the honest side"),
        (axes[1], "log10_error", "mean log10 error"),
    ):
        ests = [getattr(j, key) for j in judges]
        ax.errorbar(
            [e.value for e in ests],
            range(len(judges)),
            xerr=[[e.value - e.low for e in ests], [e.high - e.value for e in ests]],
            fmt="o",
            capsize=3,
        )
        ax.set_yticks(range(len(judges)), [j.name for j in judges], fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel(f"{label} (95% CI)", fontsize=8)
    axes[0].axvline(0.5, color="grey", lw=0.8, ls="--")
    save(fig, "judges")

    grid = np.full((len(names), len(names)), np.nan)
    index = {n: i for i, n in enumerate(names)}
    for p in r.pairings:
        if p.honest_share is not None:
            grid[index[p.honest], index[p.liar]] = p.honest_share
    size = 1.6 + 0.6 * len(names)
    fig, ax = plt.subplots(figsize=(size + 1.2, size))
    im = ax.imshow(grid, vmin=0.0, vmax=1.0, cmap="RdYlGn")
    for p in r.pairings:
        text = "-" if p.honest_share is None else f"{p.honest_trusted}/{p.debates}"
        ax.text(index[p.liar], index[p.honest], text, ha="center", va="center", fontsize=7)
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right", fontsize=7)
    ax.set_yticks(range(len(names)), names, fontsize=7)
    ax.set_xlabel("liar")
    ax.set_ylabel("honest")
    ax.set_title("who beats whom: share the judge trusted the honest side", fontsize=8)
    fig.colorbar(im, ax=ax, fraction=0.046)
    save(fig, "matrix")
    return paths


def write_tournament_report(r: Ratings, out: Path, title: str) -> list[Path]:
    """Write the tables and figures of `r` into `out` (created if missing); the files
    written. A path that cannot be written is a one-line StoreError; so is a missing
    matplotlib (the tables are written first)."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        tables = (
            ("ratings.csv", RATING_COLUMNS, rating_rows(r)),
            ("judges.csv", JUDGE_COLUMNS, judge_rows(r)),
            ("matrix.csv", MATRIX_COLUMNS, matrix_rows(r)),
        )
        files = []
        for name, header, rows in tables:
            _csv(out / name, header, rows)
            files.append(out / name)
        md = [f"# {title}", ""]
        md += [
            "Ratings: Bradley–Terry log-odds from which side the judge trusted; rating as "
            "honest of X minus rating as liar of Y is the log-odds the judge trusts X over Y. "
            "Intervals: 95% percentile bootstrap over debates.",
            "",
        ]
        for (_, header, rows), heading in zip(
            tables, ("Debaters", "Judges", "Who beats whom"), strict=True
        ):
            md += [f"## {heading}", "", _md(header, rows), ""]
        (out / "report.md").write_text("\n".join(md), encoding="utf-8")
        files.append(out / "report.md")
    except OSError as exc:
        raise TuiError(
            f"cannot write the report to {out} ({exc.strerror}); check the path"
        ) from None
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise TuiError(
            f"tables written to {out}; the figures need matplotlib: pip install 'pzjudge[plots]'"
        ) from None
    try:
        return files + _figures(r, out)
    except OSError as exc:
        raise TuiError(f"cannot write the figures to {out} ({exc.strerror})") from None


__all__ = ["write_tournament_report"]
