#!/usr/bin/env bash
# One command on the GPU machine (NVIDIA, no Node.js, no network) that measures and trains, inside 10 minutes:
#   1. unpack .device/ (scripts/device/env.sh) and check the adapter: an NVIDIA GPU, or a loud FAILED line
#      and exit 3 (a software driver such as lavapipe, llvmpipe or SwiftShader is refused unless
#      --allow-software or DCGAN_ALLOW_SOFTWARE=1 is given: the dry run on a machine without a GPU);
#   2. decode the photo pack (64 px JPEGs) with Python + Pillow into the trainer's uint8 image cache
#      (scripts/device/device.py unpack-photos; the format of src/node/data/cache.ts);
#   3. the bench (ceilings, every conv pass, the whole iteration; default --batch 64,128 --variants fast;
#      no TF.js peer there), at most --bench-s seconds;
#   4. a training run (default 64x64, ngf = ndf = 64, batch 64) on the cache (--data-cache) for --train-s
#      seconds (default 360, less if the bench ran long), stopped by SIGINT, on which the trainer finishes
#      its iteration, writes a checkpoint and exits 130;
#   5. brings back in $OUT (at most 8 files of 16 MiB): bench.json, generator.safetensors (the netG tensors
#      and the checkpoint's metadata: `npm run generate -- --checkpoint generator.safetensors` draws from
#      it), samples.tar (sample grids as many as fit in 15 MiB, and run.json), latest.png, log.jsonl, and
#      device.log (all of this script's output, of which the console shows less).
# The output tail ends with a summary: adapter, bench figures, training epochs and losses, phase times.
#
# Here (after `bash scripts/setup.sh`), once: .device is then 53 MiB with the 10,000 dogs at JPEG quality 90
# (24 MiB of it; 54.4 of the 64 MiB that may travel, with the working tree):
#   bash scripts/device/pack.sh --photos ../shared/data/dogs --match 'dog.*'
# There (the device tool's run, carry [".device"], timeout_s 600):
#   bash scripts/device/measure-and-train.sh
# The dry run here on lavapipe, tiny (test/device-script.test.ts does this in a copy without node_modules):
#   bash scripts/device/pack.sh --photos ../shared/data/dogs --match 'dog.*' --image-size 16 --limit 48 --out /tmp/dry/.device
#   cp -r scripts /tmp/dry/ && cd /tmp/dry && OUT=/tmp/dry/out bash scripts/device/measure-and-train.sh --allow-software \
#     --train-s 20 --bench-s 120 --train-args '--image-size 16 --ngf 8 --ndf 8 --batch-size 8 --sample-every 5' \
#     --bench-args '--batch 4 --image-size 16 --ngf 8 --ndf 8 --repeat 1 --sgemm-size 128 --copy-mb 1 --variants fast'
#   (python3 must have Pillow: Debian's python3-pil, which setup.sh installs; PYTHON=/usr/bin/python3 picks one)
# Options: --allow-software --budget-s 570 (the whole script) --bench-s 200 --train-s 360
#          --bench-args '...' --train-args '...' (replace the defaults above; e.g. --budget-s 420 --train-s 240
#          for a session that wants device time left to rerun)
# --tune auto goes to the bench and the trainer when their --help lists it; a --tune in the args overrides it.
set -uo pipefail
cd "$(dirname "$0")/../.."
allow='' budget=570 bench_s=200 train_s=360
bench_args='--batch 64,128 --variants fast'
train_args='--image-size 64 --ngf 64 --ndf 64 --batch-size 64 --sample-every 500'
while [ $# -gt 0 ]; do
  case "$1" in
    --allow-software) allow=--allow-software; shift ;;
    --budget-s) budget="$2"; shift 2 ;;
    --bench-s) bench_s="$2"; shift 2 ;;
    --train-s) train_s="$2"; shift 2 ;;
    --bench-args) bench_args="$2"; shift 2 ;;
    --train-args) train_args="$2"; shift 2 ;;
    *) echo "FAILED: unknown option $1 (see the header of scripts/device/measure-and-train.sh)"; exit 2 ;;
  esac
done
[ "${DCGAN_ALLOW_SOFTWARE:-}" = 1 ] && allow=--allow-software
out="${OUT:-$PWD/device-out}"
mkdir -p "$out"
t0=$(date +%s)
phase_start=$t0 phases=''
elapsed() { echo $(( $(date +%s) - t0 )); }
stamp() { printf '\n[%s UTC, +%ss] == %s\n' "$(date -u +%H:%M:%S)" "$(elapsed)" "$*"; }
# phase NAME [DETAIL]: a heading, and the time of the phase that ends, for the summary line
phase() {
  local now; now=$(date +%s)
  [ -n "${phase_name:-}" ] && phases="$phases$phase_name $((now - phase_start)) s, "
  phase_name=$1 phase_start=$now
  stamp "$1${2:+ ($2)}"
}
fail() { stamp "device run FAILED: $*"; exit "${2:-1}"; }
# the flag another version of the bench or the trainer may not have: passed only when its --help lists it
tune_flag() { "$node" "$1" --help 2>/dev/null | grep -q -- '--tune' && echo '--tune auto'; }

