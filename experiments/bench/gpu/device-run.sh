#!/bin/bash
# One prepared GPU run (BENCHMARKS.md, "GPU"): onnxruntime-node's WebGPU execution provider (Dawn over
# Vulkan) against its CPU provider, on a bare linux-x64 machine without Node, from the repo root:
#   bash experiments/bench/gpu/pack.sh                     # here: .gpu/pkg (Node, bundles, native files)
#   (cd .gl && apt-get download libvulkan1 ...)             # here, if the GPU machine lacks the Vulkan loader
#   BUDGET=530 OUT=/some/dir bash .gpu/pkg/device-run.sh   # there: logs to $OUT, stops within BUDGET s
# STEPS (space-separated, in order; each gets what is left of BUDGET, capped):
#   parity          WebGPU vs CPU provider on the embedded prior (relative L2 of depth and latent gradient)
#   parity-seg      the same with the networks cut into many checkpoint segments
#   parity-seg-dev  the same with APERTURE_DEPTH_ONNX_DEVICE_OUTPUTS=1 (segment hand-offs stay on the GPU;
#                   the default behind WebGPU since these runs)
#   real            the real-shape 512x384 iteration on WebGPU (the default settings)
#   real-host       the same with APERTURE_DEPTH_ONNX_DEVICE_OUTPUTS=0 (hand-offs through host memory)
#   real-dev        the same with APERTURE_DEPTH_ONNX_DEVICE_OUTPUTS=1
#   real-dev-768    the same at 768x576
#   tiny            the embedded prior's tfjs-vs-onnx iteration, onnx on WebGPU
#   real-cpu        the real-shape 512x384 iteration on the CPU provider (all cores)
set -u -o pipefail
T0=$(date +%s); BUDGET=${BUDGET:-540}
STEPS=${STEPS:-parity real tiny real-cpu}
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
  echo "STEPS=$STEPS"
} 2>&1 | tee "$OUT/env.txt"
echo "setup done at $(( $(date +%s) - T0 )) s" | tee -a "$OUT/env.txt"
B=".gpu/bench/iteration.mjs"; P=".gpu/bench/provider-parity.mjs"; G="APERTURE_DEPTH_ONNX_PROVIDERS=webgpu,cpu"
D="APERTURE_DEPTH_ONNX_DEVICE_OUTPUTS=1"
# The time a step may take: what is left of BUDGET (less a margin), at most its cap.
within() { local t=$(( $(left) - 5 )); [ $t -gt "$1" ] && t=$1; echo $t; }
# step NAME CAP ENV... : runs `env ENV... timeout T node ...` with T = within CAP, logs to $OUT/NAME.txt.
step() {
  local name=$1 t; t=$(within "$2"); shift 2
  if [ "$t" -lt 20 ]; then echo "$name: skipped, $t s left" | tee "$OUT/$name.txt"; return; fi
  local envs=(); while [ $# -gt 0 ] && [[ $1 == *=* ]]; do envs+=("$1"); shift; done
  env "${envs[@]}" timeout "$t" "$@" 2>&1 | tee "$OUT/$name.txt"
  echo "$name rc=$? at $(( $(date +%s) - T0 )) s" | tee -a "$OUT/$name.txt"
}
for s in $STEPS; do
  case $s in
    parity) step $s 150 $G node $P --providers webgpu,cpu ;;
    parity-seg) step $s 150 $G node $P --providers webgpu,cpu --checkpoint-mb 0.05 ;;
    parity-seg-dev) step $s 150 $G $D node $P --providers webgpu,cpu --checkpoint-mb 0.05 ;;
    real) step $s 240 $G node $B --part real --size 512x384 ;;
    real-host) step $s 240 $G APERTURE_DEPTH_ONNX_DEVICE_OUTPUTS=0 node $B --part real --size 512x384 ;;
    real-dev) step $s 240 $G $D node $B --part real --size 512x384 ;;
    real-dev-768) step $s 300 $G $D node $B --part real --size 768x576 --real-iterations 2 ;;
    tiny) step $s 90 $G node $B --part tiny ;;
    real-cpu) step $s 240 node $B --part real --size 512x384 ;;
    *) echo "unknown step $s" ;;
  esac
done
echo "end at $(( $(date +%s) - T0 )) s"
