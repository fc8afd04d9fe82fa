"""Peer for bench_bills.rs: the same 10,000 bills drawn with Python's reportlab.

Draws what munishare-taxbill draws, at the same places, in the same standard fonts
(Helvetica, Helvetica-Bold, Courier; nothing embedded) with uncompressed page streams as
ours are: header and tax collector, window address, account and property block, assessment
and installment tables with rules, the computation line, the wrapped interest note and note,
and two remittance stubs with dashed cut lines and a scan line. Validation is not mirrored
(reportlab has none); the amounts are computed the same way, in integers.

    python3 -m venv /tmp/peer-rl && /tmp/peer-rl/bin/pip install reportlab
    /tmp/peer-rl/bin/python crates/taxbill/examples/bench_bills_peer.py

BILLS=1000 runs fewer bills. Prints the median bills/s of 5 runs, one thread, for one PDF per
bill and for one PDF holding every bill.
"""

import datetime
import io
import os
import statistics
import time

from reportlab.lib.pagesizes import letter
from reportlab.lib.utils import simpleSplit
from reportlab.pdfgen import canvas

RUNS = 5
FIRST = ["Désirée", "Thomas", "José", "Ana", "François", "Mary", "Kwame", "Siobhán"]
LAST = ["O'Neil", "Núñez", "Ferreira", "Lefèvre", "Kowalski", "Mensah", "Brennan", "Smith"]
STREETS = ["Wolcott Hill Rd", "Main St", "Silas Deane Hwy", "Ridge Rd", "Prospect St", "Folly Brook Blvd"]
INTEREST_NOTE = (
    "Interest is charged on any installment not paid by its last day to pay without interest: "
    "1.5% per month (18% per year) from the due date, with a minimum of $2.00 (CGS 12-146)."
)
NOTE = "Pay online at www.wethersfieldct.gov or at the Tax Office, Monday to Friday, 8:00 to 4:30."
H = 792.0


