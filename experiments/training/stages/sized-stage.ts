/** Settings of a UNet stage trained on scenes rendered at its own size (stages C and E). */
export interface SizedStageSettings {
  /** Steps; 0 = the stage is off. */
  steps: number;
  batch: number;
  lr: number;
  /** Scene size in pixels (the processing resolution; multiples of the VAE's downsampling; need not be square). */
  width: number;
  height: number;
  /** Scenes rendered at width x height: the first `scenes` training seeds (0 .. scenes-1). */
  scenes: number;
}
