"""Independent reference values for the valuation tests (valuation/tests.rs).

Writes small_sales.csv (40 synthetic sales in one town, drawn with a fixed
numpy seed) and prints what statsmodels OLS gives for the market model on it,
with the design matrix built here from the rules documented in
valuation/regression.rs (not from the Rust code's output):

    python3 -m venv /tmp/valpeer && /tmp/valpeer/bin/pip install numpy pandas statsmodels
    /tmp/valpeer/bin/python crates/assessment/src/valuation/testdata/reference.py

numpy 2.4.6, pandas 3.1.1, statsmodels 0.15.0 gave the values pasted in tests.rs.
"""
import datetime as dt
import os

import numpy as np
import pandas as pd
import statsmodels.api as sm
from statsmodels.stats.outliers_influence import variance_inflation_factor

HERE = os.path.dirname(os.path.abspath(__file__))
VD = dt.date(2025, 10, 1)


def generate():
    rng = np.random.default_rng(20251001)
    nbhd = ["N1"] * 18 + ["N2"] * 12 + ["N3"] * 6 + ["N4"] * 4
    style = ["Colonial"] * 20 + ["Cape Cod"] * 10 + ["Ranch"] * 6 + ["Cottage"] * 4
    rng.shuffle(style)
    rows = []
    for i in range(40):
        living = int(rng.integers(1100, 3400))
        land = int(rng.integers(9000, 90000))
        year = int(rng.integers(1920, 2021))
        q = int(rng.integers(2, 6))
        c = int(rng.integers(2, 6))
        fb = int(rng.integers(1, 4))
        hb = int(rng.integers(0, 2))
        bd = int(rng.integers(2, 6))
        gar = int(rng.integers(0, 3))
        date = VD - dt.timedelta(days=int(rng.integers(1, 730)))
        age = max(0, VD.year - year)
        months = (date - VD).days / 30.4375
        lp = (7.2 + 0.55 * np.log(living) + 0.12 * np.log(land) - 0.004 * age
              + 0.00002 * age * age + 0.07 * q + 0.04 * c + 0.03 * fb + 0.02 * hb
              + 0.01 * bd + 0.03 * gar + 0.005 * months
              + {"N1": 0.0, "N2": 0.1, "N3": -0.1, "N4": 0.05}[nbhd[i]]
              + {"Colonial": 0.0, "Cape Cod": -0.05, "Ranch": 0.02, "Cottage": -0.1}[style[i]]
              + rng.normal(0, 0.08))
        rows.append(dict(town="avon", neighbourhood=nbhd[i], style=style[i], land_sqft=land,
                         living_sqft=living, year_built=year, quality=q, condition=c,
                         full_baths=fb, half_baths=hb, bedrooms=bd, garage_spaces=gar,
                         price=int(round(float(np.exp(lp)), -2)), date=date.isoformat()))
    df = pd.DataFrame(rows)
    df.to_csv(os.path.join(HERE, "small_sales.csv"), index=False)
    return df


def factor(values, min_sales, name):
    """The coding rule of regression.rs: reference = most common level (ties to
    the first in byte order); levels with >= min sales get a dummy; the rest
    pool into an 'other' dummy if they have >= min sales between them, else
    stay with the reference."""
    counts = values.value_counts()
    levels = sorted(counts.index)
    ref = max(levels, key=lambda l: (counts[l], [-ord(ch) for ch in l]))
    own = [l for l in levels if l != ref and counts[l] >= min_sales]
    pooled = [l for l in levels if l != ref and counts[l] < min_sales]
    cols = {f"{name}[{l}]": (values == l).astype(float) for l in own}
    if sum(counts[l] for l in pooled) >= min_sales and pooled:
        cols[f"{name}[other]"] = values.isin(pooled).astype(float)
    return cols


GRADES = ["Low", "Fair", "Average", "Good", "Very Good", "Excellent"]


def month_buckets(before, min_sales):
    counts = before.value_counts().sort_index()
    buckets, cur = [], None
    for m, c in counts.items():
        if cur is None:
            cur = [m, m, 0]
        cur[1] = m
        cur[2] += c
        if cur[2] >= min_sales:
            buckets.append(cur)
            cur = None
    if cur is not None:
        if buckets:
            buckets[-1][1] = cur[1]
            buckets[-1][2] += cur[2]
        else:
            buckets.append(cur)
    cols = {}
    for b in buckets[1:]:
        name = f"month[{b[0]}]" if b[0] == b[1] else f"month[{b[0]}-{b[1]}]"
        cols[name] = ((before >= b[0]) & (before <= b[1])).astype(float)
    return cols


def design(df, min_sales, monthly=False, grade_dummies=False):
    d = pd.to_datetime(df["date"]).dt.date
    age = np.maximum(0, VD.year - df["year_built"]).astype(float)
    X = {"intercept": np.ones(len(df)),
         "ln_living_sqft": np.log(df["living_sqft"]), "ln_land_sqft": np.log(df["land_sqft"]),
         "age": age, "age_squared": age ** 2}
    if not grade_dummies:
        X["quality"] = df["quality"].astype(float)
        X["condition"] = df["condition"].astype(float)
    for c in ["full_baths", "half_baths", "bedrooms", "garage_spaces"]:
        X[c] = df[c].astype(float)
    if monthly:
        before = d.map(lambda s: (VD.year * 12 + VD.month) - (s.year * 12 + s.month))
        X.update(month_buckets(before, min_sales))
    else:
        X["months"] = d.map(lambda s: (s - VD).days / 30.4375)
    X.update(factor(df["style"], min_sales, "style"))
    if grade_dummies:
        X.update(factor(df["quality"].map(lambda g: GRADES[g - 1]), min_sales, "quality"))
        X.update(factor(df["condition"].map(lambda g: GRADES[g - 1]), min_sales, "condition"))
    X.update(factor(df["neighbourhood"], min_sales, "neighbourhood"))
    return pd.DataFrame(X)


def report(title, df, X):
    y = np.log(df["price"].astype(float))
    res = sm.OLS(y, X).fit()
    print(f"== {title}: n={int(res.nobs)} k={X.shape[1]}")
    print(f"r2={float(res.rsquared)!r} adj={float(res.rsquared_adj)!r} "
          f"rmse={float(np.sqrt(res.mse_resid))!r}")
    print(f"smearing={float(np.mean(np.exp(res.resid)))!r}")
    for i, name in enumerate(X.columns):
        vif = ""
        if "[" not in name and name != "intercept":
            vif = f" vif={float(variance_inflation_factor(X.values, i))!r}"
        print(f'("{name}", {float(res.params.iloc[i])!r}, {float(res.bse.iloc[i])!r}, '
              f'{float(res.tvalues.iloc[i])!r}, {float(res.pvalues.iloc[i])!r}),{vif}')
    return res


if __name__ == "__main__":
    df = generate()
    res = report("linear trend, numeric grades, min 8", df, design(df, 8))
    # The value of parcel 0 at the valuation date: its row with months = 0, times smearing.
    x0 = design(df, 8).iloc[0].copy()
    x0["months"] = 0.0
    pred = float(np.exp(x0.values @ res.params.values) * np.mean(np.exp(res.resid)))
    print(f"predict parcel 0 at the valuation date = {pred!r}")
    report("monthly buckets, grade dummies, min 5", df, design(df, 5, monthly=True, grade_dummies=True))
