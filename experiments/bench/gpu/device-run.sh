#!/bin/bash
# One prepared GPU run (BENCHMARKS.md, "GPU"): onnxruntime-node's WebGPU execution provider (Dawn over
# Vulkan) against its CPU provider, on a bare linux-x64 machine without Node, from the repo root:
#   bash experiments/bench/gpu/pack.sh                     # here: .gpu/pkg (Node, bundles, native files)
#   (cd .gl && apt-get download libvulkan1 ...)             # here, if the GPU machine lacks the Vulkan loader
#   BUDGET=530 OUT=/some/dir bash .gpu/pkg/device-run.sh   # there: logs to $OUT, stops within BUDGET s
# Order: WebGPU vs CPU parity of the embedded prior; the real-shape 512x384 iteration on WebGPU; the tiny
# prior's tfjs-vs-onnx iteration with WebGPU; the real-shape iteration on the CPU provider (all cores).
set -u -o pipefail
T0=$(date +%s); BUDGET=${BUDGET:-540}
left() { echo $(( BUDGET - ($(date +%s) - T0) )); }
if ls .gl/*.deb >/dev/null 2>&1; then for f in .gl/*.deb; do dpkg -x "$f" /; done; ldconfig; fi
OUT=${OUT:?set OUT to a folder for the logs}; mkdir -p "$OUT"
ICD=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
[ -f "$ICD" ] && export VK_DRIVER_FILES=$ICD
mkdir -p /tmp/nodebin && xz -dc .gpu/pkg/node.xz > /tmp/nodebin/node && chmod +x /tmp/nodebin/node && export PATH=/tmp/nodebin:$PATH
mkdir -p .gpu && tar xJf .gpu/pkg/stage.tar.xz -C .gpu
{
  date -u; nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv; nproc; free -g | head -2
  echo "VK_DRIVER_FILES=${VK_DRIVER_FILES:-}"; ldconfig -p | grep -i libvulkan; ls /usr/share/vulkan/icd.d /etc/vulkan/icd.d /usr/local/nvidia/share/vulkan/icd.d 2>&1
  node --version
  node -e "const o=require('./.gpu/node_modules/onnxruntime-node'); console.log(JSON.stringify(o.listSupportedBackends()), o.env.versions)"
  python3 -c "import onnxruntime as o; print('python onnxruntime', o.__version__, o.get_available_providers())" 2>&1 | tail -1
} 2>&1 | tee $OUT/env.txt
echo "setup done at $(( $(date +%s) - T0 )) s" | tee -a $OUT/env.txt
export APERTURE_DEPTH_ONNX_PROVIDERS=webgpu,cpu
timeout 150 node .gpu/bench/provider-parity.mjs --providers webgpu,cpu 2>&1 | tee $OUT/parity.txt
echo "parity rc=$? at $(( $(date +%s) - T0 )) s" | tee -a $OUT/parity.txt
t=$(( $(left) - 150 )); [ $t -gt 240 ] && t=240
if [ $t -gt 60 ]; then
  timeout $t node .gpu/bench/iteration.mjs --part real --size 512x384 --peak 240 2>&1 | tee $OUT/real-webgpu.txt
  echo "real webgpu rc=$? at $(( $(date +%s) - T0 )) s" | tee -a $OUT/real-webgpu.txt
fi
t=$(( $(left) - 100 )); [ $t -gt 90 ] && t=90
if [ $t -gt 30 ]; then
  timeout $t node .gpu/bench/iteration.mjs --part tiny 2>&1 | tee $OUT/tiny-webgpu.txt
  echo "tiny webgpu rc=$? at $(( $(date +%s) - T0 )) s" | tee -a $OUT/tiny-webgpu.txt
fi
unset APERTURE_DEPTH_ONNX_PROVIDERS
t=$(( $(left) - 10 ))
if [ $t -gt 60 ]; then
  timeout $t node .gpu/bench/iteration.mjs --part real --size 512x384 --peak 240 2>&1 | tee $OUT/real-cpu16.txt
  echo "real cpu rc=$? at $(( $(date +%s) - T0 )) s" | tee -a $OUT/real-cpu16.txt
fi
echo "end at $(( $(date +%s) - T0 )) s"
