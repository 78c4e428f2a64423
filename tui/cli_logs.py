"""`pzjudge export|import|stats`: judgement logs out and in, and their summary."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from store.errors import StoreError
from tui.cli_common import add_command, open_store, store_args

#: `stats --by` (store.stats.GROUPINGS, not imported here: the parser imports nothing heavy).
_GROUPINGS = ["judge", "rules", "debaters", "kind", "condition", "item", "participant", "debater"]


def cmd_export(args: argparse.Namespace) -> int:
    from store.export import export_rows, write_export

    if args.study:
        n = _export_study(args)
    else:
        store = open_store(args, create=False)
        with store:
            rows = export_rows(
                store, session=args.session, judge=args.judge, transcripts=args.transcripts
            )
            n = write_export(rows, args.format, args.output or "-")
    if args.output:
        print(f"wrote {n} judgements to {args.output} ({args.format})", file=sys.stderr)
    return 0


def _export_study(args: argparse.Namespace) -> int:
    """`export --study STUDY.db`: the study's judgements as export rows."""
    from store.export import write_export
    from store.study import StudyDB
    from store.study_export import study_rows

    if args.db or args.session or args.transcripts:
        raise StoreError("--study exports a study alone; drop --db, --session and --transcripts")
    with StudyDB(args.study) as db:
        rows = [r for r in study_rows(db) if args.judge is None or r["judge"] == args.judge]
        return write_export(rows, args.format, args.output or "-")


def cmd_import(args: argparse.Namespace) -> int:
    from store.importing import import_logs

    with open_store(args) as store:
        added, skipped = import_logs(store, args.files)
    if args.json:
        print(json.dumps({"added": added, "skipped": skipped}))
    else:
        print(f"imported {added} judgements ({skipped} already there)")
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    from store.export import export_rows, finite
    from store.stats import format_stats, left_out, stats

    if args.study:
        from store.study import StudyDB
        from store.study_export import study_rows

        if args.db:
            raise StoreError("give --db or --study, not both")
        with StudyDB(args.study) as db:
            given = list(study_rows(db))
    else:
        with open_store(args, create=False) as store:
            given = list(export_rows(store))
    rows = stats(given, args.by, practice=args.practice)
    if args.json:
        # JSON has no infinity: an infinite mean regret is null, as in exports
        print(json.dumps(finite(rows), indent=2, allow_nan=False))
        return 0
    print(format_stats(rows, args.by) if rows else "no answered rounds yet")
    for kind, n in left_out(given, args.by, practice=args.practice).items():
        print(f"\n{n} {kind} rounds are left out: they have no debaters (see --by kind)")
    return 0


def add_logs_commands(sub: Any) -> None:
    """Register `pzjudge export|import|stats` on the top-level parser."""
    ex = add_command(sub, "export", cmd_export, "judgement logs out: one row per judgement")
    ex.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")
    ex.add_argument("--session", help="only this session (its id, or the uid in a log row)")
    ex.add_argument("--judge", help="only this judge")
    ex.add_argument("--transcripts", action="store_true", help="include the full transcripts")
    ex.add_argument("-o", "--output", help="file to write (default: stdout)")
    ex.add_argument("--study", metavar="STUDY.db", help="export a study database's judgements")
    store_args(ex)

    im = add_command(sub, "import", cmd_import, "merge logs exported elsewhere (no duplicates)")
    im.add_argument("files", nargs="+", metavar="FILE", help="JSONL logs from pzjudge export")
    store_args(im)

    stt = add_command(sub, "stats", cmd_stats, "summary of judgements: errors, trust, calibration")
    stt.add_argument(
        "--by",
        choices=_GROUPINGS,
        default="judge",
        help="group by: judge, rule set, debater pair, round kind, a study's condition, item "
        "or participant, or debater (with ratings as honest and as liar)",
    )
    stt.add_argument(
        "--practice", action="store_true", help="include practice rounds and attention checks"
    )
    stt.add_argument("--study", metavar="STUDY.db", help="a study database instead of --db")
    store_args(stt)
