export {
  MarigoldPrior,
  type EncodedImage,
  type MarigoldPriorOptions,
  type PredictOptions,
  type PredictionTrace,
  type SchedulerKind,
} from './marigold-prior.ts';
export {
  marigoldGeometry,
  preprocessImage,
  restoreInputResolution,
  inputResampling,
  outputResampling,
  type MarigoldGeometry,
} from './preprocess.ts';
export { antialiasBilinearMatrix, bilinearMatrix, resampleNHWC, type ResampleMatrix } from './resample.ts';
export { decodeDepth } from './depth-head.ts';
export { emptyPromptTokenIds, type EmptyPromptIds } from './empty-prompt.ts';
export {
  checkEnsembleSize,
  ensembleDepth,
  ENSEMBLE_ALIGNMENTS,
  ENSEMBLE_REDUCTIONS,
  type EnsembleAlignment,
  type EnsembleOptions,
  type EnsembleReduction,
  type EnsembleResult,
} from './ensemble-depth.ts';
