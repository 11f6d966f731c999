/**
 * Opening the viewer in the user's browser, when there is one: never an error when there is not
 * (a server over SSH, a container, CI), the URL is printed anyway.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';

function onPath(command: string, env: NodeJS.ProcessEnv): boolean {
  return (env.PATH ?? '').split(delimiter).some((dir) => dir && existsSync(join(dir, command)));
}

/** The command that opens a URL on this platform, or undefined when nothing can show one. */
export function openerFor(
  platform: NodeJS.Platform,
  env: NodeJS.ProcessEnv,
): { command: string; args: string[] } | undefined {
  if (platform === 'darwin') return { command: 'open', args: [] };
  if (platform === 'win32') return { command: 'cmd', args: ['/c', 'start', '""'] };
  if (!env.DISPLAY && !env.WAYLAND_DISPLAY) return undefined;
  return onPath('xdg-open', env) ? { command: 'xdg-open', args: [] } : undefined;
}

/** Starts the browser on `url` and returns whether it tried; failures are ignored. */
export function openBrowser(url: string, platform = process.platform, env = process.env): boolean {
  const opener = openerFor(platform, env);
  if (!opener) return false;
  try {
    const child = spawn(opener.command, [...opener.args, url], { detached: true, stdio: 'ignore' });
    child.on('error', () => undefined);
    child.unref();
    return true;
  } catch {
    return false;
  }
}
