import { ApertureDepthError, check } from '../../core/errors.ts';
import type { Attr, Attrs, DType, OnnxGraph } from './graph-builder.ts';

/**
 * Static output shapes of the ONNX ops this project records (opset 17 semantics). Every value of a
 * recorded graph has a known shape, so networks can read shapes while they are traced and VJP rules can
 * size their reductions. An op outside this table is an error that names it.
 */

export interface InferredValue {
  dtype: DType;
  shape: number[];
}

const UNARY = new Set([
  'Sigmoid',
  'Erf',
  'Exp',
  'Log',
  'Sqrt',
  'Reciprocal',
  'Neg',
  'Tanh',
  'Identity',
  'Relu',
  'Clip',
  'Softmax',
  'InstanceNormalization',
  'Cos',
  'Sin',
  'Abs',
  'Sign',
]);
const BROADCAST = new Set([
  'Add',
  'Sub',
  'Mul',
  'Div',
  'Pow',
  'Max',
  'Min',
  'Where',
  'Greater',
  'Less',
  'GreaterOrEqual',
  'LessOrEqual',
  'And',
]);
const COMPARE = new Set(['Greater', 'Less', 'GreaterOrEqual', 'LessOrEqual', 'And']);

export function intAttr(attrs: Attrs, name: string, fallback: number): number {
  const a = attrs[name] as Attr | undefined;
  return a && 'i' in a ? a.i : fallback;
}

export function intsAttr(attrs: Attrs, name: string): readonly number[] | undefined {
  const a = attrs[name] as Attr | undefined;
  return a && 'ints' in a ? a.ints : undefined;
}

export function floatAttr(attrs: Attrs, name: string, fallback: number): number {
  const a = attrs[name] as Attr | undefined;
  return a && 'f' in a ? a.f : fallback;
}

export function strAttr(attrs: Attrs, name: string, fallback: string): string {
  const a = attrs[name] as Attr | undefined;
  return a && 's' in a ? a.s : fallback;
}

/** numpy broadcasting of any number of shapes; throws naming the op on mismatch. */
export function broadcastShapes(op: string, shapes: readonly (readonly number[])[]): number[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    let d = 1;
    for (const s of shapes) {
      const k = s.length - rank + i;
      const v = k >= 0 ? s[k] : 1;
      if (v === 1) continue;
      check(
        d === 1 || d === v,
        () => `${op}: shapes ${shapes.map((x) => `[${x}]`).join(' and ')} do not broadcast`,
        {
          key: 'onnx graph',
        },
      );
      d = v;
    }
    out.push(d);
  }
  return out;
}

const normAxis = (axis: number, rank: number): number => (axis < 0 ? axis + rank : axis);

