#!/usr/bin/env bash
# Records ingest benchmark (issue 6): `munishare import records DIR` filing small text documents
# (no OCR) into the demo region, on SQLite and on PostgreSQL, then the town's search index built
# from the database (`munishare records reindex`). Loopback only; stops by itself; drops its
# PostgreSQL database at the end.
#
#   bench/records_ingest.sh                  # 20,000 documents, 3 rounds per database
#   DOCS=5000 ROUNDS=1 bench/records_ingest.sh
#
# Environment (all optional):
#   BENCH_DIR         work directory, emptied first                      (/tmp/munishare-bench-ingest)
#   DOCS, ROUNDS      documents per round, rounds per database           (20000, 3)
#   PGURL             a PostgreSQL server to use                         (postgres://postgres@127.0.0.1:5432/postgres)
#   MUNISHARE_BIN     a release build of munishare (otherwise built)
#   SEARCH_BENCH_BIN  a release build of the search_bench example, which writes the corpus
#
# The corpus is bench/records_search.sh's (municipal vocabulary with a Zipf law, 40–240 words a
# document), one file per document: the title, a blank line, the body (0.3–1.9 KB). Each round
# files every file into one demo town (rounds take turns among the three records towns, so each
# round starts from the same state of its town) as that town's administrator, in one department,
# with one tag — what a clerk's bulk load of born-digital files looks like. The figure is
# documents filed per second over the whole command (reading, hashing, storing each content in the
# object store under its SHA-256, the rows, one audit event per document, the index log); the
# index build is timed separately.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_DIR=${BENCH_DIR:-/tmp/munishare-bench-ingest}
DOCS=${DOCS:-20000}
ROUNDS=${ROUNDS:-3}
PGURL=${PGURL:-postgres://postgres@127.0.0.1:5432/postgres}
PGDB=munishare_ingest_bench
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}

say() { printf '%s\n' "$*" >&2; }
die() {
    say "FAILED: $*"
    exit 1
}
case "$BENCH_DIR" in /tmp/* | /var/tmp/* | "$HOME"/*) ;; *) die "BENCH_DIR=$BENCH_DIR: keep it under /tmp, /var/tmp or \$HOME (it is wiped)" ;; esac
command -v psql >/dev/null || die "psql is needed (Debian: postgresql-client)"
psql -X -q "$PGURL" -c 'select 1' >/dev/null || die "cannot reach PostgreSQL at $PGURL"

if [ -z "${MUNISHARE_BIN:-}" ] || [ -z "${SEARCH_BENCH_BIN:-}" ]; then
    say "building (release)"
    (cd "$ROOT" && cargo build --release -p munishare --bin munishare -p munishare-records-search --example search_bench >&2) || die "cargo build"
    MUNISHARE_BIN=${MUNISHARE_BIN:-$TARGET_DIR/release/munishare}
    SEARCH_BENCH_BIN=${SEARCH_BENCH_BIN:-$TARGET_DIR/release/examples/search_bench}
fi
rm -rf "$BENCH_DIR"
mkdir -p "$BENCH_DIR/files"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

say "corpus: $DOCS documents"
"$SEARCH_BENCH_BIN" --out "$BENCH_DIR/gen" --docs "$DOCS" --towns 1 --corpus-only true >/dev/null
awk -F'\t' -v dir="$BENCH_DIR/files" '{ f = dir "/" $2 ".txt"; print $5 "\n\n" $6 > f; close(f) }' \
    "$BENCH_DIR/gen/corpus/0.tsv"
FILES_BYTES=$(du -sb "$BENCH_DIR/files" | cut -f1)
[ "$(find "$BENCH_DIR/files" -type f | wc -l)" -eq "$DOCS" ] || die "the corpus has the wrong number of files"

TOWNS=(west-hartford hartford east-hartford)
now() { date +%s.%N; }
median() { sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else printf "%.3f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

run_db() { # name, then the environment for munishare
    local name=$1
    shift
    local data="$BENCH_DIR/data-$name"
    rm -rf "$data"
    mkdir -p "$data"
    say "$name: seeding the demo region"
    env "$@" MUNISHARE_DATA_DIR="$data" "$MUNISHARE_BIN" demo >/dev/null 2>&1 || die "$name: munishare demo"
    : >"$BENCH_DIR/$name-import.txt"
    : >"$BENCH_DIR/$name-index.txt"
    for round in $(seq 1 "$ROUNDS"); do
        local town=${TOWNS[$(((round - 1) % 3))]}
        local t0 t1
        t0=$(now)
        env "$@" MUNISHARE_DATA_DIR="$data" "$MUNISHARE_BIN" import records --town "$town" --as "townadmin.$town" \
            --department CLK --tags "bench" "$BENCH_DIR/files" >"$BENCH_DIR/$name-$round.out" 2>/dev/null \
            || die "$name round $round: import (see $BENCH_DIR/$name-$round.out)"
        t1=$(now)
        awk -v a="$t0" -v b="$t1" -v n="$DOCS" 'BEGIN { printf "%.1f\n", n / (b - a) }' >>"$BENCH_DIR/$name-import.txt"
        t0=$(now)
        env "$@" MUNISHARE_DATA_DIR="$data" "$MUNISHARE_BIN" records reindex --town "$town" >/dev/null 2>&1 \
            || die "$name round $round: reindex"
        t1=$(now)
        awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }' >>"$BENCH_DIR/$name-index.txt"
        say "$name round $round ($town): $(tail -1 "$BENCH_DIR/$name-import.txt") documents/s filed; index built in $(tail -1 "$BENCH_DIR/$name-index.txt") s"
    done
    INDEX_BYTES=$(du -sb "$data/search" | cut -f1)
    echo "$name documents_per_s_median=$(median <"$BENCH_DIR/$name-import.txt") runs=[$(paste -sd' ' "$BENCH_DIR/$name-import.txt")] index_s_median=$(median <"$BENCH_DIR/$name-index.txt") index_bytes_all_rounds=$INDEX_BYTES"
}

run_db sqlite
PG_ADMIN=$PGURL
PG_BENCH="${PGURL%/*}/$PGDB"
psql -X -q "$PG_ADMIN" -c "DROP DATABASE IF EXISTS $PGDB" >/dev/null
psql -X -q "$PG_ADMIN" -c "CREATE DATABASE $PGDB" >/dev/null
trap 'psql -X -q "$PG_ADMIN" -c "DROP DATABASE IF EXISTS $PGDB" >/dev/null 2>&1 || true' EXIT
run_db postgres MUNISHARE_DATABASE_URL="$PG_BENCH"

echo "docs_per_round=$DOCS rounds=$ROUNDS corpus_bytes=$FILES_BYTES"
echo "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo); load before: $LOAD_BEFORE; after: $(cut -d' ' -f1-3 /proc/loadavg); nice $(nice); autogroup $(cat /proc/sys/kernel/sched_autogroup_enabled 2>/dev/null || echo n/a)"
