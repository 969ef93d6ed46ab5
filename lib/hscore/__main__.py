"""Command line: ``python -m hscore {reproduce,run,execute,book,pairs} --profile P``.

- ``reproduce``: run every notebook of the profile with papermill (the study itself), build the book.
- ``run``: the study without notebooks (all pairs, or ``--pair model/task``), e.g. on a GPU node.
- ``execute``: the papermill step alone; ``book``: the book from existing executed notebooks.
- ``pairs``: list the profile's model-task pairs.
"""

from __future__ import annotations

import argparse
import sys

from . import config
from .errors import HScoreError


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="hscore", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["reproduce", "run", "execute", "book", "pairs"])
    parser.add_argument("--profile", default="default", help="a profile of study.yaml (default: %(default)s)")
    parser.add_argument("--pair", action="append", metavar="MODEL/TASK",
                        help="only this pair (repeatable; default: every pair of the profile)")
    args = parser.parse_args(argv)
    try:
        pairs = config.pairs(args.profile)
        if args.pair:
            wanted = [tuple(p.split("/", 1)) for p in args.pair]
            for model, task in wanted:
                config.pair_config(args.profile, model, task)  # a clear error for an unknown pair
            pairs = wanted
        if args.command == "pairs":
            print(config.describe(args.profile))
            for model, task in pairs:
                print(f"{model}/{task}")
        elif args.command == "run":
            from .study import run_pair
            from .summary import profile_summary

            for model, task in pairs:
                print(run_pair(config.pair_config(args.profile, model, task)).to_string())
            print(profile_summary(args.profile).to_string())
        else:
            from . import book

            if args.command in ("reproduce", "execute"):
                book.execute(args.profile, pairs)
            if args.command in ("reproduce", "book"):
                print(f"book: {book.build(args.profile)}")
    except HScoreError as e:
        print(f"hscore: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
