#!/usr/bin/env python3
"""Build crates/platform/seed/crcog_towns.csv from the reference data in /work/shared/data.

The 38 towns of the Capitol planning region (CRCOG, county-equivalent FIPS 09110) with
2018 population (OPM Fiscal Indicators FY2018) and SFY 2017-2018 Net Grand List, Actual
Mill Rate and Equalized Net Grand List (OPM Municipal Fiscal Indicators, long format).

Standard library only. Numbers are handled as text / decimal.Decimal, never float, so the
mill rate is written exactly as it appears in the source (e.g. "74.29").

Usage: python3 scripts/seed/extract_crcog_towns.py [--data-dir DIR] [--out FILE]
Defaults: --data-dir /work/shared/data (or $MUNISHARE_SHARED_DATA),
          --out crates/platform/seed/crcog_towns.csv relative to the repo root.
"""
import argparse
import csv
import os
import sys
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
CAPITOL_CE_FIPS = "09110"
YEAR = "SFY 2017-2018"
EXPECTED_TOWNS = 38
COLUMNS = [
    "name",
    "slug",
    "fips",
    "county",
    "population_2018",
    "net_grand_list_2018",
    "mill_rate_2018",
    "equalized_net_grand_list_2018",
    "tax_revenue_2018",
    "intergovernmental_revenue_2018",
    "total_revenue_2018",
    "education_2018",
    "debt_service_2018",
    "total_expenditures_2018",
]
# FISCIN18 column -> output column (FY2018 general-fund figures, whole dollars).
FISCAL_COLUMNS = {
    "Tax_Rev": "tax_revenue_2018",
    "Inter_Gov_Rev": "intergovernmental_revenue_2018",
    "Total_Revenue": "total_revenue_2018",
    "Education": "education_2018",
    "Debt_Service": "debt_service_2018",
    "Total_Expenditures": "total_expenditures_2018",
}
# (Variable, Measure Type) in the grand-list file -> output column.
# Note: "Actual Mill Rate" has Measure Type "Mill Rate"; the grand lists are "Number".
GL_VARIABLES = {
    ("Net Grand List", "Number"): "net_grand_list_2018",
    ("Actual Mill Rate", "Mill Rate"): "mill_rate_2018",
    ("Equalized Net Grand List", "Number"): "equalized_net_grand_list_2018",
}


def fail(msg):
    sys.exit(f"extract_crcog_towns: {msg}")


def read_csv(path):
    # utf-8-sig tolerates a BOM (the .orig upstream file has one; the padded one may not).
    with open(path, newline="", encoding="utf-8-sig") as f:
        return list(csv.DictReader(f))


def slugify(name):
    return "-".join(name.lower().split())


def to_int_exact(text, what):
    """Integer from text such as '3.2310000000000000e+03'; must be integral."""
    d = Decimal(text.strip())
    if d != d.to_integral_value():
        fail(f"{what}: {text!r} is not an integer")
    return int(d)


