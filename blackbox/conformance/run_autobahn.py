"""Runs the Autobahn TestSuite cases (kosoku) against a running /echo and summarises.

Passes when every case ends OK, NON-STRICT or INFORMATIONAL. The per-case HTML/JSON report is
written to the given folder (ignored by git)."""
import argparse
import asyncio
import collections
import sys

from kosoku import FailureError, run_fuzzingclient
from kosoku._report import write_reports

ACCEPTED = {"OK", "NON-STRICT", "INFORMATIONAL"}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--exclude", action="append", default=[])
    parser.add_argument("--outdir", default="reports/autobahn")
    args = parser.parse_args()
    try:
        results = asyncio.run(run_fuzzingclient(args.url, None, args.exclude, concurrency=1))
    except FailureError as failure:
        results = failure.results
    write_reports(results, args.outdir)
    behaviours = collections.Counter(r.behavior.value for r in results)
    closes = collections.Counter(r.behavior_close.value for r in results)
    bad = [r for r in results if r.behavior.value not in ACCEPTED]
    for r in bad:
        print(f"  {r.case_id}: {r.behavior.value} (close: {r.behavior_close.value})")
    summary = ", ".join(f"{k} {v}" for k, v in sorted(behaviours.items()))
    print(f"autobahn: {len(results)} cases: {summary}; closing handshake: "
          + ", ".join(f"{k} {v}" for k, v in sorted(closes.items())))
    print(f"autobahn: report in {args.outdir}/")
    if not results:
        print("autobahn: no case ran")
        return 1
    passed = len(results) - len(bad)
    print(f"{passed} passed, {len(bad)} failed")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
