"""Reference for bench_prom: prometheus_client's text parser on the same
file. Prints the best MB/s of several runs."""
import sys
import time

from prometheus_client.parser import text_string_to_metric_families


def main():
    path = sys.argv[1]
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    with open(path, encoding="utf-8") as f:
        text = f.read()
    size_mb = len(text.encode("utf-8")) / 1e6
    best = 0.0
    for _ in range(runs):
        start = time.perf_counter()
        samples = 0
        for family in text_string_to_metric_families(text):
            samples += len(family.samples)
        elapsed = time.perf_counter() - start
        if samples == 0:
            sys.exit("parse: no samples")
        best = max(best, size_mb / elapsed)
    print("%.3f" % best)


if __name__ == "__main__":
    main()
