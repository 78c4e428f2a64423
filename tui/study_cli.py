"""`pzjudge study build|status|simulate|report`: studies from the command line.

Registered on the top-level parser by `add_study_commands`; heavy imports happen only when
a command runs (see `tui.cli._one_blas_thread`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from tui.cli_common import add_command, add_group


def cmd_build(args: argparse.Namespace) -> int:
    from debate.study import balanced_set, design_warnings
    from store.study_ops import build_study

    spec, codes = build_study(args.study, args.out)
    for line in design_warnings(spec):
        print(f"pzjudge: warning: {line}", file=sys.stderr)
    if args.json:
        out = {
            "study": spec.title,
            "db": str(args.out),
            "balanced_set": balanced_set(spec),
            "codes": codes,
        }
        print(json.dumps(out, indent=2))
        return 0
    print(
        f"Built {spec.title!r} into {args.out}: {len(spec.items)} items, conditions "
        f"{', '.join(spec.conditions)} ({spec.design}-subject), {len(codes)} participants; "
        f"balanced in sets of {balanced_set(spec)} participants."
    )
    print("Participant codes (give one to each participant):")
    for i, c in enumerate(codes, start=1):
        print(f"  {i:3d}  {c}")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from store.study import StudyDB
    from store.study_ops import status

    with StudyDB(args.db) as db:
        title = db.meta()["title"]
        rows = status(db)
    if args.json:
        print(json.dumps({"study": title, "participants": rows}, indent=2))
        return 0
    print(f"{title}: {sum(r['finished'] for r in rows)} of {len(rows)} participants finished")
    print(f"{'#':>3s}  {'code':8s}  {'judged':>9s}  consented  finished  simulated")
    for r in rows:
        sims = ", ".join(f"{j} {n}" for j, n in r["simulated"].items()) or "-"
        print(
            f"{r['number']:3d}  {r['code']:8s}  {r['judged']:4d}/{r['rounds']:<4d}  "
            f"{'yes' if r['consented'] else 'no':9s}  {'yes' if r['finished'] else 'no':8s}  {sims}"
        )
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    from store.study import StudyDB
    from store.study_ops import check_judges, check_operators, simulate_study

    judges = check_judges([j.strip() for j in args.judges.split(",") if j.strip()])
    operators = check_operators([o.strip() for o in args.operators.split(",") if o.strip()])
    with StudyDB(args.db) as db:
        n = simulate_study(db, judges, operators)
    if args.json:
        print(json.dumps({"judgements": n}))
    else:
        who = ", ".join("sim:" + j for j in judges + operators)
        print(f"{n} judgements by {who} stored in {args.db}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from store.export import finite
    from store.study import StudyDB
    from store.study_ops import study_spec
    from tui.study_report import condition_table, report_data, write_report

    with StudyDB(args.db) as db:
        data = report_data(study_spec(db), db.results(), db.items())
    files = write_report(data, Path(args.out)) if args.out else []
    if args.json:
        print(
            json.dumps(
                finite({**data, "files": [str(f) for f in files]}), indent=2, allow_nan=False
            )
        )
        return 0
    print(f"{data['title']}: {data['kept']} judgements kept of {data['rows']}")
    print(
        f"{'judge':18s} {'condition':12s} {'n':>4s} {'accuracy':>18s} "
        f"{'log10 error':>20s} {'ECE':>5s} {'no answer':>9s}"
    )
    for r in condition_table(data):
        acc = "-" if r["accuracy"] is None else f"{r['accuracy']:.2f}"
        if r["accuracy_lo"] is not None:
            acc += f" [{r['accuracy_lo']:.2f},{r['accuracy_hi']:.2f}]"
        err = "-" if r["mean_log10_error"] is None else f"{r['mean_log10_error']:.2f}"
        if r["log10_error_lo"] is not None:
            err += f" [{r['log10_error_lo']:.2f},{r['log10_error_hi']:.2f}]"
        ece = "-" if r["ece"] is None else f"{r['ece']:.2f}"
        print(
            f"{r['judge'][:18]:18s} {r['condition']:12s} {r['rounds']:4d} {acc:>18s} "
            f"{err:>20s} {ece:>5s} {r['no_answer']:9d}"
        )
    print(
        "accuracy: how often the final credence favoured the honest side; ECE: expected "
        "calibration error of that credence (0: calibrated); [lo,hi]: 95% bootstrap"
    )
    if any(r["no_answer"] for r in condition_table(data)):
        print("no answer: the time ran out with nothing valid typed, or the judge gave none;")
        print("  such rounds are left out of accuracy, log10 error and ECE")
    if data["excluded"]:
        print(f"excluded by the attention rule: {len(data['excluded'])} participant-judges")
    for f in files:
        print(f"wrote {f}")
    return 0


def add_study_commands(sub: Any) -> None:
    """Register `pzjudge study build|status|simulate|report` on the top-level parser."""
    ssub = add_group(
        sub,
        "study",
        "studies: build, status, simulate, report (README: Run a study)",
        "A study: the same dealt rounds for every participant, conditions (protocols) "
        "counterbalanced, and a report.",
        dest="study_command",
        metavar="STEP",
    )

    b = add_command(
        ssub, "build", cmd_build, "deal every round of a study file into a new study database"
    )
    b.add_argument("study", metavar="STUDY.toml", help="the study file (examples/study.toml)")
    b.add_argument("-o", "--out", required=True, metavar="STUDY.db", help="database to create")
    s = add_command(ssub, "status", cmd_status, "who finished what")
    s.add_argument("db", metavar="STUDY.db")
    m = add_command(
        ssub, "simulate", cmd_simulate, "play every participant's rounds with simulated judges"
    )
    m.add_argument("db", metavar="STUDY.db")
    m.add_argument("--judges", default="maxent,bounds,trust-a", help="comma-separated sim judges")
    m.add_argument(
        "--operators",
        default="synchronised,unconditioned,table,exact",
        help="simulated operators for mimic items (synchronised, unconditioned, table, exact)",
    )
    r = add_command(
        ssub, "report", cmd_report, "per condition accuracy, log10 error, calibration; files"
    )
    r.add_argument("db", metavar="STUDY.db")
    r.add_argument("-o", "--out", metavar="DIR", help="write CSV, PNG and report.html here")


def run_other_protocol(args: argparse.Namespace, dealt: Any, judge: Any, debaters: Any) -> int:
    """`pzjudge debate --protocol oracle|consultancy|offline`: the same dealt round judged
    under another protocol (printed, not stored: the game's store records debates)."""
    import asyncio

    from debate.protocols import run_protocol

    if dealt is None:
        from debate.errors import DebateError

        raise DebateError("--protocol other than debate deals the sides: drop --a and --b")
    res = asyncio.run(run_protocol(dealt, args.protocol, judge, debaters=debaters))
    if args.json:
        from store.export import finite

        print(json.dumps(finite(res.model_dump(mode="json")), indent=2, allow_nan=False))
        return 0
    shown = ", ".join(f"{k.upper()} claims {v:.4g}" for k, v in res.claims.items()) or "no claims"
    print(f"{res.protocol} round {res.seed}: {shown}; {len(res.turns)} turns; judge {res.judge}")
    print(f"estimate {res.estimate:.4g}, P(Z) = {res.truth:.4g}: log10 error {res.log10_error:.2f}")
    if res.trusted_honest is not None:
        print(
            f"credence in the honest side {res.credence_honest:.2f}: "
            f"{'trusted' if res.trusted_honest else 'did not trust'} the honest side"
        )
    return 0
