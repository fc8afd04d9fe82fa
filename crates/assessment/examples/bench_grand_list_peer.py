"""The peer of bench_grand_list.rs: the same grand-list totals with pandas.

Reads the items CSV the Rust harness wrote (once, not timed), then times
the abstract: accounts, gross, exemptions and net by class (PA 490 land as
`use:<class>`), the totals, and exemptions by program (the `exemptions`
column holds `PROGRAM:cents;…`), and the billed total at 30.00 mills (each
account's tax half up to the cent, summed). Prints the median of RUNS runs.

    python3 bench_grand_list_peer.py /tmp/gl-items.csv 21
"""

import sys
import time

import pandas as pd


def abstract(df):
    cls = df["property_class"].where(df["pa490"] == "", "use:" + df["pa490"])
    lines = (
        df.assign(cls=cls)
        .groupby("cls")
        .agg(accounts=("account", "size"), gross=("gross_cents", "sum"),
             exemptions=("exemptions_cents", "sum"), net=("net_cents", "sum"))
    )
    total = lines.sum()
    granted = df.loc[df["exemptions"] != "", "exemptions"].str.split(";").explode()
    parts = granted.str.split(":", expand=True)
    programs = parts.assign(cents=parts[1].astype("int64")).groupby(0)["cents"].agg(["size", "sum"])
    return lines, total, programs


def billed(df):
    # net × 30 mills ÷ 1000 = net × 3 / 100, half up to the cent (integers, as the Rust side).
    return int(((df["net_cents"] * 3 + 50) // 100).sum())


def main():
    path = sys.argv[1]
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 21
    df = pd.read_csv(path, dtype={"pa490": str, "exemptions": str}, keep_default_na=False)
    ta, tb = [], []
    for _ in range(runs):
        t = time.perf_counter()
        lines, total, programs = abstract(df)
        ta.append(time.perf_counter() - t)
        t = time.perf_counter()
        b = billed(df)
        tb.append(time.perf_counter() - t)
    print(lines)
    print("total", total.to_dict(), "billed", b)
    ta.sort()
    tb.sort()
    print(f"pandas {pd.__version__}: abstract median {ta[len(ta)//2]*1e3:.1f} ms of {runs}; billed total median {tb[len(tb)//2]*1e3:.1f} ms")


if __name__ == "__main__":
    main()
