"""Runs the Autobahn TestSuite's client cases against our client role: kosoku serves the
cases (fuzzingserver) and `loadtest autobahn` drives them with the shared WebSocketConnection."""
import argparse
import asyncio
import sys

from kosoku import FailureError, run_fuzzingserver

from autobahn_summary import summarise


async def run(loadtest: str, excludes: list[str], timeout: float):
    async with run_fuzzingserver(None, excludes, host="127.0.0.1", port=0) as server:
        client = await asyncio.create_subprocess_exec(
            loadtest, "autobahn", "--url", f"ws://127.0.0.1:{server.port}", "--agent", "tickstream")
        try:
            try:
                results = await asyncio.wait_for(server.get_result(), timeout)
            except FailureError as failure:
                results = failure.results
            code = await asyncio.wait_for(client.wait(), 30)
        finally:
            if client.returncode is None:
                client.kill()
        return results, code


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("loadtest", help="path to the loadtest binary")
    parser.add_argument("--exclude", action="append", default=[])
    parser.add_argument("--outdir", default="reports/autobahn-client")
    parser.add_argument("--timeout", type=float, default=900)
    args = parser.parse_args()
    results, client_code = asyncio.run(run(args.loadtest, args.exclude, args.timeout))
    code = summarise(results, args.outdir, "autobahn (client)")
    if client_code != 0:
        print(f"autobahn (client): loadtest autobahn exited {client_code}")
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main())