main() {
  local rc
  phase unpack "$(du -sh "${DCGAN_DEVICE_DIR:-.device}" | cut -f1) in .device"
  source scripts/device/env.sh
  "$node" --version >/dev/null 2>&1 && [ -f "$device_dir/dist/linux-x64/dawn.node" ] ||
    fail "could not unpack and run node from .device into $work (was scripts/device/pack.sh run here and .device carried? a noexec /tmp: set DCGAN_DEVICE_WORK)"
  python=''
  for p in ${PYTHON:-} python3 /usr/bin/python3; do
    if "$p" -c 'import PIL' 2>/dev/null; then python=$p; break; fi
  done
  [ -n "$python" ] || fail 'no python3 with Pillow (PIL) found: it decodes the photo pack'

  phase 'adapter'
  "$node" "$device_dir/check-adapter.mjs" $allow
  rc=$?
  if [ $rc -ne 0 ]; then
    echo '-- the Vulkan loader on that (VK_LOADER_DEBUG=error,warn), last lines:'
    VK_LOADER_DEBUG=error,warn "$node" "$device_dir/check-adapter.mjs" 2>&1 | grep -v '^FAILED' | tail -n 25
  fi
  [ $rc -eq 3 ] && fail 'not an NVIDIA GPU adapter (see the FAILED line above): nothing measured' 3
  [ $rc -eq 0 ] || fail "the adapter check crashed (exit $rc, above): nothing measured" 3

  phase 'photos'
  [ -f "$device_dir/photos.jpgpack" ] || fail "no $device_dir/photos.jpgpack: run scripts/device/pack.sh --photos DIR here first"
  "$python" scripts/device/device.py unpack-photos "$device_dir/photos.jpgpack" "$work/photos.u8cache" || fail 'decoding the photo pack'

  phase bench "$bench_args, at most $bench_s s"
  local bench_tune; bench_tune=$(tune_flag "$device_dir/bench.mjs")
  timeout --foreground --preserve-status -s INT -k 20 "$bench_s" "$node" "$device_dir/bench.mjs" --json "$out/bench.json" $bench_tune $bench_args
  rc=$?
  [ $rc -eq 0 ] || stamp "bench exited $rc ($([ $rc -eq 130 ] || [ $rc -eq 137 ] && echo "stopped after $bench_s s" || echo failed)); training anyway"

  local seconds=$(( budget - $(elapsed) - 40 ))
  [ "$seconds" -gt "$train_s" ] && seconds=$train_s
  [ "$seconds" -ge 10 ] || fail "no time left to train ($(elapsed) s of the $budget s used)"
  phase train "$train_args, $seconds s"
  local run="$work/run" train_tune; train_tune=$(tune_flag "$device_dir/train.mjs")
  rm -rf "$run"
  # SIGINT at the time limit: the trainer finishes its iteration, writes the checkpoint, exits 130. --foreground:
  # without it timeout sends the signal to the child and then to its whole process group, so the trainer can
  # get two SIGINTs, and a second one quits at once without the final checkpoint (seen once in CI)
  timeout --foreground --preserve-status -s INT -k 60 "$seconds" "$node" "$device_dir/train.mjs" --data-cache "$work/photos.u8cache" \
    --out "$run" --epochs 100000 $train_tune $train_args
  rc=$?
  stamp "trainer exited $rc ($([ $rc -eq 130 ] && [ -f "$run/checkpoint.safetensors" ] && echo 'stopped by SIGINT at the time limit, checkpoint written' || echo 'see above'))"

  phase 'extract'
  [ -f "$run/checkpoint.safetensors" ] || fail "no checkpoint in $run: see the trainer's lines above"
  "$python" scripts/device/device.py generator "$run/checkpoint.safetensors" "$out/generator.safetensors"
  "$python" scripts/device/device.py samples "$run" "$out/samples.tar"
  cp "$run/samples/latest.png" "$out/latest.png" 2>/dev/null
  cp "$run/log.jsonl" "$out/log.jsonl" && "$python" scripts/device/device.py shrink "$out/log.jsonl"

  phase 'summary'
  "$python" scripts/device/device.py summary "$out" "$run"
  echo "phases: ${phases}total $(elapsed) s"
  [ -f "$out/bench.json" ] && [ -f "$out/generator.safetensors" ] || fail 'bench.json or generator.safetensors missing (above)'
  echo 'device run OK'
}

# device.log gets everything; the console (whose last 12,000 characters come back) leaves out the bench's
# progress lines (its tables follow) and of the trainer's progress keeps the ends of epochs 1-3, every 10th
# and the last before the trainer's closing lines
main 2>&1 | tee "$out/device.log" | awk '
  /^  batch [0-9]+ / { next }
  /^epoch [0-9]+\/[0-9]+/ { if (!/ in [0-9]/) next; split($2, e, "/")
    if (e[1] <= 3 || e[1] % 10 == 0) { print; pending = "" } else pending = $0; fflush(); next }
  { if (pending != "") print pending; pending = ""; print; fflush() }'
exit "${PIPESTATUS[0]}"
