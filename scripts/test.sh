#!/usr/bin/env bash
# MuniShare's single test command. Run from the repo root:
#
#   scripts/test.sh [extra args for cargo nextest run / cargo test]
#
# Makes sure the services and tools the tests need are present, then runs the whole
# workspace's tests:
#   - PostgreSQL on 127.0.0.1:5432 (MUNISHARE_TEST_POSTGRES_URL; started if not running).
#     With MUNISHARE_REQUIRE_POSTGRES=1 (CI) a PostgreSQL that cannot be reached is an error;
#     otherwise the script warns and the PostgreSQL tests skip themselves.
#   - moto_server (S3-compatible test server, from PyPI: moto[server]).
#   - Debian's chromium + chromedriver (browser tests).
#   - Debian's poppler-utils (pdftotext, pdfinfo: the tax-bill tests read the PDFs back;
#     pdftotext, pdftoppm, pdfunite: records text extraction and OCR),
#     tesseract-ocr with tesseract-ocr-eng (records OCR) and qpdf (the records tests encrypt a PDF).
set -euo pipefail

cd "$(dirname "$0")/.."

log() { printf '[test.sh] %s\n' "$*" >&2; }

export MUNISHARE_TEST_POSTGRES_URL="${MUNISHARE_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"

# ---- PostgreSQL -------------------------------------------------------------------------
ensure_postgres() {
    if ! command -v pg_isready >/dev/null 2>&1; then
        log "pg_isready not found (is PostgreSQL installed?)"
        return 1
    fi
    if pg_isready -q -h 127.0.0.1 -p 5432; then
        return 0
    fi
    local version
    # shellcheck disable=SC2012 # cluster version dirs are plain numbers
    version="$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1 || true)"
    if [[ -z "$version" ]]; then
        log "no PostgreSQL cluster under /etc/postgresql"
        return 1
    fi
    log "starting PostgreSQL $version/main"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    local i
    for ((i = 0; i < 30; i++)); do
        if pg_isready -q -h 127.0.0.1 -p 5432; then
            log "PostgreSQL is ready"
            return 0
        fi
        sleep 1
    done
    log "PostgreSQL did not become ready within 30 s"
    return 1
}

if ! ensure_postgres; then
    if [[ "${MUNISHARE_REQUIRE_POSTGRES:-0}" == "1" ]]; then
        log "MUNISHARE_REQUIRE_POSTGRES=1 and PostgreSQL is not available: failing"
        exit 1
    fi
    log "WARNING: PostgreSQL not available; PostgreSQL-backed tests will skip"
    unset MUNISHARE_TEST_POSTGRES_URL
fi

# ---- moto_server (S3-compatible test server) --------------------------------------------
py_scripts="$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))' 2>/dev/null || true)"
if [[ -n "$py_scripts" && ":$PATH:" != *":$py_scripts:"* ]]; then
    export PATH="$py_scripts:$PATH"
fi
# `command -v` alone can be fooled by a pyenv shim for another Python version, so also run it.
if ! { command -v moto_server >/dev/null 2>&1 && moto_server --help >/dev/null 2>&1; }; then
    log "installing moto[server] with pip"
    python3 -m pip install --quiet --disable-pip-version-check 'moto[server]'
    hash -r
fi
if ! moto_server --help >/dev/null 2>&1; then
    log "moto_server still not available after pip install"
    exit 1
fi

# ---- chromium + chromedriver ------------------------------------------------------------
if [[ ! -x /usr/bin/chromium || ! -x /usr/bin/chromedriver ]]; then
    log "installing chromium and chromium-driver with apt"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
fi

# ---- poppler-utils, tesseract-ocr (+ English), qpdf -------------------------------------
# The product installs nothing at run time; the tests need the real tools.
if [[ ! -x /usr/bin/pdftotext || ! -x /usr/bin/pdfinfo || ! -x /usr/bin/pdftoppm || ! -x /usr/bin/pdfunite \
      || ! -x /usr/bin/tesseract || ! -x /usr/bin/qpdf ]] \
   || ! ls /usr/share/tesseract-ocr/*/tessdata/eng.traineddata >/dev/null 2>&1; then
    log "installing poppler-utils, tesseract-ocr, tesseract-ocr-eng and qpdf with apt"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq poppler-utils tesseract-ocr tesseract-ocr-eng qpdf >/dev/null
fi

# ---- run the tests ----------------------------------------------------------------------
if cargo nextest --version >/dev/null 2>&1; then
    log "running: cargo nextest run --workspace --no-fail-fast $*"
    exec cargo nextest run --workspace --no-fail-fast "$@"
else
    log "cargo-nextest not found; running: cargo test --workspace --no-fail-fast $*"
    exec cargo test --workspace --no-fail-fast "$@"
fi