def to_int_dollars(text, what):
    """Integer dollars; values with cents (the equalized grand list) round half-up."""
    d = Decimal(text.strip())
    if d < 0:
        fail(f"{what}: negative value {text!r}")
    return int(d.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def check_mill_rate(text, what):
    t = text.strip()
    d = Decimal(t)  # raises on anything that is not a plain decimal
    if not (Decimal("1") <= d <= Decimal("200")) or "e" in t.lower():
        fail(f"{what}: implausible mill rate {text!r}")
    return t


def cross_check(row, fiscin_row):
    """The FY2018 values must agree with OPM's own FISCIN18 table.

    ACGLFY18 = net grand list, EGL = equalized net grand list (cents), ACMR = actual mill
    rate, given as "R" or "R / MV" where MV is the capped motor-vehicle mill rate.
    """
    name = row["name"]
    if Decimal(fiscin_row["ACGLFY18"]) != row["net_grand_list_2018"]:
        fail(f"{name}: net grand list differs from FISCIN18 ACGLFY18 {fiscin_row['ACGLFY18']}")
    if abs(Decimal(fiscin_row["EGL"]) - row["equalized_net_grand_list_2018"]) > 1:
        fail(f"{name}: equalized grand list differs from FISCIN18 EGL {fiscin_row['EGL']}")
    acmr = fiscin_row["ACMR"].split("/")[0].strip()
    if Decimal(acmr) != Decimal(row["mill_rate_2018"]):
        fail(f"{name}: mill rate differs from FISCIN18 ACMR {fiscin_row['ACMR']!r}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--data-dir",
        default=os.environ.get("MUNISHARE_SHARED_DATA", "/work/shared/data"),
    )
    ap.add_argument("--out", default=str(REPO_ROOT / "crates/platform/seed/crcog_towns.csv"))
    args = ap.parse_args()
    src = Path(args.data_dir) / "ct_municipal"

    # 1. Towns of the Capitol planning region.
    towns = [
        r
        for r in read_csv(src / "ct_towns_planning_regions.csv")
        if r["ce_fips_2022"] == CAPITOL_CE_FIPS
    ]
    if len(towns) != EXPECTED_TOWNS:
        fail(f"expected {EXPECTED_TOWNS} Capitol towns, found {len(towns)}")

    # 2. Population: OPM FISCIN18, column "2018 Population", Municipality upper-case.
    population = {}
    fiscal = {}
    fiscin = {}
    for r in read_csv(src / "opm_FISCIN18.csv"):
        name = r["Municipality"].strip().upper()
        if name in population:
            fail(f"duplicate municipality {name} in opm_FISCIN18.csv")
        population[name] = r["2018 Population"]
        fiscal[name] = r
        fiscin[name] = r

    # 3. Grand list / mill rate: long format keyed by the 2020 town FIPS.
    wanted_fips = {t["town_fips_2020"] for t in towns}
    gl = {}
    for r in read_csv(src / "ct_municipal_grand_list_mill_rates_2001-2018.csv"):
        if r["Year"] != YEAR or r["FIPS"] not in wanted_fips:
            continue
        col = GL_VARIABLES.get((r["Variable"], r["Measure Type"]))
        if col is None:
            continue
        key = (r["FIPS"], col)
        if key in gl:
            fail(f"duplicate value for {key}")
        gl[key] = (r["Town"], r["Value"])

    out_rows = []
    for t in sorted(towns, key=lambda t: t["town_name"]):
        name = t["town_name"].strip()
        f20 = t["town_fips_2020"]
        row = {
            "name": name,
            "slug": slugify(name),
            "fips": t["town_fips_2022"],
            "county": t["legacy_county_name"].strip(),
        }
        if len(row["fips"]) != 10 or not row["fips"].isdigit():
            fail(f"{name}: bad 2022 FIPS {row['fips']!r}")
        pop = population.get(name.upper())
        if not pop or not pop.strip():
            fail(f"{name}: no 2018 population in opm_FISCIN18.csv")
        row["population_2018"] = to_int_exact(pop, f"{name} population")
        for src_col, out_col in FISCAL_COLUMNS.items():
            value = fiscal[name.upper()].get(src_col, "")
            if not value.strip():
                fail(f"{name}: empty {src_col} in opm_FISCIN18.csv")
            row[out_col] = to_int_dollars(value, f"{name} {src_col}")
        for col in GL_VARIABLES.values():
            if (f20, col) not in gl:
                fail(f"{name}: no {col} for {YEAR}")
            gl_town, value = gl[(f20, col)]
            if gl_town.strip() != name:
                fail(f"{name}: FIPS {f20} is {gl_town!r} in the grand-list file")
            if not value.strip():
                fail(f"{name}: empty {col}")
            if col == "mill_rate_2018":
                row[col] = check_mill_rate(value, f"{name} {col}")
            else:
                row[col] = to_int_dollars(value, f"{name} {col}")
        cross_check(row, fiscin[name.upper()])
        out_rows.append(row)

    # Sanity checks.
    slugs = [r["slug"] for r in out_rows]
    if len(set(slugs)) != len(slugs):
        fail("duplicate slugs")
    hartford = next(r for r in out_rows if r["slug"] == "hartford")
    if hartford["mill_rate_2018"] != "74.29":
        fail(f"Hartford FY2018 mill rate is {hartford['mill_rate_2018']}, expected 74.29")
    for r in out_rows:
        if any(r[c] in ("", None) for c in COLUMNS):
            fail(f"{r['name']}: missing value")

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS, lineterminator="\n")
        w.writeheader()
        w.writerows(out_rows)
    print(f"wrote {len(out_rows)} towns to {out}")


if __name__ == "__main__":
    main()
