"""What both Autobahn runs (server side and client side) print and how they pass.

A run passes when every case ends OK, NON-STRICT or INFORMATIONAL. The per-case HTML/JSON
report goes to the given folder (ignored by git)."""
import collections

from kosoku._report import write_reports

ACCEPTED = {"OK", "NON-STRICT", "INFORMATIONAL"}


def summarise(results, outdir: str, label: str) -> int:
    """Writes the report, prints the summary, and returns the exit code."""
    write_reports(results, outdir)
    behaviours = collections.Counter(r.behavior.value for r in results)
    closes = collections.Counter(r.behavior_close.value for r in results)
    bad = [r for r in results if r.behavior.value not in ACCEPTED]
    for r in bad:
        print(f"  {r.case_id}: {r.behavior.value} (close: {r.behavior_close.value})")
    summary = ", ".join(f"{k} {v}" for k, v in sorted(behaviours.items()))
    print(f"{label}: {len(results)} cases: {summary}; closing handshake: "
          + ", ".join(f"{k} {v}" for k, v in sorted(closes.items())))
    print(f"{label}: report in {outdir}/")
    if not results:
        print(f"{label}: no case ran")
        return 1
    print(f"{len(results) - len(bad)} passed, {len(bad)} failed")
    return 1 if bad else 0
