#!/usr/bin/env bash
# On the GPU machine (no Node.js, no network): unpack what scripts/device/pack.sh put in .device/,
# point the Vulkan loader at the NVIDIA driver, print what was found, and run the bundled benchmark.
#   bash scripts/device/run-bench.sh [bench flags...]     results: $OUT/bench.json (or ./bench-device.json)
# The bench and a training run in one command, with the adapter checked first: measure-and-train.sh.
set -uo pipefail
cd "$(dirname "$0")/../.."
source scripts/device/env.sh
out="${OUT:-.}"
"$node" "$device_dir/bench.mjs" --json "$out/bench.json" "$@"
