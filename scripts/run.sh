#!/usr/bin/env bash
# Install what the dashboard needs and start it on http://localhost:8501.
# serve.py seeds the store with demo data on a first start and warms the caches before it
# answers, so the first page opens as fast as the next. Safe to run again:
# an existing .venv is reused and brought up to requirements.txt.
# Extra arguments go to `streamlit run` (e.g. --server.port 8502).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

source scripts/venv.sh

# Debian's python3 needs python3-venv for `python3 -m venv` (ensurepip).
if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
    echo "run.sh: installing python3-venv" >&2
    as_root apt-get update
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y python3-venv
fi

ensure_venv run.sh

exec .venv/bin/streamlit run serve.py --server.headless true "$@"
