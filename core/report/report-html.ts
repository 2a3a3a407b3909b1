import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomic.ts';
import { METRIC_KEYS, type RunSummary, type SceneResult } from '../pipeline/run-results.ts';
import { escapeXml } from './svg.ts';

export interface ReportInput {
  title: string;
  summary: RunSummary;
  rows: SceneResult[];
  /** Lines shown under the title (config file, command, versions). */
  notes?: string[];
}

const num = (x: number | null | undefined, d = 3): string =>
  x === null || x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(d);

/**
 * `report.html`: the summary table (paper columns plus runtime), then every scene with its figure (image,
 * ground truth, prediction, error) and loss curve per variant. Links are relative, so the folder can be
 * copied or served as it is.
 */
export function reportHtml(runDir: string, input: ReportInput): string {
  const h = escapeXml;
  const out: string[] = [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8">',
    `<title>${h(input.title)}</title>`,
    '<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:1400px}table{border-collapse:collapse}' +
      'td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}th:first-child,td:first-child{text-align:left}' +
      'img{max-width:100%;display:block;margin:4px 0}.scene{margin-top:2em;border-top:1px solid #999}' +
      '.failed{color:#b00}.small{color:#555;font-size:90%}</style>',
    '</head><body>',
    `<h1>${h(input.title)}</h1>`,
  ];
  for (const n of input.notes ?? []) out.push(`<p class="small">${h(n)}</p>`);
  out.push(
    '<p class="small"><a href="summary.md">summary.md</a> · <a href="summary.json">summary.json</a> · ' +
      '<a href="per_scene.csv">per_scene.csv</a> · <a href="config.yaml">config.yaml</a></p>',
  );
  out.push('<h2>Summary</h2>');
  out.push(
    '<table><tr><th>variant</th><th>RMSE (m)</th><th>REL</th><th>log10</th><th>δ1</th><th>δ2</th><th>δ3</th>' +
      '<th>runtime (s/scene)</th><th>scenes</th><th>failed</th></tr>',
  );
  for (const v of input.summary.variants) {
    const m = v.metrics;
    out.push(
      `<tr><td>${h(v.variant)}</td><td>${num(m.rmse)}</td><td>${num(m.abs_rel)}</td><td>${num(m.log10)}</td>` +
        `<td>${num(m.delta1)}</td><td>${num(m.delta2)}</td><td>${num(m.delta3)}</td><td>${num(v.runtime_s.mean, 1)}</td>` +
        `<td>${v.evaluated}/${v.scenes}</td><td>${v.failed}</td></tr>`,
    );
  }
  out.push('</table>');

  const scenes = [...new Set(input.rows.map((r) => r.scene))];
  out.push('<h2>Scenes</h2>');
  for (const scene of scenes) {
    out.push(`<div class="scene"><h3 id="${h(scene)}">${h(scene)}</h3>`);
    for (const r of input.rows.filter((x) => x.scene === scene)) {
      const m = r.metrics;
      const line =
        r.status === 'failed'
          ? `<span class="failed">failed: ${h(r.error ?? 'unknown error')}</span>`
          : `${m ? `RMSE ${num(m.rmse)} m · REL ${num(m.abs_rel)} · log10 ${num(m.log10)} · δ1 ${num(m.delta1)} · ` : ''}` +
            `${num(r.runtime_s, 1)} s · ${r.iterations} iterations · scale ${num(r.scale)} · shift ${num(r.shift)}`;
      out.push(`<h4>${h(r.variant)}</h4><p class="small">${line} · <a href="${h(r.dir)}/">outputs</a></p>`);
      for (const f of ['figure.png', 'loss.png']) {
        if (existsSync(join(runDir, r.dir, f)))
          out.push(`<img src="${h(r.dir)}/${f}" alt="${h(`${scene} ${r.variant} ${f}`)}" loading="lazy">`);
      }
    }
    out.push('</div>');
  }
  out.push(`<p class="small">Metrics: ${METRIC_KEYS.join(', ')} over pixels valid in both maps.</p>`);
  out.push('</body></html>');
  return `${out.join('\n')}\n`;
}

export function writeReport(runDir: string, input: ReportInput): void {
  writeFileAtomic(join(runDir, 'report.html'), reportHtml(runDir, input));
}
