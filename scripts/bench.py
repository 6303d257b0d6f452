#!/usr/bin/env python3
"""Benchmark ha-sync against rsync, rclone and cp on the same trees, in one run.

Builds its own data sets, alternates the order of the tools every round (so cache warmth
and background load are shared out fairly), and prints wall time, peak RSS and the ratio
of each peer to ha-sync. Absolute times on a shared machine mean little: read the ratios.

Scenarios (see docs/performance.md):
  a  initial copy of N small files (1-16 KiB) in D directories
  b  re-run of (a) with nothing changed
  c  re-run after 1% of the files changed content (same size, newer mtime)
  d  initial copy of a few large files, against cp
  m  (--million) peak RSS growth per file, measured on 100k and 1M empty files
"""

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(cmd, label):
    """Runs cmd, returns (seconds, peak RSS in MiB).

    The RSS comes from /usr/bin/time, not from this process's wait4: Linux carries the
    parent's RSS high-water mark into a forked child across exec, so a child of this
    (large) Python process would never report less than Python's own RSS.
    """
    with tempfile.NamedTemporaryFile(mode="r", suffix=".rss") as rss_file:
        start = time.monotonic()
        proc = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss_file.name] + cmd,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        elapsed = time.monotonic() - start
        if proc.returncode != 0:
            sys.exit(f"{label} failed with exit status {proc.returncode}:\n{proc.stderr.decode(errors='replace')}")
        rss_kib = int(rss_file.read().strip().splitlines()[-1])
    return elapsed, rss_kib / 1024.0


