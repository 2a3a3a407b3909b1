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

const STRING = 3;
const INTEGER = 0;
const FLOAT = 1;

/**
 * Reads one attribute as string | number | number[] | string[] (undefined: a kind not returned).
 * Done here rather than with h5wasm's Attribute: after a failed read of variable-length strings h5wasm
 * frees the half-filled buffer's pointers, which aborts the module on a corrupt file.
 */
function readAttr(fid, path, name) {
  const m = Module.get_attribute_metadata(fid, path, name);
  if (!m.shape || m.size * m.total_size > MAX_ATTR_BYTES) return undefined;
  if (m.type !== STRING && m.type !== INTEGER && m.type !== FLOAT) return undefined;
  if (m.type === FLOAT && m.size !== 4 && m.size !== 8) return undefined;
  const nbytes = m.size * m.total_size;
  const ptr = Module._malloc(Math.max(nbytes, 1));
  if (!ptr) return undefined;
  let filled = false;
  try {
    Module.get_attribute_data(fid, path, name, BigInt(ptr));
    filled = true;
    const bytes = Module.HEAPU8.slice(ptr, ptr + nbytes);
    const n = m.total_size;
    let values;
    if (m.type === STRING && m.vlen) {
      const ptrs = new Uint32Array(bytes.buffer, 0, n);
      values = Array.from(ptrs, (p) => (p ? Module.UTF8ToString(p) : ''));
    } else if (m.type === STRING) {
      const decoder = new TextDecoder(m.cset === 1 ? 'utf-8' : 'latin1');
      values = [];
      for (let i = 0; i < n; i++) {
        const one = bytes.subarray(i * m.size, (i + 1) * m.size);
        const end = one.indexOf(0);
        const text = decoder.decode(end >= 0 ? one.subarray(0, end) : one);
        values.push(m.strpad === 2 ? text.replace(/ +$/, '') : text); // space-padded strings
      }
    } else {
      const view = new DataView(bytes.buffer);
      values = [];
      for (let i = 0; i < n; i++) {
        const o = i * m.size;
        const le = m.littleEndian;
        if (m.type === FLOAT) values.push(m.size === 4 ? view.getFloat32(o, le) : view.getFloat64(o, le));
        else if (m.size === 1) values.push(m.signed ? view.getInt8(o) : view.getUint8(o));
        else if (m.size === 2) values.push(m.signed ? view.getInt16(o, le) : view.getUint16(o, le));
        else if (m.size === 4) values.push(m.signed ? view.getInt32(o, le) : view.getUint32(o, le));
        else if (m.size === 8)
          values.push(Number(m.signed ? view.getBigInt64(o, le) : view.getBigUint64(o, le)));
        else return undefined;
      }
    }
    return m.shape.length === 0 ? values[0] : values;
  } finally {
    // Only a completely read variable-length buffer holds pointers that are safe to free.
    if (filled && m.vlen) Module.reclaim_vlen_memory(fid, path, name, BigInt(ptr));
    Module._free(ptr);
  }
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
        const meta = {
          type: m.type,
          size: m.size,
          signed: m.signed,
          littleEndian: m.littleEndian,
          shape: m.shape,
          chunks: m.chunks,
        };
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
        const v = readAttr(f.file_id, path, name);
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
      const status = Module.get_dataset_data(
        f.file_id,
        path,
        big(sel?.count),
        big(sel?.offset),
        big(sel?.strides),
        BigInt(ptr),
      );
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
        // Fixed-length strings: no global heap, which a reader of a damaged file would have to trust.
        if (typeof value === 'string') {
          const bytes = new TextEncoder().encode(value).length;
          obj.create_attribute(name, value, [], `S${Math.max(bytes, 1)}`);
        } else if (typeof value === 'number') obj.create_attribute(name, value, [], '<d');
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
