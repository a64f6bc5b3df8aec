#!/usr/bin/python3
"""Differential test of core/scan.c against a plain Python reference.

usage: diff_scan.py SCAN_DRIVER [--trees N] [--seed S]

Builds random trees in a temporary directory (mixed-case and double suffixes, zarr
directories, files named like zarr, directories named like files, hidden names, empty
directories, FIFOs, and symlinks: inside, to directories, escaping, absolute, broken,
self-looping, to an ancestor), then for several option sets compares what scan_driver
prints with what the reference computes with os.scandir + suffix match + the zarr /
hidden / symlink rules. Entries (path, type, suffix, size, mtime ns), error paths and the
truncated flag must be equal, and the entries must come in natural order (checked with a
Python port of the comparison). Exit status 0 when every case agrees.
"""
import argparse
import functools
import os
import random
import re
import shutil
import stat
import subprocess
import sys
import tempfile

SUFFIXES = (b".ome.tiff", b".ome.tif", b".tiff", b".tif", b".zarr")  # longest first
SYMLINK_MAX = 40


def match_suffix(name):
    low = name.lower()  # bytes.lower() folds ASCII only, as the C code does
    for s in SUFFIXES:
        if low.endswith(s):
            return s
    return None


# --- natural order, written from the rule, not from the C --------------------------------

TOKEN = re.compile(rb"[0-9]+|[^0-9]")


def natural_key_tokens(s):
    out = []
    for t in TOKEN.findall(s):
        if t[:1].isdigit():
            out.append((0x30, int(t)))  # a number sorts among bytes as a digit would
        else:
            out.append((t[0], None))
    return out


def natural_cmp(a, b):
    ta, tb = natural_key_tokens(a), natural_key_tokens(b)
    for (ca, na), (cb, nb) in zip(ta, tb):
        if ca != cb:
            return -1 if ca < cb else 1
        if na is not None and na != nb:
            return -1 if na < nb else 1
    if len(ta) != len(tb):
        return -1 if len(ta) < len(tb) else 1
    return (a > b) - (a < b)


# --- reference: resolve a path beneath the root, component by component ------------------

class RefError(Exception):
    pass


def resolve(root, rel):
    """stat of rel's target, following links only while they stay beneath root."""
    stack = []
    todo = [c for c in rel.split(b"/")]
    links = 0
    while todo:
        c = todo.pop(0)
        if c in (b"", b"."):
            continue
        if c == b"..":
            if not stack:
                raise RefError("outside")
            stack.pop()
            continue
        p = os.path.join(root, *stack, c)
        try:
            st = os.lstat(p)
        except FileNotFoundError:
            raise RefError("broken")
        if stat.S_ISLNK(st.st_mode):
            links += 1
            if links > SYMLINK_MAX:
                raise RefError("loop")
            target = os.readlink(p)
            if target.startswith(b"/"):
                raise RefError("outside (absolute)")
            todo = target.split(b"/") + todo
            continue
        if any(x not in (b"", b".") for x in todo) and not stat.S_ISDIR(st.st_mode):
            raise RefError("not a directory")
        stack.append(c)
    st = os.stat(os.path.join(root, *stack)) if stack else os.stat(root)
    if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
        raise RefError("not a file or directory")
    return st


def reference_scan(root, start, recursive, max_depth, hidden):
    entries = {}
    errors = set()
    truncated = False
    start_rel = b"/".join(c for c in start.split(b"/") if c not in (b"", b"."))

    def join(d, n):
        return d + b"/" + n if d else n

    def walk(dir_rel, depth, ancestors):
        nonlocal truncated
        full = os.path.join(root, dir_rel) if dir_rel else root
        try:
            with os.scandir(full) as it:
                listing = [e.name for e in it]
        except PermissionError:
            errors.add(dir_rel or b".")
            return
        subdirs = []
        for name in listing:
            if name.startswith(b".") and not hidden:
                continue
            rel = join(dir_rel, name)
            suffix = match_suffix(name)
            st = os.lstat(os.path.join(full, name))
            if stat.S_ISLNK(st.st_mode):
                if suffix is None and not recursive:
                    continue
                try:
                    st = resolve(root, rel)
                except RefError:
                    errors.add(rel)
                    continue
            if stat.S_ISREG(st.st_mode):
                if suffix is not None and suffix != b".zarr":
                    entries[rel] = ("file", suffix, st.st_size, st.st_mtime_ns)
            elif stat.S_ISDIR(st.st_mode):
                if suffix == b".zarr":
                    entries[rel] = ("zarr", suffix, 0, st.st_mtime_ns)
                elif recursive:
                    if depth + 1 > max_depth:
                        truncated = True
                    else:
                        subdirs.append(rel)
        for rel in subdirs:
            try:
                st = resolve(root, rel)
            except RefError:
                errors.add(rel)
                continue
            key = (st.st_dev, st.st_ino)
            if key in ancestors:
                errors.add(rel)
                continue
            walk(rel, depth + 1, ancestors + [key])

    st = resolve(root, start_rel)
    walk(start_rel, 0, [(st.st_dev, st.st_ino)])
    return entries, errors, truncated


