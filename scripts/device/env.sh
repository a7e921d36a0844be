# Sourced by scripts/device/run-bench.sh and measure-and-train.sh on the GPU machine (no Node.js, no
# network): unpacks what scripts/device/pack.sh put in .device/ (node, Dawn's dawn.node, the Vulkan
# loader's .deb, unpacked with dpkg -x, never into /) and points the loader at the NVIDIA driver.
# Sets $node (the node binary) and $work (DCGAN_DEVICE_WORK, default /tmp/dcgan-device).
work="${DCGAN_DEVICE_WORK:-/tmp/dcgan-device}"
device_dir="${DCGAN_DEVICE_DIR:-.device}"
mkdir -p "$work/bin" "$work/vulkan" "$device_dir/dist/linux-x64"
node="$work/bin/node"
# xz and dpkg, else Python's lzma and an ar/tar reader (scripts/device/device.py): one image may lack them
have() { command -v "$1" >/dev/null 2>&1; }
python_any=$(for p in ${PYTHON:-} python3 /usr/bin/python3; do have "$p" && echo "$p" && break; done)
unxz() { if have xz; then xz -d -c "$1"; else "$python_any" scripts/device/device.py unxz "$1"; fi; }
if [ ! -x "$node" ] || [ "$("$node" --version 2>/dev/null)" != "$(cat "$device_dir/node.version" 2>/dev/null)" ]; then
  unxz "$device_dir/node.xz" > "$node.tmp" && chmod +x "$node.tmp" && mv "$node.tmp" "$node"
fi
# beside the bundles: the webgpu package loads dist/linux-x64/dawn.node from the bundle's folder
dawn="$device_dir/dist/linux-x64/dawn.node"
if [ ! -f "$dawn" ] || [ "$device_dir/dawn.node.xz" -nt "$dawn" ]; then
  unxz "$device_dir/dawn.node.xz" > "$dawn.tmp" && mv "$dawn.tmp" "$dawn"
fi
for deb in "$device_dir"/libvulkan1_*.deb; do
  if have dpkg; then dpkg -x "$deb" "$work/vulkan"; else "$python_any" scripts/device/device.py extract-deb "$deb" "$work/vulkan"; fi
done
export LD_LIBRARY_PATH="$work/vulkan/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
# the driver's own libraries (the ICD file may name libGLX_nvidia.so.0 without a path)
for lib in /usr/local/nvidia/lib64 /usr/local/nvidia/lib; do [ -d "$lib" ] && LD_LIBRARY_PATH="$LD_LIBRARY_PATH:$lib"; done

echo "== GPU: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | head -1)"
icds=$(ls /usr/local/nvidia/share/vulkan/icd.d/*.json /usr/share/vulkan/icd.d/*.json /etc/vulkan/icd.d/*.json 2>/dev/null || true)
echo "== Vulkan ICD files found: $(echo ${icds:-none})"
nvidia_icd=$(echo "$icds" | grep -i nvidia | head -1 || true)
if [ -n "$nvidia_icd" ]; then
  # only the NVIDIA driver: never a software one on a GPU machine (both names: old and new loaders)
  export VK_DRIVER_FILES="$nvidia_icd" VK_ICD_FILENAMES="$nvidia_icd"
  echo "using $nvidia_icd"
fi
echo "== node $("$node" --version)"
