#!/usr/bin/env bash
# Backup benchmark (issue 5): this client (`munishare backup`) against restic, side by side, on the
# deterministic corpus of crates/backup/examples/corpus.rs. Local repositories only; stops by itself.
#
#   bench/backup.sh                     # 3 rounds of both tools on a 1 GiB corpus
#   RUNS=1 SIZE_MIB=256 bench/backup.sh # a quick look
#   TOOLS=restic bench/backup.sh        # restic alone
#
# Environment (all optional):
#   BENCH_DIR      work directory, emptied first        (/tmp/munishare-bench-backup)
#   RUNS           rounds per tool                        (3)
#   SIZE_MIB, SEED corpus size and seed                   (1024, 1)
#   TOOLS          which tools, in round-1 order          ("munishare restic")
#   MUNISHARE_BIN  a built munishare binary (otherwise `cargo build --release -p munishare`)
#   CORPUS_BIN     a built corpus generator (otherwise `cargo build --release --example corpus`)
#   DROP_CACHES=1  drop the page cache before each timed step, when the kernel lets us
#   STEP_TIMEOUT   seconds before a step counts as hung and the run fails (1800)
#
# On a shared machine, run it as `nice -n -15 bench/backup.sh` with builds niced and
# `sysctl kernel.sched_autogroup_enabled=0` (otherwise each terminal session gets an equal CPU share
# whatever its niceness); the report records both settings.
#
# Each round, for each tool (the order alternates between rounds): a fresh day-1 corpus, `init`,
# first backup (timed), the day-2 change set, incremental backup (timed), repository size (`du -sb`),
# full restore of the latest snapshot into an empty directory (timed), then `diff -r` against the
# source, which must be clean. Times and peak RSS come from `/usr/bin/time -v`. The report (markdown)
# goes to stdout and to $BENCH_DIR/report.md; every command's output stays in $BENCH_DIR/logs.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_DIR=${BENCH_DIR:-/tmp/munishare-bench-backup}
RUNS=${RUNS:-3}
SIZE_MIB=${SIZE_MIB:-1024}
SEED=${SEED:-1}
TOOLS=${TOOLS:-"munishare restic"}
DROP_CACHES=${DROP_CACHES:-0}
STEP_TIMEOUT=${STEP_TIMEOUT:-1800}
PASSWORD=bench-backup-password
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}

say() { printf '%s\n' "$*" >&2; }
die() {
    say "FAILED: $*"
    exit 1
}

# --- tools -----------------------------------------------------------------------------------------
for tool in $TOOLS; do
    case $tool in munishare | restic) ;; *) die "TOOLS: unknown tool $tool (munishare, restic)" ;; esac
