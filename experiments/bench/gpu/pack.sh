#!/bin/bash
# Packs what a bare linux-x64 GPU machine without Node needs to run two benches of experiments/bench
# (BENCHMARKS.md, "GPU"): a stripped, xz-compressed Node binary, the two
# benches bundled by esbuild (tfjs and the project's code inside; onnxruntime-node outside, with only its
# linux-x64 native files), the tfjs wasm binary, and device-run.sh. Output: .gpu/pkg (git-ignored; about
# 34 MiB, which with the ~29 MiB working tree stays under the device tool's 64 MiB). Run from the repo root.
#   bash experiments/bench/gpu/pack.sh && (device) bash .gpu/pkg/device-run.sh
set -euo pipefail
[ -f package.json ] && [ -d node_modules/onnxruntime-node ] || { echo "run from the repo root after npm ci" >&2; exit 1; }
grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >> .git/info/exclude
S=.gpu/stage; P=.gpu/pkg
# The compressed Node binary is kept between packs while the binary is the same (it takes minutes).
stamp="$(node --version) $(stat -c %s "$(command -v node)")"
if [ -s "$P/node.xz" ] && [ "$(cat "$P/node.stamp" 2>/dev/null)" = "$stamp" ]; then keep=1; else keep=0; fi
rm -rf "$S"; mkdir -p "$S/bench" "$S/node_modules/@protobufjs" "$S/node_modules/onnxruntime-node" "$P"
[ $keep = 1 ] || rm -f "$P/node.xz" "$P/node.stamp"
banner="import { createRequire as __cr } from 'node:module'; import { fileURLToPath as __f } from 'node:url'; import { dirname as __d } from 'node:path'; const require = __cr(import.meta.url); const __filename = __f(import.meta.url); const __dirname = __d(__filename);"
for f in iteration provider-parity; do
  # The bundle sits at .gpu/bench/, two folders below the repo root, as its sources sit in experiments/bench/.
  npx esbuild "experiments/bench/$f.ts" --bundle --minify --keep-names --platform=node --format=esm --target=node20 \
    --external:onnxruntime-node --outfile="$S/bench/$f.mjs" --log-level=warning --banner:js="$banner"
done
cp node_modules/@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm "$S/bench/"
cp -r experiments/bench/configs "$S/bench/"
# Required at run time through createRequire (not bundled): onnx-proto and protobufjs; onnxruntime-node.
for p in onnx-proto protobufjs long onnxruntime-common; do cp -r "node_modules/$p" "$S/node_modules/"; done
cp -r node_modules/@protobufjs/* "$S/node_modules/@protobufjs/"
rm -rf "$S/node_modules/protobufjs/dist" "$S/node_modules/protobufjs/cli"
(cd node_modules/onnxruntime-node && tar cf - --exclude=bin/napi-v6/darwin --exclude=bin/napi-v6/win32 --exclude=bin/napi-v6/linux/arm64 .) \
  | (cd "$S/node_modules/onnxruntime-node" && tar xf -)
tar cJf "$P/stage.tar.xz.tmp" -C "$S" . && mv "$P/stage.tar.xz.tmp" "$P/stage.tar.xz"
if [ $keep = 0 ]; then
  strip -o "$S/node" "$(command -v node)"
  xz -9 -T0 -c "$S/node" > "$P/node.xz.tmp" && mv "$P/node.xz.tmp" "$P/node.xz" && echo "$stamp" > "$P/node.stamp"
fi
cp experiments/bench/gpu/device-run.sh "$P/"
rm -rf "$S"
du -ch "$P"/* | tail -1
