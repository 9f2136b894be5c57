// `parley storage copy --from sqlite:PATH --to postgres://…`: the command-line face of the server's
// copyStorageLocations. A progress bar on a terminal (standard error, so the summary on standard output
// stays clean for scripts), then the number of records copied per store.
import { copyStorageLocations, TargetNotEmptyError } from '@parley/server';

export { TargetNotEmptyError };

const BAR_WIDTH = 30;

function progressBar(stream: NodeJS.WriteStream): (done: number, total: number) => void {
  if (!stream.isTTY) return () => {};
  return (done, total) => {
    const share = total === 0 ? 1 : done / total;
    const filled = Math.round(share * BAR_WIDTH);
    stream.write(`\r[${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}] ${done}/${total} records${done === total ? '\n' : ''}`);
  };
}

export async function storageCopy(flags: { from: string; to: string; force?: boolean }): Promise<void> {
  const counts = await copyStorageLocations(flags.from, flags.to, { force: flags.force, onProgress: progressBar(process.stderr) });
  const total = [...counts.values()].reduce((a, b) => a + b, 0);
  const labels = [...counts.keys()].sort();
  const width = Math.max(8, ...labels.map((l) => l.length));
  for (const label of labels) console.log(`${label.padEnd(width)} ${counts.get(label)}`);
  console.log(`${'total'.padEnd(width)} ${total}`);
}