export function inferShapes(
  g: OnnxGraph,
  op: string,
  inputs: readonly string[],
  attrs: Attrs,
  outputCount: number,
): InferredValue[] {
  const s = (k: number): readonly number[] => g.shape(inputs[k]);
  const f32 = (shape: number[]): InferredValue[] => [{ dtype: 'float32', shape }];
  if (UNARY.has(op)) return [{ dtype: g.info(inputs[0]).dtype, shape: [...s(0)] }];
  if (BROADCAST.has(op)) {
    const shapes = inputs.map((_, k) => s(k));
    const dtype = COMPARE.has(op) ? 'bool' : g.info(inputs[inputs.length - 1]).dtype;
    return [{ dtype, shape: broadcastShapes(op, shapes) }];
  }
  switch (op) {
    case 'LayerNormalization': {
      const x = s(0);
      const axis = normAxis(intAttr(attrs, 'axis', -1), x.length);
      const stat = x.map((d, i) => (i < axis ? d : 1));
      return [f32([...x])[0], f32(stat)[0], f32(stat)[0]].slice(0, outputCount);
    }
    case 'Conv':
    case 'ConvTranspose': {
      const x = s(0);
      const w = s(1);
      const spatial = x.length - 2;
      const strides = intsAttr(attrs, 'strides') ?? Array(spatial).fill(1);
      const pads = intsAttr(attrs, 'pads') ?? Array(2 * spatial).fill(0);
      const dil = intsAttr(attrs, 'dilations') ?? Array(spatial).fill(1);
      const group = intAttr(attrs, 'group', 1);
      const out: number[] = [x[0]];
      if (op === 'Conv') {
        check(
          x[1] === w[1] * group,
          () => `Conv: input has ${x[1]} channels, filter expects ${w[1] * group}`,
          {
            key: 'onnx graph',
          },
        );
        out.push(w[0]);
        for (let i = 0; i < spatial; i++) {
          const k = (w[2 + i] - 1) * dil[i] + 1;
          out.push(Math.floor((x[2 + i] + pads[i] + pads[i + spatial] - k) / strides[i]) + 1);
        }
      } else {
        check(x[1] === w[0], () => `ConvTranspose: input has ${x[1]} channels, filter expects ${w[0]}`, {
          key: 'onnx graph',
        });
        const outPad = intsAttr(attrs, 'output_padding') ?? Array(spatial).fill(0);
        out.push(w[1] * group);
        for (let i = 0; i < spatial; i++) {
          const k = (w[2 + i] - 1) * dil[i] + 1;
          out.push(strides[i] * (x[2 + i] - 1) + outPad[i] + k - pads[i] - pads[i + spatial]);
        }
      }
      return f32(out);
    }
    case 'MatMul': {
      const a = s(0);
      const b = s(1);
      check(
        a.length >= 2 && b.length >= 2,
        () => `MatMul: rank-1 operands are not used here ([${a}] @ [${b}])`,
        {
          key: 'onnx graph',
        },
      );
      check(a[a.length - 1] === b[b.length - 2], () => `MatMul: [${a}] @ [${b}] inner sizes differ`, {
        key: 'onnx graph',
      });
      const batch = broadcastShapes('MatMul', [a.slice(0, -2), b.slice(0, -2)]);
      return f32([...batch, a[a.length - 2], b[b.length - 1]]);
    }
    case 'Gemm': {
      const a = s(0);
      const b = s(1);
      const m = intAttr(attrs, 'transA', 0) ? a[1] : a[0];
      const ka = intAttr(attrs, 'transA', 0) ? a[0] : a[1];
      const kb = intAttr(attrs, 'transB', 0) ? b[1] : b[0];
      const n = intAttr(attrs, 'transB', 0) ? b[0] : b[1];
      check(ka === kb, () => `Gemm: inner sizes ${ka} and ${kb} differ`, { key: 'onnx graph' });
      return f32([m, n]);
    }
    case 'Resize': {
      check(inputs[3] !== undefined && inputs[3] !== '', () => 'Resize: only the `sizes` form is recorded', {
        key: 'onnx graph',
      });
      return f32([...g.intValues(inputs[3])]);
    }
    case 'Concat': {
      const first = s(0);
      const axis = normAxis(intAttr(attrs, 'axis', 0), first.length);
      const out = [...first];
      out[axis] = 0;
      inputs.forEach((_, k) => {
        const sk = s(k);
        check(
          sk.length === first.length && sk.every((d, i) => i === axis || d === first[i]),
          () => `Concat: [${sk}] does not match [${first}] off axis ${axis}`,
          { key: 'onnx graph' },
        );
        out[axis] += sk[axis];
      });
      return [{ dtype: g.info(inputs[0]).dtype, shape: out }];
    }
    case 'Reshape': {
      const x = s(0);
      const target = [...g.intValues(inputs[1])];
      const total = x.reduce((a, b) => a * b, 1);
      const known = target.reduce((a, d, i) => a * (d === -1 ? 1 : d === 0 ? x[i] : d), 1);
      const out = target.map((d, i) => (d === -1 ? total / known : d === 0 ? x[i] : d));
      check(out.reduce((a, b) => a * b, 1) === total, () => `Reshape: [${x}] cannot become [${target}]`, {
        key: 'onnx graph',
      });
      return [{ dtype: g.info(inputs[0]).dtype, shape: out }];
    }
    case 'Transpose': {
      const x = s(0);
      const perm = intsAttr(attrs, 'perm') ?? x.map((_, i) => x.length - 1 - i);
      return [{ dtype: g.info(inputs[0]).dtype, shape: perm.map((p) => x[p]) }];
    }
    case 'Slice': {
      const x = s(0);
      const starts = g.intValues(inputs[1]);
      const ends = g.intValues(inputs[2]);
      const axes = inputs[3] ? g.intValues(inputs[3]) : starts.map((_, i) => i);
      const steps = inputs[4] ? g.intValues(inputs[4]) : starts.map(() => 1);
      const out = [...x];
      axes.forEach((a0, k) => {
        const a = normAxis(a0, x.length);
        const d = x[a];
        const step = steps[k];
        const clampIdx = (v: number, lo: number, hi: number) => Math.min(Math.max(v < 0 ? v + d : v, lo), hi);
        if (step > 0) {
          const st = clampIdx(starts[k], 0, d);
          const en = clampIdx(ends[k], 0, d);
          out[a] = Math.max(0, Math.ceil((en - st) / step));
        } else {
          const st = clampIdx(starts[k], -1, d - 1);
          const en = clampIdx(ends[k], -1, d - 1);
          out[a] = Math.max(0, Math.ceil((en - st) / step));
        }
      });
      return [{ dtype: g.info(inputs[0]).dtype, shape: out }];
    }
    case 'Split': {
      const x = s(0);
      const axis = normAxis(intAttr(attrs, 'axis', 0), x.length);
      const sizes = inputs[1] ? g.intValues(inputs[1]) : Array(outputCount).fill(x[axis] / outputCount);
      check(
        sizes.reduce((a, b) => a + b, 0) === x[axis],
        () => `Split: sizes [${sizes}] do not sum to ${x[axis]}`,
        {
          key: 'onnx graph',
        },
      );
      return sizes.map((d) => ({ dtype: 'float32' as const, shape: x.map((v, i) => (i === axis ? d : v)) }));
    }
    case 'ReduceMean':
    case 'ReduceSum': {
      const x = s(0);
      const axesList =
        op === 'ReduceSum' ? (inputs[1] ? g.intValues(inputs[1]) : undefined) : intsAttr(attrs, 'axes');
      const axes = new Set((axesList ?? x.map((_, i) => i)).map((a) => normAxis(a, x.length)));
      const keep = intAttr(attrs, 'keepdims', 1) === 1;
      const out: number[] = [];
      x.forEach((d, i) => {
        if (!axes.has(i)) out.push(d);
        else if (keep) out.push(1);
      });
      return f32(out);
    }
    case 'Gather': {
      const x = s(0);
      const idx = s(1);
      const axis = normAxis(intAttr(attrs, 'axis', 0), x.length);
      return [{ dtype: g.info(inputs[0]).dtype, shape: [...x.slice(0, axis), ...idx, ...x.slice(axis + 1)] }];
    }
    case 'Pad': {
      const x = s(0);
      const pads = g.intValues(inputs[1]);
      return f32(x.map((d, i) => d + pads[i] + pads[i + x.length]));
    }
    case 'Expand': {
      return [
        { dtype: g.info(inputs[0]).dtype, shape: broadcastShapes('Expand', [s(0), g.intValues(inputs[1])]) },
      ];
    }
    case 'Unsqueeze': {
      const x = s(0);
      const axes = g.intValues(inputs[1]);
      const rank = x.length + axes.length;
      const set = new Set(axes.map((a) => normAxis(a, rank)));
      const out: number[] = [];
      let k = 0;
      for (let i = 0; i < rank; i++) out.push(set.has(i) ? 1 : x[k++]);
      return [{ dtype: g.info(inputs[0]).dtype, shape: out }];
    }
    case 'Squeeze': {
      const x = s(0);
      const set = new Set(g.intValues(inputs[1]).map((a) => normAxis(a, x.length)));
      return [{ dtype: g.info(inputs[0]).dtype, shape: x.filter((_, i) => !set.has(i)) }];
    }
    default:
      throw new ApertureDepthError(`op "${op}" has no shape rule; add it to shape-inference.ts`, {
        key: 'onnx graph',
      });
  }
}
