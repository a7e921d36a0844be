#!/usr/bin/env bash
# Packs what `npm run bench` needs on a GPU machine that has no Node.js and no network (the device
# machine of this workplace) into .device/ (git-ignored, about 30 MB): the node binary and Dawn's
# dawn.node xz-compressed, the Vulkan loader's .deb, and bench/bench.ts bundled into one file.
# Then run scripts/device/run-bench.sh there, carrying .device. Run this after `bash scripts/setup.sh`.
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p .device
node scripts/device/bundle.mjs bench/bench.ts .device/bench.mjs
node_bin=$(command -v node)
if [ ! -f .device/node.xz ] || [ "$(cat .device/node.version 2>/dev/null)" != "$(node --version)" ]; then
  xz -T0 -6 -c "$node_bin" > .device/node.xz
  node --version > .device/node.version
fi
xz -T0 -6 -c node_modules/webgpu/dist/linux-x64/dawn.node > .device/dawn.node.xz
if ! ls .device/libvulkan1_*.deb >/dev/null 2>&1; then
  cached=$(ls /var/cache/apt/archives/libvulkan1_*_amd64.deb 2>/dev/null | head -1 || true)
  if [ -n "$cached" ]; then cp "$cached" .device/; else (cd .device && apt-get download libvulkan1); fi
fi
du -sh .device
