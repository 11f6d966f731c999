/** Whether Debian's /usr/bin/python3 with torch is here (the bridge's live tests need it). */
import { execFileSync } from 'node:child_process';

export function hasTorch(): boolean {
  try {
    execFileSync('/usr/bin/python3', ['-c', 'import torch'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
