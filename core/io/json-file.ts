import { readFileSync, statSync } from 'node:fs';
import { ApertureDepthError } from '../errors.ts';
import { fsReason } from './file-bytes.ts';

/** Largest JSON file read (config and manifest files are small; a bigger one is a mistake). */
const MAX_JSON_BYTES = 256 * 2 ** 20;

/**
 * Reads and parses a JSON file. `what` says what the file is for (`'checkpoint config'`), so errors read
 * `path: checkpoint config not found` or `path: invalid JSON in checkpoint config at line 3, column 7: ...`.
 */
export function readJsonFile(path: string, what: string): unknown {
  let text: string;
  try {
    const st = statSync(path);
    if (st.isDirectory())
      throw new ApertureDepthError(`${what} is a folder, expected a JSON file`, { file: path });
    if (!st.isFile())
      throw new ApertureDepthError(`${what} is not a regular file (a device or pipe?)`, { file: path });
    if (st.size > MAX_JSON_BYTES)
      throw new ApertureDepthError(`${what} is ${st.size} bytes, too large for a JSON file`, { file: path });
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if (err instanceof ApertureDepthError) throw err;
    throw new ApertureDepthError(`${what} ${fsReason(err)}`, { file: path, cause: err });
  }
  return parseJsonText(text, path, what);
}

/** Parses JSON text; a syntax error names `name` and the line and column of the fault. */
export function parseJsonText(text: string, name: string, what = 'JSON'): unknown {
  const src = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text; // editors on Windows add a BOM
  if (src.trim() === '') throw new ApertureDepthError(`${what} is empty, expected JSON`, { file: name });
  try {
    return JSON.parse(src);
  } catch (err) {
    const offset = jsonErrorOffset(src);
    const { line, column } = lineColumn(src, offset);
    const near = src.slice(offset, offset + 20).split('\n')[0];
    const reason = (err as Error).message
      .replace(/ (in|after) JSON at position \d+.*$/s, '')
      .replace(/, ".*" is not valid JSON$/s, '');
    throw new ApertureDepthError(
      `invalid JSON in ${what} at line ${line}, column ${column} (offset ${offset})${near ? ` near ${JSON.stringify(near)}` : ''}: ${reason}`,
      { file: name, cause: err },
    );
  }
}

function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

/**
 * The offset of the first syntax error in `text` (V8's messages do not always carry one). A small
 * recursive-descent scan of the JSON grammar, only run after `JSON.parse` has failed.
 */
export function jsonErrorOffset(text: string): number {
  let i = 0;
  class Stop {
    constructor(readonly at: number) {}
  }
  const ws = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i]!)) i++;
  };
  const expect = (word: string) => {
    for (const ch of word) {
      if (text[i] !== ch) throw new Stop(i);
      i++;
    }
  };
  const string = () => {
    expect('"');
    for (;;) {
      if (i >= text.length) throw new Stop(i);
      const ch = text.charCodeAt(i);
      if (ch === 0x22) return void i++;
      if (ch < 0x20) throw new Stop(i);
      if (ch === 0x5c) {
        const esc = text[i + 1];
        if (esc === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) throw new Stop(i + 1);
          i += 6;
        } else if (esc !== undefined && '"\\/bfnrt'.includes(esc)) i += 2;
        else throw new Stop(i + 1);
      } else i++;
    }
  };
  const digits = () => {
    const start = i;
    while (i < text.length && text[i]! >= '0' && text[i]! <= '9') i++;
    if (i === start) throw new Stop(i);
  };
  const number = () => {
    if (text[i] === '-') i++;
    if (text[i] === '0') i++;
    else digits();
    if (text[i] === '.') {
      i++;
      digits();
    }
    if (text[i] === 'e' || text[i] === 'E') {
      i++;
      if (text[i] === '+' || text[i] === '-') i++;
      digits();
    }
  };
  const value = (depth: number): void => {
    if (depth > 5000) throw new Stop(i);
    ws();
    const ch = text[i];
    if (ch === '{') {
      i++;
      ws();
      if (text[i] === '}') return void i++;
      for (;;) {
        ws();
        string();
        ws();
        expect(':');
        value(depth + 1);
        ws();
        if (text[i] === ',') i++;
        else return expect('}');
      }
    } else if (ch === '[') {
      i++;
      ws();
      if (text[i] === ']') return void i++;
      for (;;) {
        value(depth + 1);
        ws();
        if (text[i] === ',') i++;
        else return expect(']');
      }
    } else if (ch === '"') string();
    else if (ch === 't') expect('true');
    else if (ch === 'f') expect('false');
    else if (ch === 'n') expect('null');
    else number();
  };
  try {
    value(0);
    ws();
    return i < text.length ? i : text.length;
  } catch (e) {
    if (e instanceof Stop) return e.at;
    return text.length; // stack overflow on absurd nesting: point at the end
  }
}
