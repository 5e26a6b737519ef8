# tests/e2e/lib.sh: the start every e2e script shares (sourced).
#   - cd to the source tree (SRC: MC_SRCDIR, else two levels up from $0);
#   - B: the build under test: MC_BUILD (tests/run.sh sets it, and `make
#     test SANITIZE=...` points it at build/<sanitizers>), else build/;
#   - PRE: what LD_PRELOAD must hold to load our preload. In an ASan build
#     the ASan runtime must come first in every process (it refuses to start
#     otherwise), so it goes in front: PRE_RT is that prefix, empty in a
#     plain build.
cd "${MC_SRCDIR:-$(dirname "$0")/../..}" || exit 2
SRC=$PWD
B=${MC_BUILD:-$SRC/build}
PRE_RT=
case ${MC_SANITIZE:-} in
*address*) PRE_RT="$(gcc -print-file-name=libasan.so) " ;;
esac
PRE=$PRE_RT$B/libmountcache-preload.so

# scratch NAME: $tmp, a scratch directory that goes on exit, after every
# background job of the script (daemons, churn) is stopped.
scratch() {
	tmp=$(mktemp -d "/tmp/mc-$1.XXXXXX") || exit 2
	trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT
}

# check NAME COMMAND...: one case; counts it in $cases, a failure in $fails
# (the caller sets both to 0), and returns the command's verdict.
check() {
	local name=$1; shift
	cases=$((cases + 1))
	if "$@"; then echo "ok: $name"; else echo "FAIL: $name"; fails=$((fails + 1)); return 1; fi
}