def make_small_tree(path, files, dirs, seed=1):
    rng = random.Random(seed)
    block = os.urandom(1 << 20)
    per_dir = max(1, files // dirs)
    made = 0
    for d in range(dirs):
        directory = os.path.join(path, f"d{d:04}")
        os.makedirs(directory, exist_ok=True)
        for f in range(per_dir):
            if made == files:
                return
            size = rng.randint(1024, 16 * 1024)
            offset = rng.randint(0, len(block) - size)
            with open(os.path.join(directory, f"f{f:05}.bin"), "wb") as out:
                out.write(block[offset:offset + size])
            made += 1


def make_empty_tree(path, files, dirs):
    per_dir = files // dirs
    for d in range(dirs):
        directory = os.path.join(path, f"d{d:04}")
        os.makedirs(directory, exist_ok=True)
        for f in range(per_dir):
            open(os.path.join(directory, f"f{f:06}"), "wb").close()


def change_one_percent(path, seed=2):
    """Rewrites 1% of the files with new content of the same size and a newer mtime."""
    rng = random.Random(seed)
    everything = sorted(os.path.join(dp, f) for dp, _, fs in os.walk(path) for f in fs)
    chosen = rng.sample(everything, max(1, len(everything) // 100))
    later = time.time() + 60
    for name in chosen:
        size = os.path.getsize(name)
        with open(name, "r+b") as out:
            out.write(os.urandom(size))
        os.utime(name, (later, later))
    return len(chosen)


def change_one_percent_of(path, parity, seed):
    """Rewrites 1% of the files in the folders of one parity (even or odd): two sides changed
    this way never touch the same file, so no tool sees a conflict."""
    rng = random.Random(seed)
    everything = sorted(os.path.join(dp, f) for dp, _, fs in os.walk(path) for f in fs
                        if os.path.basename(dp).startswith("d") and int(os.path.basename(dp)[1:]) % 2 == parity)
    chosen = rng.sample(everything, max(1, len(everything) // 50))
    later = time.time() + 120
    for name in chosen:
        with open(name, "r+b") as out:
            out.write(os.urandom(os.path.getsize(name)))
        os.utime(name, (later, later))
    return len(chosen)


def bidirectional(args, commands, source, work, logs):
    """(e) bidirectional runs: ha-sync --bidirectional against rclone bisync on the same trees,
    with the one-way no-change run as the yardstick."""
    a, b, a2, b2 = (os.path.join(work, name) for name in ("bi-a", "bi-b", "bisync-a", "bisync-b"))
    for path in (a, b, a2, b2):
        shutil.rmtree(path, ignore_errors=True)
        subprocess.run(["cp", "-a", source, path], check=True)
    bisync_work = os.path.join(work, "bisync-state")
    bidi = commands["ha-sync --bidirectional"]
    bisync = lambda: ["rclone", "bisync", a2, b2, "--workdir", bisync_work]
    # Each tool's first run builds its state (ha-sync: the union; rclone: --resync); not timed.
    run(bidi(a, b), "ha-sync --bidirectional (first run)")
    run(bisync() + ["--resync"], "rclone bisync --resync")
    samples = {"ha-sync --bidirectional": [], "ha-sync one-way": [], "rclone bisync": []}
    changed = {"ha-sync --bidirectional": [], "rclone bisync": []}
    for round_index in range(args.rounds):
        order = list(samples)
        order = order[round_index % 3:] + order[:round_index % 3]
        for tool in order:
            if tool == "rclone bisync":
                samples[tool].append(run(bisync(), tool))
            elif tool == "ha-sync one-way":
                samples[tool].append(run(commands["ha-sync"](a, b), tool))
            else:
                samples[tool].append(run(bidi(a, b), tool))
        # 1% changed on each side (different files), the same changes on both pairs of trees.
        count = change_one_percent_of(a, 0, seed=10 + round_index) + change_one_percent_of(b, 1, seed=20 + round_index)
        subprocess.run(["rsync", "-a", "--delete", a + "/", a2 + "/"], check=True)
        subprocess.run(["rsync", "-a", "--delete", b + "/", b2 + "/"], check=True)
        for tool in ("ha-sync --bidirectional", "rclone bisync")[round_index % 2:] + ("ha-sync --bidirectional", "rclone bisync")[:round_index % 2]:
            changed[tool].append(run(bisync() if tool == "rclone bisync" else bidi(a, b), tool))
        for left, right in ((a, b), (a2, b2), (a, a2)):
            # Each side's version store holds what was replaced there: it differs by design.
            diff = subprocess.run(["diff", "-rq", "-x", ".ha-sync-versions", left, right], capture_output=True, text=True)
            if diff.returncode != 0:
                sys.exit(f"{left} and {right} differ after the bidirectional runs:\n{diff.stdout[:2000]}")
        print(f"bidirectional round {round_index + 1} done ({count} files changed, half on each side)")
    report(f"(e) no-change run, {args.files} files: bidirectional against the one-way run and rclone bisync",
           median_rows(samples), base_tool="ha-sync --bidirectional")
    report("(f) 1% changed on each side (different files)", median_rows(changed), base_tool="ha-sync --bidirectional")
    for path in (a, b, a2, b2, bisync_work):
        shutil.rmtree(path, ignore_errors=True)


def million(commands, work, logs):
    """(m) peak RSS at 100,000 and 1,000,000 empty files, one-way and bidirectional."""
    rss = {}
    bidi_rss = {}
    for count in (100_000, 1_000_000):
        empty = os.path.join(work, f"empty-{count}")
        dest = os.path.join(work, f"empty-dest-{count}")
        print(f"\nbuilding {count} empty files ...")
        make_empty_tree(empty, count, 1000)
        os.makedirs(dest)
        seconds, peak = run(commands["ha-sync"](empty, dest), f"ha-sync ({count} empty files)")
        rss[count] = peak
        print(f"  ha-sync, {count} empty files: {seconds:.1f} s, peak RSS {peak:.1f} MiB")
        # Bidirectional, archive included: the first run (archive written) and a no-change run.
        first, first_peak = run(commands["ha-sync --bidirectional"](empty, dest), f"ha-sync --bidirectional ({count}, first)")
        again, again_peak = run(commands["ha-sync --bidirectional"](empty, dest), f"ha-sync --bidirectional ({count}, no change)")
        bidi_rss[count] = max(first_peak, again_peak)
        print(f"  ha-sync --bidirectional, {count} files: first run {first:.1f} s, peak RSS {first_peak:.1f} MiB; "
              f"no-change run {again:.1f} s, peak RSS {again_peak:.1f} MiB")
        shutil.rmtree(empty, ignore_errors=True)
        shutil.rmtree(dest, ignore_errors=True)
        for leftover in os.listdir(os.path.join(logs, "state")) if os.path.isdir(os.path.join(logs, "state")) else []:
            os.unlink(os.path.join(logs, "state", leftover))
    growth = (rss[1_000_000] - rss[100_000]) * 1024 * 1024 / 900_000
    print(f"\n(m) peak RSS growth: {growth:.0f} bytes per file between 100,000 and 1,000,000 files")
    growth = (bidi_rss[1_000_000] - bidi_rss[100_000]) * 1024 * 1024 / 900_000
    print(f"(m) bidirectional peak RSS: {bidi_rss[100_000]:.1f} MiB at 100,000 files; "
          f"growth {growth:.0f} bytes per file up to 1,000,000")



def versions(args, commands, source, work):
    """(g) the cost of --versions: a 1%-changed one-way re-run with and without it."""
    src = os.path.join(work, "v-src")
    shutil.rmtree(src, ignore_errors=True)
    subprocess.run(["cp", "-a", source, src], check=True)
    dests = {"ha-sync": os.path.join(work, "v-plain"), "ha-sync --versions": os.path.join(work, "v-versions")}
    for dest in dests.values():
        shutil.rmtree(dest, ignore_errors=True)
        subprocess.run(["cp", "-a", source, dest], check=True)
    samples = {tool: [] for tool in dests}
    for round_index in range(args.rounds):
        change_one_percent(src, seed=30 + round_index)
        order = list(dests)[round_index % 2:] + list(dests)[:round_index % 2]
        for tool in order:
            samples[tool].append(run(commands[tool](src, dests[tool]), tool))
        diff = subprocess.run(["diff", "-rq", "-x", ".ha-sync-versions", dests["ha-sync"], dests["ha-sync --versions"]],
                              capture_output=True, text=True)
        if diff.returncode != 0:
            sys.exit(f"--versions changed the result:\n{diff.stdout[:2000]}")
        kept = sum(len(files) for _, _, files in os.walk(os.path.join(dests["ha-sync --versions"], ".ha-sync-versions")))
        print(f"versions round {round_index + 1} done ({kept} versions kept so far)")
    report("(g) 1% changed, one-way re-run: the cost of --versions", median_rows(samples))
    for path in [src, *dests.values()]:
        shutil.rmtree(path, ignore_errors=True)


def tools(binary, logs, workers):
    return {
        "ha-sync": lambda s, d: [binary, "--src", s, "--dest", d, "--pair", "bench", "--log-dir", logs,
                                 "--workers", str(workers), "--no-progress"],
        "ha-sync --bidirectional": lambda s, d: [binary, "--src", s, "--dest", d, "--pair", "bench-bidi", "--log-dir", logs,
                                                 "--workers", str(workers), "--no-progress", "--bidirectional"],
        "ha-sync --versions": lambda s, d: [binary, "--src", s, "--dest", d, "--pair", "bench-versions", "--log-dir", logs,
                                            "--workers", str(workers), "--no-progress", "--versions"],
        "ha-sync --verify": lambda s, d: [binary, "--src", s, "--dest", d, "--pair", "bench", "--log-dir", logs,
                                          "--workers", str(workers), "--no-progress", "--verify"],
        "rsync": lambda s, d: ["rsync", "-a", "--whole-file", s + "/", d + "/"],
        "rclone": lambda s, d: ["rclone", "sync", s, d],
        "cp": lambda s, d: ["cp", "-a", s + "/.", d + "/"],
    }


def report(title, rows, base_tool="ha-sync"):
    print(f"\n{title}")
    print(f"  {'tool':<24} {'seconds':>9} {'peak RSS':>10} {'time vs ' + base_tool:>32}")
    base = rows.get(base_tool, (None, None))[0]
    for tool, (seconds, rss) in rows.items():
        ratio = f"{seconds / base:.2f}x" if base else "-"
        print(f"  {tool:<24} {seconds:>9.2f} {rss:>8.1f} MiB {ratio:>32}")
    sys.stdout.flush()


def median_rows(samples):
    rows = {}
    for tool, values in samples.items():
        values = sorted(values)
        middle = values[len(values) // 2]
        rows[tool] = (middle[0], max(v[1] for v in values))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", default=os.path.join(ROOT, "bench-data"), help="scratch directory (needs ~6 GiB)")
    parser.add_argument("--binary", default=os.path.join(ROOT, ".build/release/ha-sync"))
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--dirs", type=int, default=1_000)
    parser.add_argument("--big-count", type=int, default=8)
    parser.add_argument("--big-mib", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds; the median is reported")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--skip-big", action="store_true")
    parser.add_argument("--skip-other-modes", action="store_true", help="leave out the bidirectional and --versions comparisons")
    parser.add_argument("--million", action="store_true", help="also measure RSS growth per file at 1,000,000 files")
    parser.add_argument("--only-bidirectional", action="store_true", help="run only (e) and (f), the bidirectional comparison")
    parser.add_argument("--only-versions", action="store_true", help="run only (g), the cost of --versions")
    args = parser.parse_args()

    if not os.access(args.binary, os.X_OK):
        sys.exit(f"{args.binary} not found: run 'swift build -c release --product ha-sync' (or 'make bench')")
    for peer in ("rsync", "rclone", "cp", "/usr/bin/time"):
        if shutil.which(peer) is None:
            sys.exit(f"{peer} is not installed: apt-get install -y rsync rclone time")

    work = os.path.abspath(args.work)
    shutil.rmtree(work, ignore_errors=True)
    logs = os.path.join(work, "logs")
    os.makedirs(logs)
    commands = tools(args.binary, logs, args.workers)
    peers = ["ha-sync", "rsync", "rclone"]

    print(f"machine: {os.cpu_count()} cores; data in {work}; {args.rounds} alternating rounds, median reported")
    source = os.path.join(work, "small-src")
    print(f"building {args.files} files of 1-16 KiB in {args.dirs} directories ...")
    make_small_tree(source, args.files, args.dirs)
    subprocess.run(["sync"])

    if args.only_versions:
        versions(args, commands, source, work)
        shutil.rmtree(work, ignore_errors=True)
        return
    if args.only_bidirectional:
        bidirectional(args, commands, source, work, logs)
        if args.million:
            million(commands, work, logs)
        shutil.rmtree(work, ignore_errors=True)
        return

    samples = {name: {t: [] for t in peers} for name in "abc"}
    for round_index in range(args.rounds):
        order = peers[round_index % len(peers):] + peers[:round_index % len(peers)]
        # Each round works on a fresh copy of the source so (c) always starts from the same state.
        round_source = os.path.join(work, "round-src")
        shutil.rmtree(round_source, ignore_errors=True)
        subprocess.run(["cp", "-a", source, round_source], check=True)
        for tool in order:
            dest = os.path.join(work, f"dest-{tool}")
            shutil.rmtree(dest, ignore_errors=True)
            os.makedirs(dest)
            samples["a"][tool].append(run(commands[tool](round_source, dest), f"{tool} (a)"))
        for tool in order:
            samples["b"][tool].append(run(commands[tool](round_source, os.path.join(work, f"dest-{tool}")), f"{tool} (b)"))
        changed = change_one_percent(round_source, seed=round_index + 2)
        for tool in order:
            samples["c"][tool].append(run(commands[tool](round_source, os.path.join(work, f"dest-{tool}")), f"{tool} (c)"))
        # Every tool must have produced the same tree.
        for tool in peers[1:]:
            diff = subprocess.run(["diff", "-rq", os.path.join(work, "dest-ha-sync"), os.path.join(work, f"dest-{tool}")],
                                  capture_output=True, text=True)
            if diff.returncode != 0:
                sys.exit(f"ha-sync and {tool} disagree:\n{diff.stdout[:2000]}")
        print(f"round {round_index + 1} done ({changed} files changed in (c))")

    report(f"(a) initial copy, {args.files} files in {args.dirs} directories", median_rows(samples["a"]))
    report("(b) re-run, nothing changed", median_rows(samples["b"]))
    report("(c) re-run after 1% changed content (same size, newer mtime)", median_rows(samples["c"]))
    for tool in peers:
        shutil.rmtree(os.path.join(work, f"dest-{tool}"), ignore_errors=True)
    shutil.rmtree(os.path.join(work, "round-src"), ignore_errors=True)
    if not args.skip_other_modes:
        bidirectional(args, commands, source, work, logs)
        versions(args, commands, source, work)

    if not args.skip_big:
        big = os.path.join(work, "big-src")
        os.makedirs(big)
        print(f"\nbuilding {args.big_count} files of {args.big_mib} MiB ...")
        chunk = os.urandom(1 << 20)
        for index in range(args.big_count):
            with open(os.path.join(big, f"big{index}.bin"), "wb") as out:
                for _ in range(args.big_mib):
                    out.write(chunk)
        subprocess.run(["sync"])
        big_tools = ["ha-sync", "cp", "ha-sync --verify"]
        big_samples = {t: [] for t in big_tools}
        for round_index in range(args.rounds):
            for tool in big_tools[round_index % 3:] + big_tools[:round_index % 3]:
                dest = os.path.join(work, "big-dest")
                shutil.rmtree(dest, ignore_errors=True)
                os.makedirs(dest)
                subprocess.run(["sync"])
                big_samples[tool].append(run(commands[tool](big, dest), f"{tool} (d)"))
        report(f"(d) initial copy, {args.big_count} files of {args.big_mib} MiB", median_rows(big_samples))
        shutil.rmtree(os.path.join(work, "big-dest"), ignore_errors=True)
        shutil.rmtree(big, ignore_errors=True)

    if args.million:
        million(commands, work, logs)

    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
