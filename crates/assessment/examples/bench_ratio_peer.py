"""The peer run for bench_ratio: assesspy (the Cook County Assessor's Python
package) computes the same statistics and intervals on the same CSV.

    python3 -m venv /tmp/peer && /tmp/peer/bin/pip install assesspy
    /tmp/peer/bin/python crates/assessment/examples/bench_ratio_peer.py /tmp/sales350k.csv [RUNS]
"""
import statistics
import sys
import time

import assesspy as ap
import pandas as pd

df = pd.read_csv(sys.argv[1])
runs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
est, sp = df["estimate"], df["sale_price"]
times = []
for _ in range(runs):
    t = time.perf_counter()
    out = {
        "median": float((est / sp).median()),
        "cod": ap.cod(est, sp),
        "cod_ci": ap.cod_ci(est, sp, nboot=1000),
        "prd": ap.prd(est, sp),
        "prd_ci": ap.prd_ci(est, sp, nboot=1000),
        "prb": ap.prb(est, sp),
        "prb_ci": ap.prb_ci(est, sp),
        "mki": ap.mki(est, sp),
    }
    times.append(time.perf_counter() - t)
print(f"{len(df)} sales, {runs} runs: median {statistics.median(times):.3f} s (min {min(times):.3f} s)")
print(out)
