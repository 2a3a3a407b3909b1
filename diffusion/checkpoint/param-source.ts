import type { Param, ParamLayout } from './param.ts';

/** What a parameter is, so a random source can initialise it like torch does. */
export type ParamRole = 'weight' | 'bias' | 'gamma' | 'beta' | 'embedding';

export interface ParamRequest {
  /** Full checkpoint name, e.g. `down_blocks.0.resnets.1.conv1.weight`. */
  name: string;
  /** Shape in project layout (`[kh, kw, in, out]` for conv, `[in, out]` for linear). */
  shape: readonly number[];
  layout: ParamLayout;
  role: ParamRole;
  /** Fan-in for the default init of weights and biases. */
  fanIn?: number;
}

/**
 * Where a network's weights come from while it is built: a checkpoint (`CheckpointSource`) or a seeded
 * random initialiser (`RandomSource`). Modules ask for each weight by name; the source returns it in
 * project layout and remembers every Param it handed out (for `dispose`).
 */
export interface ParamSource {
  /** Component folder or a label, for error messages. */
  readonly label: string;
  take(request: ParamRequest): Param;
  /** Every Param handed out so far. */
  params(): Param[];
}