def money(cents):
    return "${:,}.{:02d}".format(cents // 100, cents % 100)


def day(d):
    return "{} {}, {}".format(d.strftime("%B"), d.day, d.year)


def mod97(text):
    r = 0
    for c in text:
        if c.isdigit():
            r = (r * 10 + int(c)) % 97
        elif c.isalpha():
            r = (r * 100 + int(c, 36)) % 97
    return r


def bill(i):
    land = 60_000 + (i * 37) % 90_000
    building = 120_000 + (i * 7_919) % 400_000
    exemption = -3_000 if i % 7 == 0 else 0
    net = land + building + exemption
    gross = (net * 3_537 + 500) // 1_000
    first = gross - gross // 2
    street = STREETS[i % len(STREETS)]
    number = 1 + i % 400
    lines = [("Land", land), ("Building", building)]
    if exemption:
        lines.append(("Veteran exemption (CGS 12-81(19))", exemption))
    return {
        "account": "RE-%06d" % i,
        "bill": "2025-%06d" % i,
        "owner": "%s %s" % (FIRST[i % 8], LAST[(i // 8) % 8]),
        "address": ["%d %s" % (number, street), "Wethersfield, CT 06109"],
        "location": "%d %s" % (number, street.upper()),
        "parcel": "%d-%d-%d" % (1 + i % 90, 1 + i % 12, 1 + i % 250),
        "lines": lines,
        "net": net,
        "gross": gross,
        "installments": [
            (datetime.date(2026, 7, 1), first, datetime.date(2026, 8, 3)),
            (datetime.date(2027, 1, 1), gross - first, datetime.date(2027, 2, 1)),
        ],
    }


def draw(c, b):
    t = lambda font, size, x, top, s: (c.setFont(font, size), c.drawString(x, H - top, s))
    r = lambda font, size, x, top, s: (c.setFont(font, size), c.drawRightString(x, H - top, s))
    t("Helvetica-Bold", 16, 36, 54, "Town of Wethersfield")
    t("Helvetica-Bold", 11, 36, 72, "Property Tax Bill \u2014 Grand List of October 1, 2025")
    t("Helvetica", 9, 36, 86, "Real estate tax")
    t("Helvetica-Bold", 8, 376, 46, "Make payments to")
    for k, s in enumerate(["Tax Collector, Town of Wethersfield", "505 Silas Deane Highway",
                           "Wethersfield, CT 06109", "Telephone (860) 721-2817"]):
        t("Helvetica", 9, 376, 58 + 11 * k, s)
    for k, s in enumerate([b["owner"]] + b["address"]):
        t("Helvetica", 9, 72, 187.5 + 9.5 * k, s)
    info = [("Account", b["account"]), ("Bill number", b["bill"]), ("Bill class", "Real estate"),
            ("Location", b["location"]), ("Map-block-lot", b["parcel"])]
    for k, (label, value) in enumerate(info):
        t("Helvetica-Bold", 8, 340, 150 + 12 * k, label)
        t("Helvetica", 9, 406, 150 + 12 * k, value)
    c.setLineWidth(0.8)
    c.line(36, H - 240, 576, H - 240)
    # Assessment table.
    t("Helvetica-Bold", 10, 36, 258, "Assessment")
    top = 272
    t("Helvetica-Bold", 8, 36, top, "Description")
    r("Helvetica-Bold", 8, 290, top, "Assessed value")
    c.setLineWidth(0.4)
    c.line(36, H - top - 3, 290, H - top - 3)
    for label, amount in b["lines"]:
        top += 11.5
        t("Helvetica", 9, 36, top, label)
        r("Helvetica", 9, 290, top, "{:,}".format(amount))
    c.line(36, H - top - 4, 290, H - top - 4)
    top += 14.5
    t("Helvetica-Bold", 9, 36, top, "Net assessment")
    r("Helvetica-Bold", 9, 290, top, "{:,}".format(b["net"]))
    # Installment table.
    t("Helvetica-Bold", 10, 320, 258, "Installments")
    top = 272
    for x, s in [(320, "No."), (336, "Due date"), (416, "Last day without interest")]:
        t("Helvetica-Bold", 8, x, top, s)
    r("Helvetica-Bold", 8, 576, top, "Amount")
    c.line(320, H - top - 3, 576, H - top - 3)
    for k, (due, amount, last) in enumerate(b["installments"]):
        top += 11.5
        t("Helvetica", 9, 320, top, str(k + 1))
        t("Helvetica", 9, 336, top, day(due))
        t("Helvetica", 9, 416, top, day(last))
        r("Helvetica", 9, 576, top, money(amount))
    c.line(320, H - top - 4, 576, H - top - 4)
    top += 14.5
    t("Helvetica-Bold", 9, 320, top, "Total tax")
    r("Helvetica-Bold", 9, 576, top, money(b["gross"]))
    # Computation and notes.
    rows = max(len(b["lines"]), len(b["installments"]))
    top = 258 + 14 + rows * 11.5 + 14.5 + 24
    t("Helvetica-Bold", 10, 36, top,
      "Net assessment {:,} \u00d7 mill rate 35.37 \u00f7 1,000 = tax {}".format(b["net"], money(b["gross"])))
    top += 16
    for line in simpleSplit(INTEREST_NOTE, "Helvetica", 8.5, 540):
        t("Helvetica", 8.5, 36, top, line)
        top += 10
    top += 6
    for line in simpleSplit(NOTE, "Helvetica", 8.5, 540):
        t("Helvetica", 8.5, 36, top, line)
        top += 10
    # Stubs.
    stubs = 792 - 24 - 100
    t("Helvetica", 7, 36, stubs - 4, "Detach along the dashed line and return the stub with your payment.")
    c.saveState()
    c.setLineWidth(0.6)
    c.setDash(4, 3)
    c.line(0, H - stubs, 612, H - stubs)
    c.line(306, H - stubs, 306, 0)
    c.restoreState()
    for k, (due, amount, last) in enumerate(b["installments"]):
        left = 36 + k * 270 + 8
        right = 36 + (k + 1) * 270 - 8
        t("Helvetica-Bold", 9, left, stubs + 15, "Town of Wethersfield")
        t("Helvetica", 8.5, left, stubs + 26, "Property tax payment stub \u2014 installment %d of 2" % (k + 1))
        t("Helvetica", 8.5, left, stubs + 38, "Account %s    Bill %s" % (b["account"], b["bill"]))
        t("Helvetica", 8.5, left, stubs + 49, b["owner"])
        t("Helvetica", 8.5, left, stubs + 62, "Due " + day(due))
        r("Helvetica-Bold", 10, right, stubs + 62, "Amount due " + money(amount))
        t("Helvetica", 8, left, stubs + 74, "Pay by %s without interest" % day(last))
        body = "%s %s %d %010d %s" % (b["account"], b["bill"], k + 1, amount, due.strftime("%Y%m%d"))
        t("Courier", 8, left, stubs + 89, "%s %02d" % (body, 98 - mod97(body + "00")))


def new_canvas(out):
    return canvas.Canvas(out, pagesize=letter, pageCompression=0, invariant=1)


def render_each(bills):
    total = 0
    for b in bills:
        out = io.BytesIO()
        c = new_canvas(out)
        draw(c, b)
        c.showPage()
        c.save()
        total += len(out.getvalue())
    return total


def render_many(bills):
    out = io.BytesIO()
    c = new_canvas(out)
    for b in bills:
        draw(c, b)
        c.showPage()
    c.save()
    return len(out.getvalue())


def main():
    count = int(os.environ.get("BILLS", "10000"))
    bills = [bill(i) for i in range(count)]
    results = {}
    for name, fn in [("each", render_each), ("many", render_many)]:
        rates = []
        for run in range(1, RUNS + 1):
            start = time.perf_counter()
            size = fn(bills)
            rate = count / (time.perf_counter() - start)
            print("run %d: %-5s %9.0f bills/s (%d bytes/bill)" % (run, name, rate, size // count), flush=True)
            rates.append(rate)
        results[name] = statistics.median(rates)
    print("%d bills, 1 thread, median of %d: one PDF each %.0f bills/s; one PDF for all %.0f bills/s"
          % (count, RUNS, results["each"], results["many"]))
    print("RESULT each=%.0f many=%.0f" % (results["each"], results["many"]))


if __name__ == "__main__":
    main()
