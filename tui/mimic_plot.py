"""Figures of the mimic measurements (matplotlib, the optional `plots` extra).

One figure per `Measurement`: its curves with standard-error bands, and what the article
predicts drawn dashed in the same colour (the limit a curve should reach), or the bound
lines for the Goodhart figure.
"""

from __future__ import annotations

from typing import Any


def plot(m: Any, path: str) -> None:
    """Draw the measurement `m` (a `latent.mimic_measure.Measurement`) into `path`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.0, 4.4), dpi=110)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    if m.kind == "goodhart":
        for i, c in enumerate(m.curves):
            xs = [p.x for p in c.points]
            ys = [p.mean for p in c.points]
            ax.scatter(xs, ys, s=10, alpha=0.6, color=colours[i], label=c.label)
        top = max(p.x for c in m.curves for p in c.points)
        ax.plot([0, top], [0, top], "k:", lw=1, label="ε (exact value over X)")
        ax.plot([0, top], [0, 2 * top], "k--", lw=1, label="2ε (the article's bound)")
        for k, v in m.facts.items():
            if k.endswith(".G") and isinstance(v, float):
                name = k[: -len(".G")]
                gap = m.facts.get(f"{name}.tv_z")
                if isinstance(gap, float):
                    ax.annotate(
                        name, (1 - v, gap), fontsize=8, xytext=(4, -10), textcoords="offset points"
                    )
                    ax.scatter([1 - v], [gap], marker="*", s=90, color="black", zorder=5)
        ax.set_xlim(0, 1.02)
        ax.set_ylim(0, 1.05)
    else:
        # curves of one mimic class (Bayes and logistic) share a colour
        keys = list(dict.fromkeys(c.label.split(" ")[0] for c in m.curves))
        for c in m.curves:
            col = colours[keys.index(c.label.split(" ")[0]) % len(colours)]
            style = "s:" if c.label.endswith("logistic") else "o-"
            xs = [p.x for p in c.points]
            ys = [p.mean for p in c.points]
            se = [p.se for p in c.points]
            label = c.label + (f" [{c.note}]" if c.note else "")
            if m.kind == "finetune":
                # beta = 0 is the limit: draw it at the left edge of a log axis
                pos = [x for x in xs if x > 0]
                floor = min(pos) / 3 if pos else 1e-3
                xs = [x if x > 0 else floor for x in xs]
            ax.plot(xs, ys, style, ms=3, color=col, label=label)
            if any(se):
                lo = [y - 2 * s for y, s in zip(ys, se, strict=True)]
                hi = [y + 2 * s for y, s in zip(ys, se, strict=True)]
                ax.fill_between(xs, lo, hi, color=col, alpha=0.15, lw=0)
            if c.predicted_limit is not None:
                ax.axhline(c.predicted_limit, color=col, ls="--", lw=1)
        ax.set_xscale("log")
        if m.kind == "finetune":
            ax.invert_xaxis()
    ax.set_xlabel(m.x_label)
    ax.set_ylabel(m.y_label, fontsize=9)
    ax.set_title(_title(m), fontsize=10)
    ax.legend(fontsize=7, loc="best")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _title(m: Any) -> str:
    return {
        "merge": "Merging: the operator's forecast of Z' against the mimic's (dashed: limit)",
        "finetune": "Fine-tuning: synchronisation error as beta → 0 (dashed: predicted limit)",
        "goodhart": "Goodhart: |P(A|R) − P(A|X_F)| against ε = 1 − G (stars: presets)",
        "transfer": "Classifier transfer: accuracy gap on mimic books (dashed: class limit)",
    }.get(m.kind, m.kind)
