#!/usr/bin/env bash
# bench_preview.sh - GET /preview of a 40,000 x 40,000 libvips-written pyramid against
# `vips thumbnail` on the same file: wall time and peak RSS of one run each.
#
# The file is made once (vips sines, uchar, `tiffsave --pyramid --tile`, JPEG Q 85, 256^2
# tiles) and kept in the work directory. The server is started fresh so its peak RSS
# (VmHWM after the request) is the request's; `vips thumbnail` is timed with /usr/bin/time.
# Both produce a 512-pixel image. The load average is printed with the figures, since the
# machine may be shared. Reports only; exits non-zero only when a step fails.
# Usage: tests/bench/bench_preview.sh [BUILD_DIR (build/release)] [WORK_DIR (/tmp/tessera-bench-preview)]
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build/release}
work=${2:-/tmp/tessera-bench-preview}
mkdir -p "$work/root"
slide="$work/root/slide40k.tif"
if [ ! -s "$slide" ]; then
  echo "writing $slide (40000 x 40000, vips pyramid)..."
  start=$(date +%s.%N)
  vips sines "$work/sines.v" 40000 40000 --uchar --hfreq 0.3 --vfreq 0.2
  vips tiffsave "$work/sines.v" "$slide" --pyramid --tile --tile-width 256 --tile-height 256 \
    --compression jpeg --Q 85
  rm -f "$work/sines.v"
  echo "written in $(echo "$(date +%s.%N) - $start" | bc) s, $(du -h "$slide" | cut -f1)"
fi
echo "load before: $(uptime)"

# vips thumbnail: decodes the smallest level that is at least the size, as /preview does.
/usr/bin/time -f '%e %M' -o "$work/vips.time" vips thumbnail "$slide" "$work/vips.png" 512
read -r vips_s vips_kb < "$work/vips.time"

# The server, fresh, one request.
"$build/tessera" --root "$work/root" --port 0 --access-log=false > "$work/server.log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true' EXIT
for _ in $(seq 50); do
  port=$(grep -o '"port":[0-9]*' "$work/server.log" | head -1 | cut -d: -f2 || true)
  [ -n "$port" ] && break
  sleep 0.1
done
base_kb=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
srv_s=$(curl -s -o "$work/tessera.png" -w '%{time_total}' \
  "http://127.0.0.1:$port/preview?path=slide40k.tif&size=512")
srv_kb=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
kill "$pid"
wait "$pid" 2>/dev/null || true
trap - EXIT

size_of() { /usr/bin/python3 -c "import sys; from PIL import Image; print('%dx%d' % Image.open(sys.argv[1]).size)" "$1"; }
echo "load after: $(uptime)"
printf '%-22s %9s %12s %10s\n' "40000^2 pyramid" "time (s)" "peak RSS" "output"
printf '%-22s %9.3f %9d MiB %10s\n' "GET /preview size=512" "$srv_s" $((srv_kb / 1024)) "$(size_of "$work/tessera.png")"
printf '%-22s %9.3f %9d MiB %10s\n' "vips thumbnail 512" "$vips_s" $((vips_kb / 1024)) "$(size_of "$work/vips.png")"
echo "(server peak RSS includes its idle baseline of $((base_kb / 1024)) MiB; vips time includes process start)"
