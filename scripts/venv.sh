# Sourced by run.sh and test.sh: `.venv` in the repository, brought up to requirements.txt.
# Idempotent: with everything already at its pinned version pip changes nothing (~1 s).

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

ensure_venv() {
    local who=$1
    # A .venv that cannot run pip (moved repo, removed Python, half-made venv) is rebuilt.
    if [ -d .venv ] && ! .venv/bin/python -m pip --version >/dev/null 2>&1; then
        echo "$who: .venv is broken, recreating it" >&2
        rm -rf .venv
    fi
    if [ ! -d .venv ]; then
        echo "$who: creating .venv" >&2
        python3 -m venv .venv
    fi
    echo "$who: installing requirements.txt into .venv" >&2
    .venv/bin/python -m pip install -q --disable-pip-version-check -r requirements.txt
}
