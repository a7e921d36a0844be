#!/usr/bin/env bash
# Packs what the GPU machine (no Node.js, no network; what travels is 64 MiB in all) needs into .device/
# (git-ignored): the node binary and Dawn's dawn.node xz-compressed, the Vulkan loader's .deb, the bench,
# the trainer and the adapter check bundled one file each (scripts/device/bundle.mjs), and with --photos
# the photos as one pack of small JPEGs (scripts/device/pack-photos.ts). Run after `bash scripts/setup.sh`:
#   bash scripts/device/pack.sh --photos ../shared/data/dogs --match 'dog.*'     # 64 px, JPEG quality 90
# then, there, scripts/device/measure-and-train.sh (or run-bench.sh for the bench alone), carrying .device.
# Options: --photos DIR --match GLOB --image-size 64 --quality 90 --limit N (the first N photos only)
#          --out DIR (instead of .device: the dry run of test/device-script.test.ts packs into a temp folder)
#          --xz-level 6 (0 packs node in seconds, 6 MiB larger: the dry run)
set -euo pipefail
cd "$(dirname "$0")/../.."
out=.device photos='' match='' size=64 quality=90 limit='' level=6
while [ $# -gt 0 ]; do
  case "$1" in
    --photos) photos="$2"; shift 2 ;;
    --match) match="$2"; shift 2 ;;
    --image-size) size="$2"; shift 2 ;;
    --quality) quality="$2"; shift 2 ;;
    --limit) limit="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --xz-level) level="$2"; shift 2 ;;
    *) echo "pack.sh: unknown option $1 (see the header of scripts/device/pack.sh)" >&2; exit 2 ;;
  esac
done
mkdir -p "$out"
rm -rf "$out/dist" # dawn.node unpacked by a local run of run-bench.sh: 21 MB that must not travel
node scripts/device/bundle.mjs bench/bench.ts "$out/bench.mjs"
node scripts/device/bundle.mjs src/node/cli/train.ts "$out/train.mjs"
node scripts/device/bundle.mjs scripts/device/check-adapter.ts "$out/check-adapter.mjs"
# node (about 23 MiB xz'd) and dawn.node are compressed again only when they changed
if [ "$(cat "$out/node.version" 2>/dev/null)" != "$(node --version)" ]; then
  if [ "$out" != .device ] && [ "$(cat .device/node.version 2>/dev/null)" = "$(node --version)" ]; then
    cp .device/node.xz "$out/node.xz"
  else
    xz -T0 -"$level" -c "$(command -v node)" > "$out/node.xz"
  fi
  node --version > "$out/node.version"
fi
dawn=node_modules/webgpu/dist/linux-x64/dawn.node
if [ ! -f "$out/dawn.node.xz" ] || [ "$dawn" -nt "$out/dawn.node.xz" ]; then
  if [ "$out" != .device ] && [ -f .device/dawn.node.xz ] && [ .device/dawn.node.xz -nt "$dawn" ]; then cp .device/dawn.node.xz "$out/"
  else xz -T0 -"$level" -c "$dawn" > "$out/dawn.node.xz"; fi
fi
if ! ls "$out"/libvulkan1_*.deb >/dev/null 2>&1; then
  cached=$(ls /var/cache/apt/archives/libvulkan1_*_amd64.deb .device/libvulkan1_*_amd64.deb 2>/dev/null | head -1 || true)
  if [ -n "$cached" ]; then cp "$cached" "$out/"; else (cd "$out" && apt-get download libvulkan1); fi
fi
if [ -n "$photos" ]; then
  node --import tsx scripts/device/pack-photos.ts --data "$photos" ${match:+--match "$match"} --image-size "$size" \
    --quality "$quality" ${limit:+--limit "$limit"} --out "$out/photos.jpgpack"
fi
ls -l "$out" | awk 'NR > 1 && $1 !~ /^d/ { printf "  %-22s %7.2f MiB\n", $9, $5 / 1048576 }'
packed=$(du -sb "$out" | cut -f1)
# what travels besides the carried folder: the tracked files and the untracked ones git does not ignore
tree=$( (git ls-files -z; git ls-files -z -o --exclude-standard) | du -cb --files0-from=- 2>/dev/null | tail -1 | cut -f1)
awk -v p="$packed" -v t="$tree" -v o="$out" 'BEGIN {
  printf "%s: %.1f MiB, with the working tree (%.1f MiB) %.1f MiB of the 64 MiB that may travel\n", o, p / 1048576, t / 1048576, (p + t) / 1048576
  if (p + t > 64 * 1048576) { print "TOO LARGE: lower --quality or --limit"; exit 1 } }'