# --- the driver's side --------------------------------------------------------------------

def unescape(b):
    return re.sub(rb"\\(.)", lambda m: {b"t": b"\t", b"n": b"\n"}.get(m.group(1), m.group(1)), b)


def driver_scan(driver, root, start, recursive, max_depth, hidden, walk_only, threads):
    cmd = [driver, root, start, "-d", str(max_depth), "-t", str(threads)]
    if recursive:
        cmd.append("-r")
    if hidden:
        cmd.append("-H")
    if walk_only:
        cmd.append("-W")
    out = subprocess.run(cmd, stdout=subprocess.PIPE, check=False).stdout
    order, entries, errors, truncated = [], {}, set(), None
    for line in out.split(b"\n"):
        if not line:
            continue
        f = line.split(b"\t")
        if f[0] == b"E":
            path = unescape(f[6])
            order.append(path)
            mtime_ns = int(f[4]) * 1000000000 + int(f[5])
            entries[path] = (f[1].decode(), f[2], int(f[3]), mtime_ns)
        elif f[0] == b"X":
            errors.add(unescape(f[1]))
        elif f[0] == b"T":
            truncated = f[1] == b"1"
        else:
            raise SystemExit("driver failed: %r" % line)
    return order, entries, errors, truncated


# --- random trees -------------------------------------------------------------------------

FILE_SUFFIXES = [b".tif", b".TIF", b".Tif", b".tiff", b".TIFF", b".ome.tif", b".OME.TIF",
                 b".ome.TIFF", b".ome.tiff", b".zarr", b".ZARR", b".txt", b".tif.bak", b"",
                 b".ome", b".tiffx", b".png", b"tif"]
DIR_SUFFIXES = [b"", b"", b"", b".zarr", b".ome.zarr", b".ZARR", b".tif", b".ome.tiff"]
STEMS = [b"img", b"cyc", b"a", b"B", b"x", b"ch", b"Cyc", b"s", b"r\xc3\xa9gion", b"sp ace"]


def random_name(rng, suffixes):
    stem = rng.choice(STEMS)
    if rng.random() < 0.7:
        stem += str(rng.choice([0, 1, 2, 3, 9, 10, 11, 20, 100, 7])).encode()
        if rng.random() < 0.2:
            stem = stem.replace(b"1", b"01")
    if rng.random() < 0.1:
        stem = b"." + stem
    return stem + rng.choice(suffixes)


