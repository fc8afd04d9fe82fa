"""The peer run for bench_model: statsmodels OLS fits the same market model
on the same CSVs and predicts the same 100,000 parcels; the design matrix is
built here, with pandas, from the coding rules documented in
crates/assessment/src/valuation/regression.rs (not from the Rust output), and
the coefficients are compared with the ones the Rust run wrote.

    cargo run --release -p munishare-assessment --example bench_model -- 7 /tmp
    python3 -m venv /tmp/valpeer && /tmp/valpeer/bin/pip install numpy pandas statsmodels
    /tmp/valpeer/bin/python crates/assessment/examples/bench_model_peer.py /tmp [RUNS]
"""
import statistics
import sys
import time

import numpy as np
import pandas as pd
import statsmodels.api as sm

VD = pd.Timestamp("2025-10-01")
MIN = 10
NUMERIC = ["full_baths", "half_baths", "bedrooms", "garage_spaces"]


def factor(values):
    """Reference = most common level (ties to the first in byte order); levels
    with >= MIN sales get a dummy; the rest form 'other' if they have >= MIN
    sales together, else go with the reference."""
    counts = values.value_counts()
    levels = sorted(counts.index)
    ref = max(levels, key=lambda l: (counts[l], [-ord(ch) for ch in l]))
    own = [l for l in levels if l != ref and counts[l] >= MIN]
    pooled = [l for l in levels if l != ref and counts[l] < MIN]
    other = bool(pooled) and sum(counts[l] for l in pooled) >= MIN
    return ref, own, other


def dummies(col, coding, prefix):
    ref, own, other = coding
    out = {f"{prefix}{l}]": (col == l).to_numpy(float) for l in own}
    if other:
        out[f"{prefix}other]"] = (~col.isin(own + [ref])).to_numpy(float)
    return out


def numeric(df, months):
    age = np.maximum(0, VD.year - df["year_built"].to_numpy()).astype(float)
    cols = {
        "intercept": np.ones(len(df)),
        "ln_living_sqft": np.log(df["living_sqft"].to_numpy(float)),
        "ln_land_sqft": np.log(df["land_sqft"].to_numpy(float)),
        "age": age,
        "age_squared": age**2,
        "quality": df["quality"].to_numpy(float),
        "condition": df["condition"].to_numpy(float),
    }
    for c in NUMERIC:
        cols[c] = df[c].to_numpy(float)
    cols["months"] = months
    return cols


def design(df, codings, months):
    cols = numeric(df, months)
    style, town, nbhd = codings
    cols.update(dummies(df["style"], style, "style["))
    cols.update(dummies(df["town"], town, "town["))
    for t, coding in nbhd.items():
        in_town = (df["town"] == t).to_numpy()
        for k, v in dummies(df["neighbourhood"], coding, f"neighbourhood[{t}/").items():
            cols[k] = v * in_town
    return pd.DataFrame(cols)


def run(parcels, sales):
    t0 = time.perf_counter()
    s = parcels.iloc[sales["parcel"].to_numpy()].reset_index(drop=True)
    # Canonical order, as the Rust fit sorts: date, price, parcel.
    order = np.lexsort((sales["parcel"], sales["price"], sales["date"]))
    s, sl = s.iloc[order].reset_index(drop=True), sales.iloc[order].reset_index(drop=True)
    months = ((sl["date"] - VD).dt.days / 30.4375).to_numpy()
    codings = (
        factor(s["style"]),
        factor(s["town"]),
        {t: factor(g["neighbourhood"]) for t, g in s.groupby("town", sort=True)},
    )
    X = design(s, codings, months)
    ta = time.perf_counter()
    res = sm.OLS(np.log(sl["price"].to_numpy(float)), X).fit()
    ols = time.perf_counter() - ta
    smearing = float(np.mean(np.exp(res.resid)))
    t1 = time.perf_counter()
    Xp = design(parcels, codings, np.zeros(len(parcels)))[X.columns]
    pred = np.exp(Xp.to_numpy() @ res.params.to_numpy()) * smearing
    t2 = time.perf_counter()
    return res, smearing, pred, t1 - t0, t2 - t1, ols


def main():
    d = sys.argv[1] if len(sys.argv) > 1 else "/tmp"
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    parcels = pd.read_csv(f"{d}/bench_model_parcels.csv", dtype={"neighbourhood": str})
    sales = pd.read_csv(f"{d}/bench_model_sales.csv", parse_dates=["date"])
    fits, preds, olss = [], [], []
    for _ in range(runs):
        res, smearing, pred, tf, tp, ols = run(parcels, sales)
        fits.append(tf)
        preds.append(tp)
        olss.append(ols)
    print(f"statsmodels {sm.__version__}, {len(parcels)} parcels, {len(sales)} sales, "
          f"{len(res.params)} terms, {runs} runs")
    print(f"  fit (design + OLS): median {statistics.median(fits):.4f} s"
          f" (of which OLS {statistics.median(olss):.4f} s)")
    print(f"  predict all parcels: median {statistics.median(preds):.4f} s")
    print(f"  total: median {statistics.median([a + b for a, b in zip(fits, preds)]):.4f} s")

    rust = pd.read_csv(f"{d}/bench_model_coefs.csv").set_index("term")
    worst, worst_se = 0.0, 0.0
    for name, b in res.params.items():
        r = rust.loc[name]
        worst = max(worst, abs(r["coefficient"] - b) / abs(b))
        worst_se = max(worst_se, abs(r["std_error"] - res.bse[name]) / res.bse[name])
    missing = set(rust.index) - set(res.params.index) - {"(smearing)", "(prediction 0)", "(prediction 99999)"}
    checks = {
        "smearing": (rust.loc["(smearing)", "coefficient"], smearing),
        "prediction 0": (rust.loc["(prediction 0)", "coefficient"], pred[0]),
        "prediction 99999": (rust.loc["(prediction 99999)", "coefficient"], pred[-1]),
    }
    print(f"  terms only in Rust: {sorted(missing) or 'none'}")
    print(f"  largest relative difference: coefficients {worst:.2e}, standard errors {worst_se:.2e}")
    for k, (a, b) in checks.items():
        print(f"  {k}: Rust {a:.6f}, statsmodels {b:.6f}, relative difference {abs(a - b) / abs(b):.2e}")
    ok = worst < 1e-6 and worst_se < 1e-6 and not missing and all(
        abs(a - b) / abs(b) < 1e-6 for a, b in checks.values())
    print("  agreement to 1e-6 relative:", "yes" if ok else "NO")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
