"""Runs the Autobahn TestSuite cases (kosoku) against a running /echo and summarises."""
import argparse
import asyncio
import sys

from kosoku import FailureError, run_fuzzingclient

from autobahn_summary import summarise


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--case", action="append", default=None, help="only these cases (e.g. '12.*'); default all")
    parser.add_argument("--exclude", action="append", default=[])
    parser.add_argument("--concurrency", type=int, default=1, help="cases run at once")
    parser.add_argument("--outdir", default="reports/autobahn")
    args = parser.parse_args()
    try:
        results = asyncio.run(run_fuzzingclient(args.url, args.case, args.exclude, concurrency=args.concurrency))
    except FailureError as failure:
        results = failure.results
    return summarise(results, args.outdir, "autobahn (server)")


if __name__ == "__main__":
    sys.exit(main())
