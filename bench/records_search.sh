#!/usr/bin/env bash
# Records search benchmark (issue 6): the town indexes (munishare-records-search, tantivy) against
# PostgreSQL full-text search (tsvector + GIN, ts_rank) on the same corpus and queries. Loopback
# only; stops by itself; drops its database at the end.
#
#   bench/records_search.sh                         # 1,000,000 documents across 38 towns
#   DOCS=100000 bench/records_search.sh             # a quick look
#
# Environment (all optional):
#   BENCH_DIR   work directory, emptied first              (/tmp/munishare-bench-search)
#   DOCS, TOWNS, QUERIES, ROUNDS, SEED                      (1000000, 38, 200, 5, 1)
#   PGURL       a PostgreSQL server to use                  (postgres://postgres@127.0.0.1:5432/postgres)
#   SEARCH_BENCH_BIN  a built example (otherwise `cargo build --release --example search_bench`)
#
# PostgreSQL gets its best shot: one table `docs(town, id, department, day, title, body, tsv)` with
# `tsv` = title (weight A) + body (weight B), English configuration, stored; one GIN index over
# (town, department, tsv) with btree_gin, so the town and department filters are inside the index;
# ANALYZE. Each query (`plainto_tsquery` for words, `phraseto_tsquery` for phrases) returns the 20
# best by `ts_rank` — lighter work than ours, which also counts every hit, computes facets and cuts
# snippets; this is the comparison the target is read against. For context the script also times
# PostgreSQL producing more of our page: the same 20 with the total (`count(*) OVER ()`) and a
# `ts_headline` each (still no facets). Both sides run every query once to warm up, then ROUNDS
# times timed, and keep each query's median (p50 and p95 are over those medians, so one stall of a
# shared machine does not become a query's time); PostgreSQL's times are psql's `\timing`
# (client-observed over loopback), ours are measured around the search call.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_DIR=${BENCH_DIR:-/tmp/munishare-bench-search}
DOCS=${DOCS:-1000000}
TOWNS=${TOWNS:-38}
QUERIES=${QUERIES:-200}
ROUNDS=${ROUNDS:-5}
SEED=${SEED:-1}
PGURL=${PGURL:-postgres://postgres@127.0.0.1:5432/postgres}
DB=munishare_search_bench
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}

