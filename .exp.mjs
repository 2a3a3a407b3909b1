let gen = 0;
const mode = process.argv[2];
async function load() { const m = await import(import.meta.resolve('h5wasm/node') + '?g=' + (gen++)); const h = m.default; const M = await h.ready; M.activate_throwing_error_handler(); return { h, M }; }
let inst = await load();
let aborts = 0, errors = 0;
const T = Date.now();
const FROM = Number(process.argv[3] ?? 0); for (let i = FROM; i <= 182; i++) {
  const p = `/tmp/io-smoke/case-${i}.h5`;
  const t0 = Date.now(); 
  let f; let trap = false, failed = false;
  try {
    f = new inst.h.File(p, 'r');
    for (const n of f.paths()) { const e = f.get(n); if (e instanceof inst.h.Dataset) { e.metadata; Object.keys(e.attrs).forEach(k => e.attrs[k].value); e.value; } }
    Object.keys(f.attrs).forEach(k => f.attrs[k].value);
  } catch (e) { failed = true; if (e instanceof WebAssembly.RuntimeError) trap = true; }
  finally { try { if (f && f.file_id >= 0n) f.close(); } catch (e) { failed = true; if (e instanceof WebAssembly.RuntimeError) trap = true; } }
  if (trap) aborts++; if (failed) errors++;
  if (trap) console.log('trap at', i);
  if (Date.now() - t0 > 500) console.log('slow', i, Date.now() - t0);
  if ((mode === 'reset-on-abort' && trap) || (mode === 'reset-on-error' && failed)) inst = await load();
}
console.log(mode, 'done; aborts', aborts, 'errors', errors, 'gens', gen, Date.now() - T, 'ms');
