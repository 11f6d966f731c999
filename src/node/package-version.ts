/** neurotap's own version, read once from its package.json (Node only). */
import { readFileSync } from 'node:fs';

let version: string | undefined;

export function packageVersion(): string {
  try {
    // dist/node/ and src/node/ both sit two levels below package.json.
    version ??= JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version as string;
    return version;
  } catch {
    return 'unknown';
  }
}