say() { printf '%s\n' "$*" >&2; }
die() {
    say "FAILED: $*"
    exit 1
}
case "$BENCH_DIR" in /tmp/* | /var/tmp/* | "$HOME"/*) ;; *) die "BENCH_DIR=$BENCH_DIR: keep it under /tmp, /var/tmp or \$HOME (it is wiped)" ;; esac
command -v psql >/dev/null || die "psql is needed (Debian: postgresql-client)"
psql -X -q "$PGURL" -c 'select 1' >/dev/null || die "cannot reach PostgreSQL at $PGURL"

if [ -z "${SEARCH_BENCH_BIN:-}" ]; then
    say "building the benchmark (release)"
    (cd "$ROOT" && cargo build --release -p munishare-records-search --example search_bench >&2) || die "cargo build"
    SEARCH_BENCH_BIN=$TARGET_DIR/release/examples/search_bench
fi
rm -rf "$BENCH_DIR"
mkdir -p "$BENCH_DIR"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

# --- ours ---------------------------------------------------------------------------------------
say "corpus, index and searches: $DOCS documents, $TOWNS towns, $QUERIES queries per class"
"$SEARCH_BENCH_BIN" --out "$BENCH_DIR" --docs "$DOCS" --towns "$TOWNS" --queries "$QUERIES" --rounds "$ROUNDS" --seed "$SEED" \
    | tee "$BENCH_DIR/ours.txt" >&2
ours() { sed -n "s/^$1=//p" "$BENCH_DIR/ours.txt"; }

# --- PostgreSQL ---------------------------------------------------------------------------------
DBURL=${PGURL%/*}/$DB
psql -X -q "$PGURL" -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB" >/dev/null
trap 'psql -X -q "$PGURL" -c "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true' EXIT
say "PostgreSQL: load, tsvector, GIN index"
started=$(date +%s.%N)
psql -X -q -v ON_ERROR_STOP=1 "$DBURL" >&2 <<'SQL'
CREATE EXTENSION btree_gin;
CREATE TABLE docs (town int NOT NULL, id text NOT NULL, department text NOT NULL, day int NOT NULL,
                   title text NOT NULL, body text NOT NULL);
SQL
cat "$BENCH_DIR"/corpus/*.tsv | psql -X -q -v ON_ERROR_STOP=1 "$DBURL" -c "\\copy docs FROM STDIN" >&2
psql -X -q -v ON_ERROR_STOP=1 "$DBURL" >&2 <<'SQL'
ALTER TABLE docs ADD COLUMN tsv tsvector GENERATED ALWAYS AS
    (setweight(to_tsvector('english', title), 'A') || setweight(to_tsvector('english', body), 'B')) STORED;
CREATE INDEX docs_fts ON docs USING gin (town, department, tsv);
ANALYZE docs;
SQL
PG_SECONDS=$(awk -v a="$(date +%s.%N)" -v b="$started" 'BEGIN {printf "%.1f", a - b}')
PG_BYTES=$(psql -X -A -t "$DBURL" -c "SELECT pg_total_relation_size('docs')")
PG_ROWS=$(psql -X -A -t "$DBURL" -c "SELECT count(*) FROM docs")
[ "$PG_ROWS" = "$DOCS" ] || die "PostgreSQL holds $PG_ROWS documents, expected $DOCS"

say "PostgreSQL: searches"
# One session per variant: every query once to warm up, then ROUNDS times timed; each query's median.
pg_run() { # variant: top (the 20 best) or page (with the total and headlines)
    awk -F'\t' -v variant="$1" -v rounds="$ROUNDS" '
        function q(s) { gsub(/\047/, "\047\047", s); return "\047" s "\047" }
        {
            text = $4
            if ($1 == "phrase") { gsub(/"/, "", text); f = "phraseto_tsquery" } else f = "plainto_tsquery"
            cols = variant == "page" ? "id, title, ts_headline(\047english\047, body, query), count(*) OVER ()" : "id, title"
            sql = "SELECT " cols " FROM docs, " f "(\047english\047, " q(text) ") query WHERE town = " $2 \
                  " AND department = " q($3) " AND tsv @@ query ORDER BY ts_rank(tsv, query) DESC LIMIT 20;"
            print sql; print "\\timing on"; for (r = 0; r < rounds; r++) print sql; print "\\timing off"
        }' "$BENCH_DIR/queries.tsv" >"$BENCH_DIR/pg_$1.sql"
    psql -X -q -A -t -o /dev/null "$DBURL" -f "$BENCH_DIR/pg_$1.sql" \
        | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' \
        | awk -v rounds="$ROUNDS" '
            { t[++n] = $1 + 0 }
            n == rounds {
                for (i = 2; i <= n; i++) { v = t[i]; j = i - 1; while (j > 0 && t[j] > v) { t[j + 1] = t[j]; j-- } t[j + 1] = v }
                print t[int(n / 2) + 1]; n = 0
            }
        ' >"$BENCH_DIR/pg_$1_times.txt"
    [ "$(wc -l <"$BENCH_DIR/pg_$1_times.txt")" = "$(wc -l <"$BENCH_DIR/queries.tsv")" ] ||
        die "psql timed $(wc -l <"$BENCH_DIR/pg_$1_times.txt") of $(wc -l <"$BENCH_DIR/queries.tsv") queries ($1)"
    paste <(cut -f1 "$BENCH_DIR/queries.tsv") "$BENCH_DIR/pg_$1_times.txt" >"$BENCH_DIR/pg_$1.tsv"
}
pg_run top
pg_run page
pct() { # variant class percentile
    awk -F'\t' -v c="$2" '$1 == c {print $2}' "$BENCH_DIR/pg_$1.tsv" | sort -n |
        awk -v p="$3" '{v[NR] = $1} END {i = int(NR * p + 0.999999); if (i < 1) i = 1; printf "%.2f", v[i]}'
}
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# --- report -------------------------------------------------------------------------------------
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.1f", a / b}'; }
{
    echo "### $(date -u '+%Y-%m-%d %H:%M UTC'), $DOCS documents across $TOWNS towns, $QUERIES queries per class, each query's median of $ROUNDS"
    echo
    echo "Machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), Linux $(uname -r);" \
        "load average $LOAD_BEFORE before, $LOAD_AFTER after; $(psql -X -A -t "$PGURL" -c 'SHOW server_version' | head -1 | sed 's/^/PostgreSQL /');" \
        "munishare $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')."
    echo "Corpus (seed $SEED): $(ours corpus_bytes) bytes of TSV."
    echo
    echo "| | munishare (tantivy, an index per town; 20 hits + total + facets + snippets) | PostgreSQL (tsvector + GIN; the 20 best) | PostgreSQL ÷ ours | target | PostgreSQL, 20 best + total + headlines | PostgreSQL ÷ ours |"
    echo "| --- | ---: | ---: | ---: | --- | ---: | ---: |"
    echo "| build: load + index, s | $(ours index_seconds) | $PG_SECONDS | | | | |"
    echo "| documents per second | $(ours index_docs_per_s) | $(awk -v d="$DOCS" -v s="$PG_SECONDS" 'BEGIN {printf "%.0f", d / s}') | | | | |"
    echo "| size on disk, MB | $(awk -v b="$(ours index_bytes)" 'BEGIN {printf "%.0f", b / 1e6}') | $(awk -v b="$PG_BYTES" 'BEGIN {printf "%.0f", b / 1e6}') | | | | |"
    for class in single multi phrase; do
        p50=$(ours "${class}_p50_ms")
        p95=$(ours "${class}_p95_ms")
        g50=$(pct top "$class" 0.50)
        g95=$(pct top "$class" 0.95)
        h50=$(pct page "$class" 0.50)
        h95=$(pct page "$class" 0.95)
        echo "| $class, p50 / p95 ms (mean hits $(ours "${class}_mean_hits")) | $p50 / $p95 | $g50 / $g95 | $(ratio "$g50" "$p50") / **$(ratio "$g95" "$p95")** | p95 ≤ 30 ms, ≥ 5× | $h50 / $h95 | $(ratio "$h50" "$p50") / $(ratio "$h95" "$p95") |"
    done
} | tee "$BENCH_DIR/report.md"
