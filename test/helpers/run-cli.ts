import { main } from '../../core/cli/main.ts';

/**
 * Runs the CLI in-process and returns what it printed: stdout, and stderr too unless `stderr: false`
 * (progress and notes go there). The streams are restored even when the command throws.
 */
export async function runCli(args: string[], options: { stderr?: boolean } = {}): Promise<string> {
  const write = process.stdout.write.bind(process.stdout);
  const writeErr = process.stderr.write.bind(process.stderr);
  let out = '';
  const capture = ((s: string) => ((out += s), true)) as typeof process.stdout.write;
  process.stdout.write = capture;
  if (options.stderr !== false) process.stderr.write = capture;
  try {
    await main(args);
  } finally {
    process.stdout.write = write;
    process.stderr.write = writeErr;
  }
  return out;
}
