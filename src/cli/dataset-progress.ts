/**
 * A one-line progress bar on stderr (items, items/s, ETA), redrawn at most ten times a second.
 * Only on a terminal and without --json: in a pipe or a log file, carriage returns would pile up
 * as garbage lines.
 */
import { stylesFor } from './format.js';

export interface ProgressBar {
  update(items: number, totalItems: number): void;
  /** Clears the line, leaving the terminal as it was. */
  done(): void;
}

const WIDTH = 24;

function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '--:--';
  const s = Math.round(seconds);
  const hours = Math.floor(s / 3600);
  const clock = `${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
  return hours ? `${hours}:${clock}` : clock;
}

export function progressBar(label: string, json: boolean, stream: NodeJS.WriteStream = process.stderr): ProgressBar {
  if (json || stream.isTTY !== true) return { update: () => undefined, done: () => undefined };
  const s = stylesFor(stream);
  const start = performance.now();
  let lastDraw = 0;
  let drawn = false;
  return {
    update(items, totalItems) {
      const now = performance.now();
      if (now - lastDraw < 100 && items < totalItems) return;
      lastDraw = now;
      const seconds = (now - start) / 1000;
      const rate = seconds > 0 ? items / seconds : 0;
      const filled = totalItems ? Math.round((WIDTH * items) / totalItems) : WIDTH;
      const bar = `${'#'.repeat(filled)}${s.dim('.'.repeat(WIDTH - filled))}`;
      const eta = rate > 0 ? formatDuration((totalItems - items) / rate) : '--:--';
      stream.write(`\r\u001B[2K${label} [${bar}] ${items}/${totalItems}  ${rate.toFixed(0)} items/s  ETA ${eta}`);
      drawn = true;
    },
    done() {
      if (drawn) stream.write('\r\u001B[2K');
    },
  };
}
