// The HDF5 worker of core/io/hdf5-client.ts: runs h5wasm (libhdf5 compiled to wasm) off the main thread,
// because a corrupt file can make libhdf5 loop forever or abort, and only a worker can be stopped.
// Plain JavaScript so that it starts without a TypeScript loader (workers do not inherit tsx's hooks).
// Requests and replies are described by `Hdf5Request` / `Hdf5Reply` in hdf5-client.ts.
import fs from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';

// Record the file descriptors libhdf5 opens (h5wasm's Node build does real fs.openSync calls), so the
// parent can close them if it has to stop this worker in the middle of a call.
const openFds = new Int32Array(workerData.fds);
const openSync = fs.openSync;
const closeSync = fs.closeSync;
fs.openSync = (...args) => {
  const fd = openSync(...args);
  const slot = openFds.indexOf(0);
  if (slot >= 0) Atomics.store(openFds, slot, fd);
  return fd;
};
fs.closeSync = (fd) => {
  const slot = openFds.indexOf(fd);
  if (slot >= 0) Atomics.store(openFds, slot, 0);
  return closeSync(fd);
};

// emscripten binds its error printer when the module is created: drop its "Aborted(...)" line, the
// abort is reported to the parent as an error instead.
const consoleError = console.error;
console.error = (...args) => {
  if (typeof args[0] === 'string' && args[0].startsWith('Aborted(')) return;
  consoleError.apply(console, args);
};
const { default: h5wasm } = await import('h5wasm/node');
const Module = await h5wasm.ready;
console.error = consoleError;
// HDF5 errors become thrown JS errors (the stack as text) instead of lines on stderr.
Module.activate_throwing_error_handler();

/** Attributes bigger than this are not read (they are metadata; a corrupt size must not allocate). */
const MAX_ATTR_BYTES = 1 << 20;
const files = new Map();
let nextFid = 1;

function fileOf(fid) {
  const f = files.get(fid);
  if (!f) throw new Error(`no open file ${fid}`);
  return f;
}

/** Attribute value → string | number | number[] | string[], or undefined for kinds not returned. */
function plainValue(v) {
  if (typeof v === 'string' || typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (ArrayBuffer.isView(v) && !(v instanceof DataView)) return Array.from(v, Number);
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v;
  if (Array.isArray(v) && v.every((x) => typeof x === 'number')) return v;
  return undefined;
}

const OPS = {
  open({ path }) {
    const f = new h5wasm.File(path, 'r');
    if (f.file_id < 0n) throw new Error('could not open the file');
    const fid = nextFid++;
    files.set(fid, f);
    return fid;
  },

  close({ fid }) {
    const f = files.get(fid);
    files.delete(fid);
    if (f) f.close();
    return null;
  },

  /** Every object below the root: datasets with their type, shape, layout and filter count. */
  list({ fid }) {
    const f = fileOf(fid);
    return f.paths().map((name) => {
      const e = f.get(name);
      if (e instanceof h5wasm.Dataset) {
        const m = e.metadata;
        const meta = { type: m.type, size: m.size, signed: m.signed, littleEndian: m.littleEndian, shape: m.shape, chunks: m.chunks };
        return { name, kind: 'dataset', path: e.path, meta, filters: e.filters.length };
      }
      return { name, kind: e instanceof h5wasm.Group ? 'group' : 'other', path: name };
    });
  },

  attrs({ fid, path }) {
    const f = fileOf(fid);
    const values = {};
    const skipped = [];
    for (const name of Module.get_attribute_names(f.file_id, path)) {
      try {
        const m = Module.get_attribute_metadata(f.file_id, path, name);
        if (!m.shape || m.size * m.total_size > MAX_ATTR_BYTES) {
          skipped.push(name);
          continue;
        }
        const obj = path === '/' ? f : f.get(path);
        const v = plainValue(obj.get_attribute(name, false));
        if (v === undefined) skipped.push(name);
        else values[name] = v;
      } catch (err) {
        if (isTrap(err)) throw err;
        skipped.push(name);
      }
    }
    return { values, skipped };
  },

  /** Reads `nbytes` of a dataset (a hyperslab when `sel` is given) into a transferable buffer. */
  read({ fid, path, sel, nbytes }) {
    const f = fileOf(fid);
    if (nbytes === 0) return new ArrayBuffer(0);
    const ptr = Module._malloc(nbytes);
    if (!ptr) throw new Error(`could not allocate ${nbytes} bytes`);
    try {
      const big = (xs) => (sel ? xs.map(BigInt) : null);
      const status = Module.get_dataset_data(f.file_id, path, big(sel?.count), big(sel?.offset), big(sel?.strides), BigInt(ptr));
      if (status < 0) throw new Error('reading the data failed');
      return Module.HEAPU8.slice(ptr, ptr + nbytes).buffer;
    } finally {
      Module._free(ptr);
    }
  },

  /** Writes `content` (already checked by the caller) to `path`. */
  write({ path, content }) {
    const f = new h5wasm.File(path, 'w');
    try {
      const putAttr = (obj, [name, value]) => {
        if (typeof value === 'string') obj.create_attribute(name, value);
        else if (typeof value === 'number') obj.create_attribute(name, value, [], '<d');
        else obj.create_attribute(name, Float64Array.from(value), [value.length], '<d');
      };
      for (const a of content.attrs) putAttr(f, a);
      for (const ds of content.datasets) {
        const parts = ds.name.split('/');
        for (let i = 1; i < parts.length; i++) {
          const group = parts.slice(0, i).join('/');
          if (!f.get(group)) f.create_group(group);
        }
        f.create_dataset({ name: ds.name, data: ds.data, shape: ds.shape, dtype: ds.format });
        const obj = f.get(ds.name);
        for (const a of ds.attrs) putAttr(obj, a);
      }
    } finally {
      f.close();
    }
    return null;
  },
};

function isTrap(err) {
  return err instanceof WebAssembly.RuntimeError || /^Aborted\(/.test(String(err?.message ?? err));
}

parentPort.on('message', (msg) => {
  try {
    const result = OPS[msg.op](msg);
    parentPort.postMessage({ id: msg.id, ok: true, result }, result instanceof ArrayBuffer ? [result] : []);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    parentPort.postMessage({ id: msg.id, ok: false, message, trap: isTrap(err) });
  }
});
parentPort.postMessage({ ready: true });
