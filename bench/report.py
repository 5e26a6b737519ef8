#!/usr/bin/python3
"""bench/report.py OUT RESULTS: turn bench.sh's raw rows (in OUT) into
RESULTS/bench.csv, memory.csv, callgrind.csv, the PNG plots, and the text
report on stdout. Standard library only; plots through gnuplot."""
import csv
import os
import subprocess
import sys
import tempfile
from collections import OrderedDict

OUT, RES = sys.argv[1], sys.argv[2]
MODE_ORDER = ["bare", "preload", "daemon"]


def read_tsv(name, cols):
    path = os.path.join(OUT, name)
    if not os.path.exists(path):
        return []
    rows = []
    with open(path) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) >= len(cols):
                rows.append(dict(zip(cols, parts)))
    return rows


def num(x):
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


def ms(x):
    """Milliseconds, about 3 significant digits."""
    if x is None:
        return "-"
    for lim, fmt in ((100, "%.0f"), (10, "%.1f"), (1, "%.2f"), (0.1, "%.3f")):
        if x >= lim:
            return fmt % x
    return "%.4f" % x


def times(x):
    if x is None:
        return "-"
    return ("%.0fx" if x >= 10 else "%.2fx") % x


ROWS = read_tsv("rows.tsv", ["size", "mounts", "load", "group", "consumer", "mode", "runs",
                             "median", "min", "max", "speedup", "maxrss", "status"])
for r in ROWS:
    for k in ("median", "min", "max", "speedup"):
        r[k] = num(r[k])
    r["size"] = int(r["size"])
    r["mounts"] = int(r["mounts"])
SNAP = read_tsv("snapsize.tsv", ["size", "mounts", "file", "entries", "text", "table", "index"])
DAEMON = read_tsv("daemon.tsv", ["size", "mounts", "load", "rss", "shmem", "memfd"])
ANSWERS = read_tsv("answers.tsv", ["size", "load", "requests", "churning", "waited", "declined"])
CG = read_tsv("callgrind.tsv", ["mounts", "consumer", "mode", "ir", "memcpy", "top"])

sizes = sorted({r["size"] for r in ROWS})
modes = [m for m in MODE_ORDER if any(r["mode"] == m for r in ROWS if r["group"] == "consumer")]
consumers = list(OrderedDict.fromkeys(r["consumer"] for r in ROWS if r["group"] == "consumer"))
mounts_of = {r["size"]: r["mounts"] for r in ROWS}


def get(size, load, consumer, mode, group="consumer"):
    for r in ROWS:
        if (r["size"], r["load"], r["consumer"], r["mode"], r["group"]) == (size, load, consumer, mode, group):
            return r
    return None


# ---- CSV files ------------------------------------------------------------
os.makedirs(RES, exist_ok=True)
with open(os.path.join(RES, "bench.csv"), "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["size", "mounts", "load", "group", "consumer", "mode", "runs", "median_ms",
                "min_ms", "max_ms", "speedup_vs_first_mode", "maxrss_kb", "exit_status"])
    for r in ROWS:
        if r["group"] == "rss":
            continue
        w.writerow([r["size"], r["mounts"], r["load"], r["group"], r["consumer"], r["mode"],
                    r["runs"], r["median"], r["min"], r["max"], r["speedup"], r["maxrss"],
                    r["status"]])
