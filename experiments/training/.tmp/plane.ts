import { loadMiddlebury, middleburyScenes, heldOutProcedural } from '../eval/eval-scenes.ts';
import { fitDepthPlane, renderPlane } from '../eval/plane-baseline.ts';
import { scorePriorAndPlane } from '../eval/aligned-metrics.ts';
for (const n of middleburyScenes()) {
  const s = loadMiddlebury(n, 128);
  // "prior" = 1 - image luminance as a dumb relative map, and y-coordinate (bottom near)
  const ycoord = new Float32Array(s.width * s.height).map((_, i) => -Math.floor(i / s.width));
  const r = scorePriorAndPlane(ycoord, s.depthM, s.width, s.height);
  console.log(s.name, s.width, s.height, 'plane', r.plane.abs_rel.toFixed(3), r.plane.delta1.toFixed(3), 'ycoord', r.prior.abs_rel.toFixed(3), r.prior.delta1.toFixed(3));
}
let pa = 0, pd = 0, n = 20;
for (let k = 0; k < n; k++) { const s = heldOutProcedural(k, 64, 48); const y = new Float32Array(64*48).map((_, i) => -Math.floor(i / 64)); const r = scorePriorAndPlane(y, s.depthM, 64, 48); pa += r.plane.abs_rel; pd += r.plane.delta1; }
console.log('procedural plane', (pa/n).toFixed(3), (pd/n).toFixed(3));
