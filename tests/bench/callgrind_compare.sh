#!/usr/bin/env bash
# Instruction counts of the core routines in two builds, side by side: valgrind's callgrind
# counts instructions, not seconds, so the comparison holds on a loaded machine (a timing
# benchmark there is noise). Each case runs the bench driver of each build once on the same
# data with one thread, counting only inside the core entry point (--toggle-collect).
# usage: tests/bench/callgrind_compare.sh OLD_BUILD_DIR NEW_BUILD_DIR
# Both build dirs need the bench_overlap, bench_topk and bench_scan targets built.
# Prints: case, old Ir, new Ir, new/old. Not pass/fail.
set -euo pipefail
old=$1 new=$2
py=/usr/bin/python3
work=$(mktemp -d /tmp/tessera-cg.XXXXXX)
trap 'rm -rf "$work"' EXIT

"$py" - "$work" <<'PY'
import os, sys
import numpy as np
import tifffile
from scipy import ndimage as ndi
d = sys.argv[1]
rng = np.random.default_rng(13)
def cells(size, n):
    m = np.zeros((size, size), np.uint32)
    m[rng.integers(0, size, n), rng.integers(0, size, n)] = np.arange(1, n + 1, dtype=np.uint32)
    dist, (iy, ix) = ndi.distance_transform_edt(m == 0, return_indices=True)
    lab = m[iy, ix]
    lab[dist > 12] = 0
    return lab
a = cells(2048, 5000)
b = np.roll(a, (3, 2), axis=(0, 1))
a.tofile(os.path.join(d, "a.raw")); b.tofile(os.path.join(d, "b.raw"))
tifffile.imwrite(os.path.join(d, "a.tif"), a, compression="zlib", rowsperstrip=64)
tifffile.imwrite(os.path.join(d, "b.tif"), b, compression="zlib", rowsperstrip=64)
t = os.path.join(d, "topk"); os.makedirs(t)
rng.random(10_000_000).tofile(os.path.join(t, "values.f64"))
rng.random((5000, 5000)).tofile(os.path.join(t, "rows.f64"))
rng.random((1_000_000, 2)).tofile(os.path.join(t, "points_uniform.f64"))
rng.random((1_000_000, 2)).tofile(os.path.join(t, "points_clustered.f64"))
s = os.path.join(d, "scan")
for c in range(20):
    os.makedirs(os.path.join(s, f"cyc{c}"))
    for i in range(500):
        ext = [".tif", ".ome.tiff", ".TIF", ".txt", ".zarr"][i % 5]
        p = os.path.join(s, f"cyc{c}", f"img{i}{ext}")
        if ext == ".zarr":
            os.makedirs(p)
        else:
            open(p, "w").close()
PY

ir() { # ir TOGGLE CMD... : instructions inside TOGGLE (inclusive)
  local toggle=$1
  shift
  valgrind --tool=callgrind --callgrind-out-file="$work/cg.out" --toggle-collect="$toggle" \
    "$@" >/dev/null 2>"$work/cg.err"
  awk '/^summary:/ {print $2}' "$work/cg.out"
}

printf '%-42s %16s %16s %8s\n' case old_Ir new_Ir new/old
row() { # row NAME TOGGLE ARGS... (ARGS after the driver name)
  local name=$1 toggle=$2 drv=$3
  shift 3
  local o n
  o=$(ir "$toggle" "$old/tests/$drv" "$@")
  n=$(ir "$toggle" "$new/tests/$drv" "$@")
  printf '%-42s %16s %16s %8.3f\n' "$name" "$o" "$n" "$(echo "$n / $o" | bc -l)"
}
row "overlap count 2048^2 (in memory)" overlap_counter_add bench_overlap count "$work/a.raw" "$work/b.raw" 1 1
row "overlap finish 2048^2" overlap_counter_finish bench_overlap count "$work/a.raw" "$work/b.raw" 1 1
row "overlap stream 2048^2 deflate TIFFs" load_overlap bench_overlap stream "$work/a.tif" "$work/b.tif" 1 1
row "topk values n=10^6 k=10" topk_values bench_topk "$work/topk" 1 1 "values n=1000000 k=10"
row "topk rows 5000x5000 k=10 exclude_self" topk_rows bench_topk "$work/topk" 1 1 "rows 5000x5000 k=10 exclude_self"
row "knn uniform n=10^5 k=10" knn_points bench_topk "$work/topk" 1 1 "points uniform n=100000 k=10"
row "scan 20 dirs x 500, recursive, stat" scan_tree bench_scan "$work/scan" -r --repeat 1 --no-warmup