def build_tree(rng, root, outside):
    dirs = [b""]
    files = []

    def fill(rel, depth):
        full = os.path.join(root, rel) if rel else root
        for _ in range(rng.randint(0, 10)):
            name = random_name(rng, FILE_SUFFIXES)
            p = os.path.join(full, name)
            if os.path.lexists(p):
                continue
            if rng.random() < 0.03:
                os.mkfifo(p)
                continue
            with open(p, "wb") as f:
                f.write(b"x" * rng.randint(0, 300))
            ns = rng.randint(0, 2 * 10**18)
            os.utime(p, ns=(ns, ns))
            files.append(os.path.join(rel, name) if rel else name)
        if depth >= 4:
            return
        for _ in range(rng.randint(0, 3)):
            name = random_name(rng, DIR_SUFFIXES)
            p = os.path.join(full, name)
            if os.path.lexists(p):
                continue
            os.mkdir(p)
            child = os.path.join(rel, name) if rel else name
            dirs.append(child)
            fill(child, depth + 1)

    fill(b"", 0)
    # Now and then one big directory, so the stat pass fills several blocks (and, with
    # threads, hands them to workers).
    if rng.random() < 0.4:
        bulk = rng.choice(dirs)
        full = os.path.join(root, bulk) if bulk else root
        for i in range(rng.randint(100, 400)):
            name = b"bulk%d" % i + rng.choice(FILE_SUFFIXES)
            with open(os.path.join(full, name), "wb") as f:
                f.write(b"y" * rng.randint(0, 50))
            files.append(os.path.join(bulk, name) if bulk else name)
    # Symbolic links, placed in random directories.
    for _ in range(rng.randint(3, 12)):
        d = rng.choice(dirs)
        full = os.path.join(root, d) if d else root
        kind = rng.choice(["file", "file", "dir", "dir", "escape", "abs_out", "abs_in",
                           "broken", "self", "ancestor"])
        if kind == "file" and files:
            target = os.path.relpath(os.path.join(root, rng.choice(files)), full)
        elif kind == "dir":
            target = os.path.relpath(os.path.join(root, rng.choice(dirs)), full)
        elif kind == "escape":
            target = b"../" * (d.count(b"/") + (2 if d else 1)) + os.path.basename(outside)
        elif kind == "abs_out":
            target = outside
        elif kind == "abs_in" and files:
            target = os.path.join(root, rng.choice(files))
        elif kind == "ancestor":
            target = b"." if rng.random() < 0.3 else b".."
        elif kind == "broken":
            target = b"missing.tif"
        else:
            target = None
        name = random_name(rng, FILE_SUFFIXES + DIR_SUFFIXES)
        p = os.path.join(full, name)
        if os.path.lexists(p):
            continue
        os.symlink(target if target is not None else name, p)
    return dirs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("driver")
    ap.add_argument("--trees", type=int, default=12)
    ap.add_argument("--seed", type=int, default=20260311)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    tmp = tempfile.mkdtemp(prefix="tessera-diffscan-").encode()
    failures = 0
    cases = 0
    total_entries = 0
    try:
        outside = os.path.join(tmp, b"outside.tif")
        with open(outside, "wb") as f:
            f.write(b"outside")
        for t in range(args.trees):
            root = os.path.join(tmp, b"root%d" % t)
            os.mkdir(root)
            dirs = build_tree(rng, root, outside)
            starts = [b"", b"."] + rng.sample(dirs, min(2, len(dirs)))
            for start in starts:
                for recursive, max_depth in ((False, 8), (True, 0), (True, 1), (True, 2),
                                             (True, 8)):
                    for hidden in (False, True):
                        walk_only = rng.random() < 0.5
                        threads = rng.choice([1, 2, 3])
                        want_e, want_x, want_t = reference_scan(root, start, recursive,
                                                                max_depth, hidden)
                        order, got_e, got_x, got_t = driver_scan(
                            args.driver, root, start, recursive, max_depth, hidden, walk_only,
                            threads)
                        cases += 1
                        total_entries += len(want_e)
                        sorted_order = sorted(got_e, key=functools.cmp_to_key(natural_cmp))
                        problems = []
                        if got_e != want_e:
                            missing = sorted(set(want_e) - set(got_e))
                            extra = sorted(set(got_e) - set(want_e))
                            differ = sorted(k for k in set(want_e) & set(got_e)
                                            if want_e[k] != got_e[k])
                            problems.append("entries: missing %r extra %r differ %r"
                                            % (missing[:5], extra[:5],
                                               [(k, want_e[k], got_e[k]) for k in differ[:3]]))
                        if got_x != want_x:
                            problems.append("errors: missing %r extra %r"
                                            % (sorted(want_x - got_x)[:5],
                                               sorted(got_x - want_x)[:5]))
                        if got_t != want_t:
                            problems.append("truncated: got %r want %r" % (got_t, want_t))
                        if order != sorted_order or len(order) != len(set(order)):
                            problems.append("order is not natural: %r" % order[:10])
                        if problems:
                            failures += 1
                            print("FAIL tree %d start=%r recursive=%r depth=%d hidden=%r "
                                  "walk=%r threads=%d:" % (t, start, recursive, max_depth,
                                                           hidden, walk_only, threads))
                            for p in problems:
                                print("   ", p)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("diff_scan: %d cases, %d reference entries in all, %d failed"
          % (cases, total_entries, failures))
    return 1 if failures or cases == 0 or total_entries == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
