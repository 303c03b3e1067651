# Sourced by scripts/demo and scripts/test: create .venv on first use and (re)install the
# project whenever pyproject.toml changed. Usage: source scripts/_bootstrap.sh EXTRAS, with EXTRAS
# "core" for none (always pass it: a sourced script sees the caller's arguments otherwise).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
extras="${1:-core}"
[ "$extras" = core ] && extras=""
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
target="."
[ -n "$extras" ] && target=".[$extras]"
stamp=".venv/.installed-${extras:-core}"
want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
current() { [ -f "$1" ] && [ "$(cat "$1")" = "$want" ]; }
# an install with the dev extras holds everything the core needs
if ! current "$stamp" && ! { [ -z "$extras" ] && current .venv/.installed-dev; }; then
  echo "Installing bandits-recommender${extras:+ with [$extras]} into .venv ..." >&2
  .venv/bin/python -m pip install --quiet --upgrade pip >&2
  .venv/bin/python -m pip install --quiet -e "$target" >&2
  echo "$want" > "$stamp"
fi
export PATH="$root/.venv/bin:$PATH"