done
need_install=()
command -v restic >/dev/null || need_install+=(restic)
[ -x /usr/bin/time ] || need_install+=(time)
if [ ${#need_install[@]} -gt 0 ]; then
    say "installing ${need_install[*]} (Debian packages)"
    sudo_cmd=()
    [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
    "${sudo_cmd[@]}" apt-get install -y "${need_install[@]}" >&2 ||
        { "${sudo_cmd[@]}" apt-get update >&2 && "${sudo_cmd[@]}" apt-get install -y "${need_install[@]}" >&2; } ||
        die "could not install ${need_install[*]}"
fi
RESTIC_VERSION=$(restic version | head -1)

if [ -z "${CORPUS_BIN:-}" ]; then
    say "building the corpus generator"
    (cd "$ROOT" && cargo build --release -p munishare-backup --example corpus >&2) || die "cargo build of the corpus generator"
    CORPUS_BIN=$TARGET_DIR/release/examples/corpus
fi
if [[ " $TOOLS " == *" munishare "* ]] && [ -z "${MUNISHARE_BIN:-}" ]; then
    say "building munishare (release)"
    (cd "$ROOT" && cargo build --release -p munishare >&2) || die "cargo build --release -p munishare"
    MUNISHARE_BIN=$TARGET_DIR/release/munishare
fi
OURS_NOTE=""
if [[ " $TOOLS " == *" munishare "* ]] && ! "$MUNISHARE_BIN" backup --help >/dev/null 2>&1; then
    OURS_NOTE="munishare at $(git -C "$ROOT" rev-parse --short HEAD) has no \`backup\` command yet: its figures are pending."
    say "$OURS_NOTE"
    TOOLS=$(printf '%s\n' $TOOLS | grep -vx munishare | tr '\n' ' ')
fi
[ -n "${TOOLS// /}" ] || die "no tool to measure"

# --- work directory --------------------------------------------------------------------------------
case "$BENCH_DIR" in /tmp/* | /var/tmp/* | "$HOME"/*) ;; *) die "BENCH_DIR=$BENCH_DIR: keep it under /tmp, /var/tmp or \$HOME (it is wiped)" ;; esac
rm -rf "$BENCH_DIR"
mkdir -p "$BENCH_DIR/logs"
SRC=$BENCH_DIR/corpus
RESULTS=$BENCH_DIR/results.tsv
: >"$RESULTS"
export MUNISHARE_BACKUP_PASSWORD=$PASSWORD RESTIC_PASSWORD=$PASSWORD
# Both tools keep their caches under the work directory, emptied with each fresh repository.
export XDG_CACHE_HOME=$BENCH_DIR/cache RESTIC_CACHE_DIR=$BENCH_DIR/cache/restic

if (sync && echo 3 >/proc/sys/vm/drop_caches) 2>/dev/null; then
    CACHE_NOTE="\`echo 3 > /proc/sys/vm/drop_caches\` worked"
    if [ "$DROP_CACHES" = 1 ]; then
        CACHE_NOTE="$CACHE_NOTE; the page cache was dropped before each timed step (cold cache)"
    else
        CACHE_NOTE="$CACHE_NOTE, but runs are warm-cache (DROP_CACHES=1 for cold runs)"
    fi
else
    CACHE_NOTE="\`echo 3 > /proc/sys/vm/drop_caches\` is refused here (container): every run is warm-cache, the corpus and repositories sit in the page cache"
    DROP_CACHES=0
fi

# Key=value lines of the generator's output.
field() { sed -n "s/^$1=//p" "$2" | tail -1; }

# timed NAME ROUND TOOL CMD...: runs CMD under /usr/bin/time -v, records seconds and peak RSS.
timed() {
    local step=$1 round=$2 tool=$3
    shift 3
    local log=$BENCH_DIR/logs/$round-$tool-$step
    if [ "$DROP_CACHES" = 1 ]; then sync && echo 3 >/proc/sys/vm/drop_caches; fi
    if ! timeout "$STEP_TIMEOUT" /usr/bin/time -v -o "$log.time" "$@" <"/dev/null" >"$log.out" 2>"$log.err"; then
        say "--- $* ---"
        tail -n 20 "$log.out" "$log.err" >&2 || true
        die "$tool $step (round $round) failed; logs in $log.*"
    fi
    local secs rss cpu cpu_s
    secs=$(awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s}' "$log.time")
    rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$log.time")
    cpu=$(awk -F': ' '/Percent of CPU this job got/ {sub(/%/, "", $2); print $2}' "$log.time")
    cpu_s=$(awk -F': ' '/User time \(seconds\)|System time \(seconds\)/ {t += $2} END {print t}' "$log.time")
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$tool" "$step" "$secs" "$rss" "$cpu" "$cpu_s" >>"$RESULTS"
    say "  $tool $step: ${secs} s, peak RSS $((rss / 1024)) MiB, CPU ${cpu} % (${cpu_s} CPU-s)"
}

# The directory `restore` put the corpus in: restic keeps the absolute path under the target.
restored_root() {
    local target=$1 c
    for c in "$target$SRC" "$target/$(basename "$SRC")" "$target"; do
        if [ -d "$c/it/database-dumps" ]; then
            printf '%s\n' "$c"
            return
        fi
    done
    die "cannot find the restored corpus under $target (looked for it/database-dumps)"
}

run_tool() {
    local round=$1 tool=$2 repo=$BENCH_DIR/repo-$2 target=$BENCH_DIR/restore-$2
    rm -rf "$SRC" "$repo" "$target" "$BENCH_DIR/cache"
    "$CORPUS_BIN" --out "$SRC" --size-mib "$SIZE_MIB" --seed "$SEED" >"$BENCH_DIR/logs/$round-$tool-day1.corpus"
    sync
    local digest
    digest=$(field manifest_sha256 "$BENCH_DIR/logs/$round-$tool-day1.corpus")
    [ -z "${DAY1_DIGEST:-}" ] && DAY1_DIGEST=$digest
    [ "$digest" = "$DAY1_DIGEST" ] || die "day-1 corpus differs between rounds ($digest vs $DAY1_DIGEST): the generator is not deterministic"

    case $tool in
    restic)
        restic init --repository-version 2 -r "$repo" </dev/null >"$BENCH_DIR/logs/$round-$tool-init.out" 2>&1 || die "restic init"
        timed backup1 "$round" "$tool" restic -r "$repo" --compression auto backup --host bench "$SRC"
        ;;
    munishare)
        "$MUNISHARE_BIN" init --repo "$repo" </dev/null >"$BENCH_DIR/logs/$round-$tool-init.out" 2>&1 || die "munishare init (see $BENCH_DIR/logs/$round-$tool-init.out)"
        timed backup1 "$round" "$tool" "$MUNISHARE_BIN" backup --repo "$repo" --host bench "$SRC"
        ;;
    esac

    "$CORPUS_BIN" --out "$SRC" --size-mib "$SIZE_MIB" --seed "$SEED" --day2 >"$BENCH_DIR/logs/$round-$tool-day2.corpus" ||
        die "day 2 of the corpus"
    sync
    digest=$(field manifest_sha256 "$BENCH_DIR/logs/$round-$tool-day2.corpus")
    [ -z "${DAY2_DIGEST:-}" ] && DAY2_DIGEST=$digest
    [ "$digest" = "$DAY2_DIGEST" ] || die "day-2 corpus differs between rounds: the generator is not deterministic"

    case $tool in
    restic) timed backup2 "$round" "$tool" restic -r "$repo" --compression auto backup --host bench "$SRC" ;;
    munishare) timed backup2 "$round" "$tool" "$MUNISHARE_BIN" backup --repo "$repo" --host bench "$SRC" ;;
    esac
    printf '%s\t%s\trepo\t%s\t0\t0\t0\n' "$round" "$tool" "$(du -sb "$repo" | cut -f1)" >>"$RESULTS"

    mkdir -p "$target"
    case $tool in
    restic) timed restore "$round" "$tool" restic -r "$repo" restore latest --target "$target" ;;
    munishare) timed restore "$round" "$tool" "$MUNISHARE_BIN" restore latest --repo "$repo" --target "$target" ;;
    esac
    local root
    root=$(restored_root "$target")
    if ! diff -r "$SRC" "$root" >"$BENCH_DIR/logs/$round-$tool-diff.out" 2>&1; then
        head -n 20 "$BENCH_DIR/logs/$round-$tool-diff.out" >&2
        die "$tool restored a tree that differs from the source (round $round): $BENCH_DIR/logs/$round-$tool-diff.out"
    fi
    say "  $tool restore: diff -r clean"
    rm -rf "$repo" "$target"
}

say "corpus: $SIZE_MIB MiB, seed $SEED; tools: $TOOLS; $RUNS round(s); work dir $BENCH_DIR"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
read -r -a tool_list <<<"$TOOLS"
for round in $(seq 1 "$RUNS"); do
    order=("${tool_list[@]}")
    if [ $((round % 2)) -eq 0 ]; then
        order=()
        for ((i = ${#tool_list[@]} - 1; i >= 0; i--)); do order+=("${tool_list[i]}"); done
    fi
    for tool in "${order[@]}"; do
        say "round $round: $tool"
        run_tool "$round" "$tool"
    done
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# --- references on the day-2 corpus still on disk ----------------------------------------------------
DAY1_BYTES=$(field bytes "$BENCH_DIR/logs/1-${tool_list[0]}-day1.corpus")
DAY1_FILES=$(field files "$BENCH_DIR/logs/1-${tool_list[0]}-day1.corpus")
DAY2_BYTES=$(field bytes "$BENCH_DIR/logs/1-${tool_list[0]}-day2.corpus")
DAY2_FILES=$(field files "$BENCH_DIR/logs/1-${tool_list[0]}-day2.corpus")
CHANGED=$(field changed_files "$BENCH_DIR/logs/1-${tool_list[0]}-day2.corpus")
GEN_RATE=$(field gen_mb_per_s "$BENCH_DIR/logs/1-${tool_list[0]}-day1.corpus")
B3_RATE=$(field manifest_mb_per_s "$BENCH_DIR/logs/1-${tool_list[0]}-day1.corpus")
ZSTD_RATE="n/a"
if command -v zstd >/dev/null; then
    start=$(date +%s.%N)
    zstd_bytes=$(find "$SRC" -type f -print0 | sort -z | xargs -0 cat | zstd -3 -T2 -q -c | wc -c)
    end=$(date +%s.%N)
    ZSTD_RATE=$(awk -v b="$DAY2_BYTES" -v s="$start" -v e="$end" 'BEGIN {printf "%.0f", b / 1e6 / (e - s)}')
    ZSTD_RATIO=$(awk -v b="$DAY2_BYTES" -v z="$zstd_bytes" 'BEGIN {printf "%.2f", b / z}')
fi

# --- report --------------------------------------------------------------------------------------
# median TOOL STEP COLUMN (4 = seconds or bytes, 5 = peak RSS KiB)
median() {
    awk -F'\t' -v t="$1" -v s="$2" -v c="$3" '$2 == t && $3 == s {print $c}' "$RESULTS" | sort -g |
        awk '{v[NR] = $1} END {if (NR == 0) print ""; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2}'
}
# Peak RSS over a round's steps, then the median over rounds.
median_peak() {
    awk -F'\t' -v t="$1" '$2 == t && $3 != "repo" {if ($5 > m[$1]) m[$1] = $5} END {for (r in m) print m[r]}' "$RESULTS" | sort -g |
        awk '{v[NR] = $1} END {if (NR == 0) print ""; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2}'
}
# fastest TOOL STEP: the shortest wall time over rounds (the least disturbed by other load)
fastest() { awk -F'\t' -v t="$1" -v s="$2" '$2 == t && $3 == s && (m == "" || $4 < m) {m = $4} END {print m}' "$RESULTS"; }
fmt() { awk -v v="$1" -v d="${2:-1}" 'BEGIN {if (v == "") print "–"; else printf "%.*f", d, v}'; }
# ratio A B: A/B with two decimals, "–" when either is missing
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (a == "" || b == "" || b == 0) print "–"; else printf "%.2f", a / b}'; }
# met RATIO OP TARGET
met() { awk -v r="$1" -v op="$2" -v t="$3" 'BEGIN {if (r == "–") print "–"; else if ((op == ">=" && r >= t) || (op == "<=" && r <= t)) print "yes"; else print "**no**"}'; }

# rate BYTES SECONDS: MB/s, empty when there is no figure
rate() { awk -v b="$1" -v s="$2" 'BEGIN {if (s == "" || s == 0) print ""; else print b / 1e6 / s}'; }
# scaled VALUE DIVISOR: empty stays empty
scaled() { awk -v v="$1" -v d="$2" 'BEGIN {if (v == "") print ""; else print v / d}'; }

declare -A V
for tool in munishare restic; do
    b1=$(median "$tool" backup1 4)
    b2=$(median "$tool" backup2 4)
    rs=$(median "$tool" restore 4)
    V[$tool.b1]=$b1
    V[$tool.b2]=$b2
    V[$tool.rs]=$rs
    V[$tool.tp1]=$(rate "$DAY1_BYTES" "$b1")
    V[$tool.tp2]=$(rate "$DAY2_BYTES" "$b2")
    V[$tool.tprs]=$(rate "$DAY2_BYTES" "$rs")
    V[$tool.repo]=$(scaled "$(median "$tool" repo 4)" 1e6)
    for step in backup1 backup2 restore; do
        m=$(median "$tool" $step 5)
        V[$tool.m$step]=$(scaled "$m" 1024)
        V[$tool.cpu$step]=$(median "$tool" $step 6)
        V[$tool.cpus$step]=$(median "$tool" $step 7)
        V[$tool.best$step]=$(fastest "$tool" $step)
    done
    m=$(median_peak "$tool")
    V[$tool.mpeak]=$(scaled "$m" 1024)
done

r_tp1=$(ratio "${V[munishare.tp1]}" "${V[restic.tp1]}")
r_inc=$(ratio "${V[restic.b2]}" "${V[munishare.b2]}")
r_repo=$(ratio "${V[munishare.repo]}" "${V[restic.repo]}")
r_rs=$(ratio "${V[munishare.tprs]}" "${V[restic.tprs]}")
r_mem=$(ratio "${V[munishare.mpeak]}" "${V[restic.mpeak]}")
row() { printf '| %s | %s | %s | %s | %s | %s |\n' "$@"; }
# What the incremental added, as each tool's summary says it (round 1).
added() {
    local out=$BENCH_DIR/logs/1-$1-backup2.out v=""
    if [ -f "$out" ]; then
        case $1 in
        restic) v=$(sed -n 's/^Added to the repository: .*(\(.*\) stored).*/\1/p' "$out") ;;
        munishare) v=$(sed -n 's/^Added: *\(.*\) stored.*/\1/p' "$out") ;;
        esac
    fi
    printf '%s\n' "${v:-–}"
}

REPORT=$BENCH_DIR/report.md
{
    echo "### $(date -u '+%Y-%m-%d %H:%M UTC'), $SIZE_MIB MiB corpus, $RUNS round(s), medians"
    echo
    echo "Machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo) RAM, Linux $(uname -r);" \
        "load average $LOAD_BEFORE before, $LOAD_AFTER after. $RESTIC_VERSION; munishare $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')."
    echo "Corpus (seed $SEED): day 1 $DAY1_FILES files, $DAY1_BYTES bytes (manifest $DAY1_DIGEST);" \
        "day 2 $DAY2_FILES files, $DAY2_BYTES bytes, $CHANGED files changed (manifest $DAY2_DIGEST)."
    echo "Page cache: $CACHE_NOTE."
    echo "Scheduling: both tools ran at nice $(nice) (inherited from this script); kernel.sched_autogroup_enabled=$(cat /proc/sys/kernel/sched_autogroup_enabled 2>/dev/null || echo '?')" \
        "(with 0, a niced build elsewhere on the machine yields to the benchmark; with 1 it keeps its share)."
    [ -z "$OURS_NOTE" ] || echo "**$OURS_NOTE**"
    echo
    row measure munishare "restic ($(restic version | awk '{print $2}'), --compression auto, repo v2)" "ours/restic" target met
    row --- ---: ---: ---: --- ---
    row "first backup (day 1), s" "$(fmt "${V[munishare.b1]}" 2)" "$(fmt "${V[restic.b1]}" 2)" "" "" ""
    row "first backup throughput, MB/s" "$(fmt "${V[munishare.tp1]}" 0)" "$(fmt "${V[restic.tp1]}" 0)" "$r_tp1" "≥ 2×" "$(met "$r_tp1" '>=' 2)"
    row "incremental backup (day 2), s" "$(fmt "${V[munishare.b2]}" 2)" "$(fmt "${V[restic.b2]}" 2)" "$r_inc× faster" "≥ 3× faster" "$(met "$r_inc" '>=' 3)"
    row "repository after both, MB" "$(fmt "${V[munishare.repo]}" 1)" "$(fmt "${V[restic.repo]}" 1)" "$r_repo" "≤ 1" "$(met "$r_repo" '<=' 1)"
    row "stored by the incremental (round 1, the tool's summary)" "$(added munishare)" "$(added restic)" "" "" ""
    row "full restore (day 2), s" "$(fmt "${V[munishare.rs]}" 2)" "$(fmt "${V[restic.rs]}" 2)" "" "" ""
    row "restore throughput, MB/s" "$(fmt "${V[munishare.tprs]}" 0)" "$(fmt "${V[restic.tprs]}" 0)" "$r_rs" "≥ 1.5×" "$(met "$r_rs" '>=' 1.5)"
    row "peak RSS first backup, MiB" "$(fmt "${V[munishare.mbackup1]}" 0)" "$(fmt "${V[restic.mbackup1]}" 0)" "$(ratio "${V[munishare.mbackup1]}" "${V[restic.mbackup1]}")" "" ""
    row "peak RSS incremental, MiB" "$(fmt "${V[munishare.mbackup2]}" 0)" "$(fmt "${V[restic.mbackup2]}" 0)" "$(ratio "${V[munishare.mbackup2]}" "${V[restic.mbackup2]}")" "" ""
    row "peak RSS restore, MiB" "$(fmt "${V[munishare.mrestore]}" 0)" "$(fmt "${V[restic.mrestore]}" 0)" "$(ratio "${V[munishare.mrestore]}" "${V[restic.mrestore]}")" "" ""
    row "peak RSS, any step, MiB" "$(fmt "${V[munishare.mpeak]}" 0)" "$(fmt "${V[restic.mpeak]}" 0)" "$r_mem" "≤ 1" "$(met "$r_mem" '<=' 1)"
    row "fastest round: first backup / incremental / restore, s" \
        "$(fmt "${V[munishare.bestbackup1]}" 2) / $(fmt "${V[munishare.bestbackup2]}" 2) / $(fmt "${V[munishare.bestrestore]}" 2)" \
        "$(fmt "${V[restic.bestbackup1]}" 2) / $(fmt "${V[restic.bestbackup2]}" 2) / $(fmt "${V[restic.bestrestore]}" 2)" \
        "$(ratio "${V[restic.bestbackup1]}" "${V[munishare.bestbackup1]}") / $(ratio "${V[restic.bestbackup2]}" "${V[munishare.bestbackup2]}") / $(ratio "${V[restic.bestrestore]}" "${V[munishare.bestrestore]}")" \
        "speed-ups" ""
    row "CPU time (user + sys): first backup / incremental / restore, s" \
        "$(fmt "${V[munishare.cpusbackup1]}" 2) / $(fmt "${V[munishare.cpusbackup2]}" 2) / $(fmt "${V[munishare.cpusrestore]}" 2)" \
        "$(fmt "${V[restic.cpusbackup1]}" 2) / $(fmt "${V[restic.cpusbackup2]}" 2) / $(fmt "${V[restic.cpusrestore]}" 2)" \
        "$(ratio "${V[munishare.cpusbackup1]}" "${V[restic.cpusbackup1]}") / $(ratio "${V[munishare.cpusbackup2]}" "${V[restic.cpusbackup2]}") / $(ratio "${V[munishare.cpusrestore]}" "${V[restic.cpusrestore]}")" \
        "" ""
    row "CPU first backup / incremental / restore, %" \
        "$(fmt "${V[munishare.cpubackup1]}" 0) / $(fmt "${V[munishare.cpubackup2]}" 0) / $(fmt "${V[munishare.cpurestore]}" 0)" \
        "$(fmt "${V[restic.cpubackup1]}" 0) / $(fmt "${V[restic.cpubackup2]}" 0) / $(fmt "${V[restic.cpurestore]}" 0)" "" "" ""
    echo
    echo "Medians over rounds, except the fastest-round row (the run least disturbed by other load on a shared machine: its ratios are restic's time ÷ ours)."
    echo "Throughput = corpus bytes (day 1 for the first backup, day 2 for restore and incremental) ÷ wall seconds; MB = 10⁶ bytes."
    echo "References on this machine: the generator wrote day 1 at $GEN_RATE MB/s; BLAKE3 (one thread, page cache) $B3_RATE MB/s;" \
        "\`zstd -3 -T2\` over the day-2 corpus ${ZSTD_RATE} MB/s (ratio ${ZSTD_RATIO:-n/a})."
    echo
    echo "Per round (seconds; peak RSS KiB):"
    echo
    echo '```'
    printf 'round\ttool\tstep\tvalue\tpeak_rss_kib\tcpu_pct\tcpu_s\n'
    cat "$RESULTS"
    echo '```'
} >"$REPORT"
cat "$REPORT"
rm -rf "$SRC" "$BENCH_DIR/cache"
