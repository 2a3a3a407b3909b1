import type { Ops } from '../../ops/ops.ts';

/**
 * `softmax(q kᵀ · scale + mask) v` per head, with one plain 2-D matMul per (batch, head) pair: q `[B, S, H·d]`,
 * k, v `[B, S', H·d]`, optional additive mask `[S, S']` -> `[B, S, H·d]` (heads concatenated in order, as
 * torch's `head_to_batch_dim` / `batch_to_head_dim` do). The scale is applied to q before the product.
 */
export function multiHeadAttention<T>(ops: Ops<T>, q: T, k: T, v: T, heads: number, scale: number, mask?: T): T {
  const [b, s, inner] = ops.shape(q) as [number, number, number];
  const sk = ops.shape(k)[1]!;
  const d = inner / heads;
  const qs = ops.scale(q, scale);
  const perBatch: T[] = [];
  for (let bi = 0; bi < b; bi++) {
    const outs: T[] = [];
    for (let h = 0; h < heads; h++) {
      const qh = ops.reshape(ops.slice(qs, [bi, 0, h * d], [1, s, d]), [s, d]); // [S, d]
      const kh = ops.reshape(ops.slice(k, [bi, 0, h * d], [1, sk, d]), [sk, d]); // [S', d]
      const vh = ops.reshape(ops.slice(v, [bi, 0, h * d], [1, sk, d]), [sk, d]); // [S', d]
      let scores = ops.matMul(qh, ops.transpose(kh, [1, 0])); // [S, S']
      if (mask) scores = ops.add(scores, mask);
      outs.push(ops.matMul(ops.softmax(scores), vh)); // [S, d]
    }
    const joined = heads === 1 ? outs[0]! : ops.concat(outs, 1); // [S, H·d]
    perBatch.push(ops.reshape(joined, [1, s, inner]));
  }
  return b === 1 ? perBatch[0]! : ops.concat(perBatch, 0);
}
