"""Medians over several `loadtest market --json` runs."""
import json
import statistics
import sys

runs = [json.load(open(p)) for p in sys.argv[1:]]
def med(key, sub=None):
    values = [(r[key][sub] if sub else r.get(key, 0)) for r in runs]
    return statistics.median(values), values
rate, rates = med("rate")
p99, p99s = med("latency_ms", "p99")
p50, _ = med("latency_ms", "p50")
cpu, cpus = med("gateway_cpu")
lcpu, _ = med("loadtest_cpu")
gaps = [r["gaps"] for r in runs]
print("runs: rate " + ", ".join(f"{x:,.0f}" for x in rates) + " | p99 ms " + ", ".join(f"{x:.3f}" for x in p99s)
      + " | gateway CPU " + ", ".join(f"{x*100:.0f}%" for x in cpus) + f" | gaps {gaps}")
batching, _ = med("messages_per_read")
print(f"median: {rate:,.0f} deliveries/s, p50 {p50:.3f} ms, p99 {p99:.3f} ms, gateway {cpu*100:.0f}% of a core "
      f"({cpu*1e6/rate:.2f} CPU-s per million deliveries), loadtest {lcpu*100:.0f}%, "
      f"{batching:.2f} messages per client read")
wire, _ = med("wire_bytes_per_delivery")
if wire:
    print(f"median wire bytes per delivery (read by the clients, frame headers and all): {wire:.1f}")
