#!/usr/bin/env bash
# On the GPU machine (no Node.js, no network): unpack what scripts/device/pack.sh put in .device/,
# point the Vulkan loader at the NVIDIA driver, print what was found, and run the bundled benchmark.
#   bash scripts/device/run-bench.sh [bench flags...]     results: $OUT/bench.json (or ./bench-device.json)
set -uo pipefail
cd "$(dirname "$0")/../.."
work=/tmp/dcgan-device
mkdir -p "$work/bin" "$work/vulkan" .device/dist/linux-x64
[ -x "$work/bin/node" ] || xz -d -c .device/node.xz > "$work/bin/node" && chmod +x "$work/bin/node"
[ -f .device/dist/linux-x64/dawn.node ] || xz -d -c .device/dawn.node.xz > .device/dist/linux-x64/dawn.node
for deb in .device/libvulkan1_*.deb; do dpkg -x "$deb" "$work/vulkan"; done
export LD_LIBRARY_PATH="$work/vulkan/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

echo "== GPU"; nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 || true
echo "== Vulkan ICD files found"
icds=$(ls /usr/local/nvidia/share/vulkan/icd.d/*.json /usr/share/vulkan/icd.d/*.json /etc/vulkan/icd.d/*.json 2>/dev/null || true)
echo "${icds:-none}"
nvidia_icd=$(echo "$icds" | grep -i nvidia | head -1 || true)
if [ -n "$nvidia_icd" ]; then
  export VK_ICD_FILENAMES="$nvidia_icd"  # never a software driver on a GPU machine
  echo "using $nvidia_icd"
fi
echo "== node $("$work/bin/node" --version)"
out="${OUT:-.}"
"$work/bin/node" .device/bench.mjs --json "$out/bench.json" "$@"
