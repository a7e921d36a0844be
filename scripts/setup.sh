#!/usr/bin/env bash
# Installs what this project needs on Debian 12 (bookworm): the Vulkan loader, a software Vulkan driver
# for machines without a GPU (Mesa's lavapipe from bookworm-backports: Debian 12's own Mesa 22 is too old
# for Dawn), Chromium (browser tests, and its SwiftShader as a second software driver), Pillow for Python
# (test/device-script.test.ts decodes the GPU machine's photo pack with it, as that machine does), PyTorch
# for Python (test/pytorch-interop.test.ts checks weights both ways against the real one), then npm packages.
# On a machine with a real GPU and its Vulkan driver, the software drivers are only a fallback.
set -euo pipefail
cd "$(dirname "$0")/.."

if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  sources=/etc/apt/sources.list.d/debian.sources
  if [ -f "$sources" ] && grep -q '^Suites: bookworm ' "$sources" && ! grep -q bookworm-backports "$sources"; then
    sed -i 's/^Suites: bookworm bookworm-updates$/Suites: bookworm bookworm-updates bookworm-backports/' "$sources"
  fi
  apt-get update -q
  apt-get install -y -q chromium libvulkan1 python3-pil python3-torch
  if grep -qs bookworm-backports "$sources"; then
    apt-get install -y -q -t bookworm-backports mesa-vulkan-drivers
  else
    apt-get install -y -q mesa-vulkan-drivers
  fi
elif ! ldconfig -p 2>/dev/null | grep -q libvulkan.so.1; then
  echo "setup: not root, and no Vulkan loader found: install libvulkan1 and a Vulkan driver (mesa-vulkan-drivers ≥ 23 or a GPU's), then rerun" >&2
fi

npm ci --no-audit --no-fund
