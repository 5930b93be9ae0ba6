"""Reads a gateway's /metrics on stdin and prints the bus lag (receive time minus the
publisher's ts) at p50 and p99, interpolated within tickstream_bus_feed_lag_seconds' buckets."""
import re
import sys

buckets, count = [], 0
for line in sys.stdin:
    match = re.match(r'tickstream_bus_feed_lag_seconds_bucket\{le="([^"]+)"\} (\S+)', line)
    if match:
        buckets.append((float(match.group(1)), float(match.group(2))))
    elif line.startswith("tickstream_bus_feed_lag_seconds_count "):
        count = float(line.split()[1])


def quantile(q):
    target, lower, below = q * count, 0.0, 0.0
    for bound, cumulative in buckets:
        if cumulative >= target:
            if bound == float("inf"):
                return f"> {lower * 1000:g} ms"
            return f"{(lower + (bound - lower) * (target - below) / max(cumulative - below, 1)) * 1000:.3f} ms"
        lower, below = bound, cumulative
    return "?"


if count:
    print(f"bus lag (publisher ts to gateway receive, interpolated in the histogram's buckets): "
          f"p50 {quantile(0.5)}, p99 {quantile(0.99)} over {int(count)} messages")
