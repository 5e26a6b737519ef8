#!/bin/bash
# layout.sh: the tree's layering, checked on the built objects.
#   1. No two source files use each other's symbols in a circle (one
#      strongly connected component per file), across the engine, the
#      preload, the API library, the CLI and the daemon.
#   2. The engine (cache/*.c) uses nothing from the layers above it: it is
#      linked into the preload and the API library alike.
#   Exception to both: the libc names preload/fdwatch.c interposes only to
#   watch fd numbers (syscall, socket, recvmsg...) stay libc's to their
#   callers; the engine may call them (each is re-entrant there, and goes
#   on to the next definition: libc's, or a test's fault injector).
#   3. Each protocol and fallback constant is defined in one place.
. "$(dirname "$0")/lib.sh"
set -u
objs=$(ls "$B"/cache/*.o "$B"/cache/api/*.o "$B"/cache/cli/*.o "$B"/cache/daemon/*.o "$B"/preload/*.o 2>/dev/null)
[ -n "$objs" ] || { echo "layout: no objects under $B"; exit 2; }
fail=0
python3 - "$B" $objs <<'PY' || fail=1
import subprocess, sys, os
b, objs = sys.argv[1], sys.argv[2:]
defs, undefs = {}, {}
for o in objs:
    out = subprocess.run(["nm", "-g", o], capture_output=True, text=True, check=True).stdout
    d, u = set(), set()
    for line in out.splitlines():
        f = line.split()
        if len(f) == 2 and f[0] == "U":
            u.add(f[1])
        elif len(f) == 3 and f[1] in "TDBRVWC":
            d.add(f[2])
    defs[o], undefs[o] = d, u
import re
exported = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", open("preload/libmountcache-preload.sym").read()))
owner = {}
for o, d in defs.items():
    for s in d:
        if os.path.basename(o) == "fdwatch.o" and s in exported:
            continue            # libc's names, watched (see above)
        owner.setdefault(s, o)
edges = {o: {owner[s] for s in undefs[o] if s in owner and owner[s] != o} for o in objs}
# Tarjan's strongly connected components.
index, low, stack, on, sccs, n = {}, {}, [], set(), [], [0]
def visit(v):
    index[v] = low[v] = n[0]; n[0] += 1; stack.append(v); on.add(v)
    for w in edges[v]:
        if w not in index:
            visit(w); low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        c = []
        while True:
            w = stack.pop(); on.discard(w); c.append(w)
            if w == v: break
        sccs.append(c)
sys.setrecursionlimit(10000)
for v in objs:
    if v not in index:
        visit(v)
rel = lambda o: os.path.relpath(o, b)
bad = 0
for c in sccs:
    if len(c) > 1:
        bad += 1
        print("layout: files use each other's symbols in a circle:", " ".join(sorted(map(rel, c))))
        for o in c:
            for s in sorted(undefs[o]):
                if owner.get(s) in c and owner[s] != o:
                    print("   %s uses %s from %s" % (rel(o), s, rel(owner[s])))
engine = [o for o in objs if os.path.dirname(rel(o)) == "cache"]
for o in engine:
    for s in sorted(undefs[o]):
        w = owner.get(s)
        if w and w not in engine:
            bad += 1
            print("layout: engine file %s uses %s from %s" % (rel(o), s, rel(w)))
print("layout: %d files, %d edges, %d problems" % (len(objs), sum(map(len, edges.values())), bad))
sys.exit(1 if bad else 0)
PY
# 3. One definition each: the protocol's constants, the statx fallback.
for sym in 'define MC_PROTO_MAGIC' 'define MC_DEFAULT_SOCKET' 'define STATX_MNT_ID_UNIQUE' 'MC_REQ_REVALIDATE =' 'MC_REP_VALIDATED ='; do
	n=$(grep -rl -- "$sym" cache preload tests/tools tests/fuzz | wc -l)
	if [ "$n" -ne 1 ]; then
		echo "layout: '$sym' is defined in $n files:"; grep -rl -- "$sym" cache preload tests/tools tests/fuzz
		fail=1
	fi
done
# Messages are built and checked in cache/proto.c only.
if grep -n 'MC_PROTO_MAGIC\|MC_PROTO_VERSION' -r cache preload tests/tools | grep -v '^cache/proto\.[ch]:'; then
	echo "layout: protocol headers built or checked outside cache/proto.c"; fail=1
fi
[ $fail -eq 0 ] && echo "layout: ok"
exit $fail