with open(os.path.join(RES, "memory.csv"), "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["kind", "size", "mounts", "what", "mode", "value", "unit"])
    for s in SNAP:
        base = os.path.basename(s["file"])
        for k in ("entries", "text", "table", "index"):
            w.writerow(["snapshot", s["size"], s["mounts"], base + "." + k, "", s[k],
                        "count" if k == "entries" else "bytes"])
    for r in ROWS:
        if r["group"] == "rss":
            w.writerow(["vmrss", r["size"], r["mounts"], r["consumer"], r["mode"],
                        round(r["median"] * 1000) if r["median"] is not None else "", "kB"])
    for d in DAEMON:
        w.writerow(["daemon", d["size"], d["mounts"], "VmRSS after " + d["load"], "daemon", d["rss"], "kB"])
        w.writerow(["daemon", d["size"], d["mounts"], "RssShmem after " + d["load"], "daemon", d["shmem"], "kB"])
        w.writerow(["daemon", d["size"], d["mounts"], "memfds held after " + d["load"], "daemon", d["memfd"], "kB"])
with open(os.path.join(RES, "callgrind.csv"), "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["mounts", "consumer", "mode", "ir_per_read", "memcpy_ir_per_read", "top_functions"])
    for c in CG:
        w.writerow([c["mounts"], c["consumer"], c["mode"], c["ir"], c["memcpy"], c["top"]])

# ---- text report ------------------------------------------------------------
print()
with open(os.path.join(OUT, "env.txt")) as f:
    print(f.read().rstrip())
print()
print("speed-up = bare median / mode median (above 1: faster than the kernel). In-process")
print("rows time inside one process (loops: amortised mean per read over >=100 ms, 200 ms")
print("under churn, re-reads included; first read: the one read of a fresh process); the")
print("others time the whole command, fork to exit.")

for load in ("quiet", "churn"):
    for size in sizes:
        if not any(r["size"] == size and r["load"] == load and r["group"] == "consumer" for r in ROWS):
            continue
        label = "quiet" if load == "quiet" else "bursty churn"
        print()
        print("=== %d mounts (%d lines), %s" % (size, mounts_of[size], label))
        print("%-28s %-8s %5s %11s  %-21s %9s" % ("consumer", "mode", "runs", "median ms", "min-max ms", "speed-up"))
        for c in consumers:
            first = True
            for m in modes:
                r = get(size, load, c, m)
                if not r:
                    continue
                flag = "" if r["status"] in ("0", "") else "  exit " + r["status"]
                print("%-28s %-8s %5s %11s  %-21s %9s%s" % (c if first else "", m, r["runs"], ms(r["median"]),
                      ms(r["min"]) + "-" + ms(r["max"]), times(r["speedup"]), flag))
                first = False

# speed-up summary
for load in ("quiet", "churn"):
    print()
    print("=== speed-up summary, %s (bare median / mode median)" % ("quiet" if load == "quiet" else "bursty churn"))
    head = "%-28s %-8s" % ("consumer", "mode") + "".join("%10s" % ("%d" % s) for s in sizes)
    print(head)
    for c in consumers:
        for m in modes[1:]:
            cells = []
            for s in sizes:
                r = get(s, load, c, m)
                cells.append("%10s" % times(r["speedup"] if r else None))
            print("%-28s %-8s" % (c, m) + "".join(cells))

# targets
print()
print("=== targets (issue 12), reported, not asserted")


def target(desc, size, consumer, mode, want, load="quiet"):
    r = get(size, load, consumer, mode)
    if not r:
        print("  %-52s  n/a (not measured: no %s mode)" % (desc, mode))
        return
    ok = r["speedup"] is not None and r["speedup"] >= want
    print("  %-52s  %8s  %s" % (desc, times(r["speedup"]), "met" if ok else "MISSED (want >= %gx)" % want))


big = 10000 if 10000 in sizes else (sizes[-1] if sizes else 0)
target("%d mounts: warm raw read, preload >= 100x" % big, big, "raw read loop (warm)", "preload", 100)
target("%d mounts: fopen+getline, preload >= 60x" % big, big, "fopen+getline", "preload", 60)
target("%d mounts: getmntent, preload >= 60x" % big, big, "getmntent", "preload", 60)
target("%d mounts: first read with the daemon >= 30x" % big, big, "first read (fresh process)", "daemon", 30)
if 50000 in sizes:
    target("50000 mounts: first read with the daemon >= 50x", 50000, "first read (fresh process)", "daemon", 50)
for s in sizes:
    if s <= 10000:
        for m in modes[1:]:
            target("%d mounts: first 4 KiB, %s >= 1.0x" % (s, m), s, "first 4 KiB (fresh process)", m, 1.0)
small = sizes[0] if sizes else 0
worst = None
for c in consumers:
    for m in modes[1:]:
        r = get(small, "quiet", c, m)
        if r and r["speedup"] is not None and (worst is None or r["speedup"] < worst[0]):
            worst = (r["speedup"], c, m)
if worst:
    print("  %-52s  %8s  %s" % ("%d mounts: every consumer >= 1.0x (worst: %s, %s)" % (small, worst[1], worst[2]),
          times(worst[0]), "met" if worst[0] >= 1.0 else "MISSED"))
    floor_cat = [r for r in ROWS if r["group"] == "floor" and r["consumer"] == "cat" and r["mode"] == "empty-preload"]
    if floor_cat:
        print("  %-52s  %8s  (the floor of any LD_PRELOAD: below)" % ("    cat with an empty preload library",
              times(floor_cat[0]["speedup"])))

# The floor: LD_PRELOAD of a library that does nothing, on whole commands.
FLOOR = [r for r in ROWS if r["group"] == "floor"]
if FLOOR:
    fmodes = list(OrderedDict.fromkeys(r["mode"] for r in FLOOR))
    print()
    print("=== the floor under whole commands, %s mounts, quiet: LD_PRELOAD of an empty library" % FLOOR[0]["size"])
    print("(build/empty-preload.so: the loader's search, open, mappings and relocation, no code)")
    print("%-12s" % "command" + "".join("%22s" % m for m in fmodes))
    for c in OrderedDict.fromkeys(r["consumer"] for r in FLOOR):
        cells = []
        for m in fmodes:
            r = next((r for r in FLOOR if r["consumer"] == c and r["mode"] == m), None)
            if not r:
                cells.append("%22s" % "-")
            elif m == "bare":
                cells.append("%22s" % (ms(r["median"]) + " ms"))
            else:
                cells.append("%22s" % ("%s ms (%s)" % (ms(r["median"]), times(r["speedup"]))))
        print("%-12s" % c + "".join(cells))

# engine and peers
PEER_ORDER = ["kernel-read", "engine-capture", "engine-parse", "engine-hit", "glibc-getmntent",
              "libmount-parse-mtab", "listmount+statmount"]
for load in ("quiet", "churn"):
    print()
    print("=== engine cost (issue 2) and peers, bare, %s: mean ms per full table, and x of the kernel read"
          % ("quiet" if load == "quiet" else "bursty churn"))
    print("%-22s" % "way" + "".join("%20s" % ("%d mounts" % s) for s in sizes))
    for p in PEER_ORDER:
        cells = []
        for s in sizes:
            r = get(s, load, "peers and engine", p, "peer")
            k = get(s, load, "peers and engine", "kernel-read", "peer")
            if not r or r["median"] is None:
                cells.append("%20s" % "-")
                continue
            ratio = r["median"] / k["median"] if k and k["median"] else None
            cells.append("%20s" % ("%s ms %s" % (ms(r["median"]), ("(%.2fx)" % ratio) if ratio is not None else "")))
        if any(c.strip() != "-" for c in cells):
            print("%-22s" % p + "".join(cells))

# memory
print()
print("=== memory: one parsed snapshot (text, parsed table, indexes)")
print("%-8s %-10s %8s %12s %12s %12s %8s" % ("mounts", "file", "entries", "text B", "table B", "index B", "total/text"))
for s in SNAP:
    text, table, index = int(s["text"]), int(s["table"]), int(s["index"])
    print("%-8s %-10s %8s %12d %12d %12d %8.1f" % (s["mounts"], os.path.basename(s["file"]), s["entries"], text,
          table, index, (text + table + index) / text if text else 0))
print()
print("=== memory: VmRSS at exit of a reader (MB), median of 3")
print("%-30s" % "reader" + "".join("%10s" % m for m in modes) + "   (size)")
for s in sizes:
    for what in ("RSS after raw reads (MB)", "RSS after getmntent reads (MB)"):
        cells = []
        for m in modes:
            r = get(s, "quiet", what, m, "rss")
            cells.append("%10s" % ("%.1f" % r["median"] if r and r["median"] is not None else "-"))
        print("%-30s" % what.replace(" (MB)", "") + "".join(cells) + "   (%d mounts)" % s)
if any(d["rss"] != "-" for d in DAEMON):
    print()
    print("=== memory: the daemon (kB)")
    for d in DAEMON:
        print("  %6s mounts, after %-6s VmRSS %8s  RssShmem %8s  snapshot memfds held %8s" %
              (d["mounts"], d["load"], d["rss"], d["shmem"], d["memfd"]))
else:
    print("  (no daemon: build/mountcached did not exist when this ran)")

if ANSWERS:
    # Counters run from the daemon's start: the churn row is the difference.
    print()
    print("=== the daemon's answers (requests; \"churning\" and \"declined\": the client read the kernel;")
    print("    declined: a fresh process's second read that would have waited for more than half a read)")
    prev = {}
    for a in ANSWERS:
        q, c, w, d = (int(num(a.get(k)) or 0) for k in ("requests", "churning", "waited", "declined"))
        pq, pc, pw, pd = prev.get(a["size"], (0, 0, 0, 0))
        prev[a["size"]] = (q, c, w, d)
        q -= 1                  # the stats request that counted them
        print("  %6s mounts, %-6s requests %6d  churning %6d  declined %6d  waited for a refresh %6d" %
              (a["size"], a["load"], q - pq, c - pc, d - pd, w - pw))

if CG:
    print()
    print("=== callgrind: user-space instructions per warm read, %s mounts (kernel work not counted)"
          % CG[0]["mounts"])
    print("%-22s %-8s %12s %12s  %s" % ("reader", "mode", "Ir/read", "memcpy Ir", "top functions (Ir/read)"))
    for c in CG:
        print("%-22s %-8s %12s %12s  %s" % (c["consumer"], c["mode"], c["ir"], c["memcpy"], c["top"]))


# ---- plots ------------------------------------------------------------------
def gp_term(size):
    ok = subprocess.run(["gnuplot", "-e", "set terminal pngcairo"], capture_output=True).returncode == 0
    return ("pngcairo size %s font 'sans,9'" % size) if ok else ("png size %s" % size)


def gnuplot(script):
    r = subprocess.run(["gnuplot"], input=script, text=True, capture_output=True)
    if r.returncode != 0:
        print("report: gnuplot failed: " + r.stderr.strip()[:300], file=sys.stderr)


tmp = tempfile.mkdtemp(prefix="mcplot.")
COLORS = {"bare": "#444444", "preload": "#1f77b4", "daemon": "#d62728"}
written = []


def latency_plot(load, png):
    panels = consumers + ["peers and engine"]
    script = ["set terminal " + gp_term("1500,1100"), "set termoption noenhanced", "set output '%s'" % png,
              "set multiplot layout 3,4 title 'latency vs table size, %s (log-log; median ms)'"
              % ("quiet" if load == "quiet" else "bursty churn"),
              "set logscale xy", "set grid", "set key top left font ',8'", "set xlabel 'mounts'",
              "set format y '%g'", "set xtics (20,100,1000,10000,50000)"]
    for i, c in enumerate(panels):
        lines = []
        series = modes if c != "peers and engine" else [p for p in PEER_ORDER if p != "engine-hit"]
        group = "consumer" if c != "peers and engine" else "peer"
        for j, m in enumerate(series):
            pts = [(mounts_of[s], get(s, load, c, m, group)) for s in sizes]
            pts = [(x, r["median"]) for x, r in pts if r and r["median"]]
            if not pts:
                continue
            f = os.path.join(tmp, "lat.%s.%d.%d" % (load, i, j))
            with open(f, "w") as fh:
                fh.writelines("%d %g\n" % p for p in pts)
            color = (" lc rgb '%s'" % COLORS[m]) if m in COLORS else ""
            lines.append("'%s' using 1:2 with linespoints lw 2 pt 7%s title '%s'" % (f, color, m))
        script.append("set title '%s'" % c)
        if lines:
            script.append("plot " + ", ".join(lines))
        else:
            script.append("set key off; plot 1/0 notitle; set key")
    script.append("unset multiplot")
    gnuplot("\n".join(script) + "\n")
    written.append(png)


def speedup_plot(png):
    others = modes[1:]
    if not others:
        return
    loads = ["quiet", "churn"]
    script = ["set terminal " + gp_term("1500,%d" % (450 * len(others))), "set termoption noenhanced",
              "set output '%s'" % png,
              "set multiplot layout %d,2 title 'speed-up per consumer (bare median / mode median, log scale)'" % len(others),
              "set style data histogram", "set style histogram cluster gap 1",
              "set style fill solid 0.85 border -1", "set logscale y", "set yrange [0.1:2000]",
              "set grid ytics", "set xtics rotate by -30 left font ',8'", "set key top right",
              "set datafile missing '?'", "set bmargin 6"]
    for m in others:
        for load in loads:
            f = os.path.join(tmp, "sp.%s.%s" % (m, load))
            with open(f, "w") as fh:
                for c in consumers:
                    vals = []
                    for s in sizes:
                        r = get(s, load, c, m)
                        vals.append("%g" % r["speedup"] if r and r["speedup"] else "?")
                    fh.write('"%s" %s\n' % (c, " ".join(vals)))
            cols = ", ".join(("'%s' using %d:xtic(1) title '%d mounts'" if k == 0 else "'' using %d title '%d mounts'")
                             % ((f, k + 2, s) if k == 0 else (k + 2, s)) for k, s in enumerate(sizes))
            script.append("set title '%s, %s'" % (m, "quiet" if load == "quiet" else "bursty churn"))
            script.append("plot %s, 1 with lines lc rgb 'black' dt 2 notitle" % cols)
    script.append("unset multiplot")
    gnuplot("\n".join(script) + "\n")
    written.append(png)


if ROWS:
    latency_plot("quiet", os.path.join(RES, "latency.png"))
    if any(r["load"] == "churn" for r in ROWS):
        latency_plot("churn", os.path.join(RES, "latency-churn.png"))
    speedup_plot(os.path.join(RES, "speedup.png"))
print()
print("files: " + " ".join(os.path.relpath(p, os.path.dirname(os.path.dirname(RES)))
                           for p in [os.path.join(RES, n) for n in ("bench.csv", "memory.csv", "callgrind.csv")] + written))
