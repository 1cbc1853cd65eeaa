#!/usr/bin/env bash
# Install everything the tests need and run them all. Called by .ci/run.
# System packages: Debian's Chromium (browser tests drive /usr/bin/chromium through
# Playwright's executable_path; never `playwright install`) and Khmer fonts (so Khmer
# labels render in screenshots and charts) and an emoji font. Python packages: requirements.txt in .venv.
# Extra arguments go to pytest (e.g. -k loader, -m "not browser", -x).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

source scripts/venv.sh

have_khmer_font() {
    compgen -G "/usr/share/fonts/truetype/khmeros/*.ttf" >/dev/null \
        || { command -v fc-list >/dev/null && [ -n "$(fc-list :lang=km family 2>/dev/null)" ]; }
}

apt_packages=()
[ -x /usr/bin/chromium ] || apt_packages+=(chromium)
have_khmer_font || apt_packages+=(fonts-khmeros)
# Status marks (✅ 🔴) and page icons in the screenshots, as a director's own browser shows them.
[ -e /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf ] || apt_packages+=(fonts-noto-color-emoji)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || apt_packages+=(python3-venv)
# PostgreSQL: the store's tests also run against the server a hosted deployment uses.
have_postgres() { compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null; }
have_postgres || apt_packages+=(postgresql)
if [ "${#apt_packages[@]}" -gt 0 ]; then
    if command -v apt-get >/dev/null; then
        echo "test.sh: installing ${apt_packages[*]} with apt-get" >&2
        as_root apt-get update
        as_root env DEBIAN_FRONTEND=noninteractive \
            apt-get install -y --no-install-recommends "${apt_packages[@]}"
    else
        echo "test.sh: not a Debian system; install ${apt_packages[*]} yourself" >&2
    fi
fi

# Start PostgreSQL (a no-op when it runs already) with a throwaway test role and database.
if have_postgres && command -v pg_ctlcluster >/dev/null; then
    pg_version=$(ls /usr/lib/postgresql | sort -n | tail -n 1)
    as_postgres() { as_root runuser -u postgres -- "$@"; }
    pg_lsclusters -h | grep -q "^$pg_version main" || as_root pg_createcluster "$pg_version" main >/dev/null
    as_root pg_ctlcluster "$pg_version" main start 2>/dev/null || true
    as_postgres psql -qtAc "SELECT 1 FROM pg_roles WHERE rolname = 'impact_test'" | grep -q 1 \
        || as_postgres psql -qc "CREATE ROLE impact_test LOGIN PASSWORD 'impact_test'"
    as_postgres psql -qtAc "SELECT 1 FROM pg_database WHERE datname = 'impact_test'" | grep -q 1 \
        || as_postgres createdb -O impact_test impact_test
    export IMPACT_TEST_POSTGRES_URL=postgresql://impact_test:impact_test@localhost/impact_test
fi

ensure_venv test.sh

# pytest exits 5 when it collected no test: that is a failure here, not a pass.
status=0
.venv/bin/python -m pytest -q "$@" || status=$?
if [ "$status" -eq 5 ]; then
    echo "test.sh: pytest collected no tests" >&2
    exit 1
fi
exit "$status"
