/**
 * The packed package, installed as a user installs it: `npm pack` (its prepack builds dist/ and the
 * viewer), then a fresh project outside the repository gets the tarball with the `.npmrc` the README's
 * Install section prescribes (read from the README, so the instructions are what is tested), and a
 * TypeScript program type-checks against the shipped declarations and runs.
 *
 * Offline: npm's cache holds the dependencies' tarballs (by integrity, from `npm ci`) but not the
 * registry's version lists, so the fresh project gets a lockfile pinning the versions this repository's
 * lockfile resolved (the ones the test suite ran with) and installs with `npm ci --offline`.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';

const ROOT = join(import.meta.dirname, '..');
const run = promisify(execFile);

/** The parent `npm test` exports npm_config_* (this repository's .npmrc among them): the child must not see them. */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^npm_/i.test(key)));
}

function sh(command: string, args: string[], cwd: string) {
  return run(command, args, { cwd, env: cleanEnv(), maxBuffer: 64 * 1024 * 1024 });
}

/** The ```ini block of the README's Install section: what a consuming project's .npmrc must hold. */
function readmeNpmrc(): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const install = readme.slice(readme.indexOf('\n## Install\n'));
  const block = /```ini\n([\s\S]*?)```/.exec(install.slice(0, install.indexOf('\n## ', 1)));
  assert.ok(block, 'the README has an Install section with an ```ini block for .npmrc');
  return block[1];
}

/** package-lock.json of a project depending on the tarball only, with this repository's resolved versions. */
function consumerLock(tarball: string): string {
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8'));
  const self = lock.packages[''];
  const integrity = `sha512-${createHash('sha512').update(readFileSync(tarball)).digest('base64')}`;
  const packages: Record<string, unknown> = {
    '': { name: 'consumer', version: '1.0.0', dependencies: { neurotap: `file:${tarball}` } },
    'node_modules/neurotap': {
      version: self.version,
      resolved: `file:${tarball}`,
      integrity,
      license: self.license,
      dependencies: self.dependencies,
      peerDependencies: self.peerDependencies,
      peerDependenciesMeta: self.peerDependenciesMeta,
      bin: { neurotap: 'bin/neurotap.js' },
    },
  };
  for (const [path, entry] of Object.entries(lock.packages as Record<string, { dev?: boolean }>)) {
    if (path !== '' && !entry.dev) packages[path] = entry;
  }
  return JSON.stringify({ name: 'consumer', version: '1.0.0', lockfileVersion: 3, requires: true, packages });
}

// Ten lines a user would write: load the bundled model, capture two layers, read a typed value.
const PROGRAM = `import { readFileSync } from 'node:fs';
import { isNeurotapError, loadModel, parseNpy } from 'neurotap';
const model = await loadModel('node_modules/neurotap/fixtures/digits-cnn.onnx');
const image = parseNpy(new Uint8Array(readFileSync('node_modules/neurotap/fixtures/digits/digit-3.npy')));
const acts = await model.capture({ image }, { layers: ['conv1', 'fc2'] });
const logits = [...(acts.get('fc2')?.data as Float32Array)];
const web: unknown = await import('neurotap/web').then((m) => m.loadModel(new Uint8Array(0))).catch((err) => err);
const summary = { keys: [...acts.keys()], conv1: acts.get('conv1')?.dims, argmax: logits.indexOf(Math.max(...logits)) };
console.log(JSON.stringify({ ...summary, web: isNeurotapError(web) ? web.code : String(web) }));
`;

const TSCONFIG = {
  compilerOptions: {
    target: 'ES2022',
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    strict: true,
    types: ['node'],
    typeRoots: [join(ROOT, 'node_modules', '@types')],
    outDir: 'out',
  },
  files: ['main.ts'],
};

describe('the packed package in a fresh project', () => {
  let dir: string;
  let installError: string | undefined;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'neurotap-consumer-'));
    await sh('npm', ['pack', '--pack-destination', dir], ROOT); // stdout mixes in prepack's own output
    const tarball = join(dir, readdirSync(dir).find((f) => f.endsWith('.tgz'))!);
    const project = join(dir, 'consumer');
    mkdirSync(project);
    writeFileSync(join(project, '.npmrc'), readmeNpmrc());
    writeFileSync(
      join(project, 'package.json'),
      JSON.stringify({
        name: 'consumer',
        version: '1.0.0',
        type: 'module',
        dependencies: { neurotap: `file:${tarball}` },
      }),
    );
    writeFileSync(join(project, 'package-lock.json'), consumerLock(tarball));
    writeFileSync(join(project, 'tsconfig.json'), JSON.stringify(TSCONFIG));
    writeFileSync(join(project, 'main.ts'), PROGRAM);
    await sh('npm', ['ci', '--offline', '--no-audit', '--no-fund'], project).catch((err: { stderr?: string }) => {
      if (!/ENOTCACHED/.test(err.stderr ?? '')) throw err;
      installError = 'the npm cache lacks the dependencies (run `npm ci` in the repository first)';
    });
  });

  after(() => rmSync(dir, { recursive: true, force: true }));

  it('installs by the README, type-checks a TypeScript program against it, and runs it', async (t) => {
    if (installError) return t.skip(installError);
    const project = join(dir, 'consumer');
    await sh(join(ROOT, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.json'], project);
    const { stdout } = await sh('node', ['out/main.js'], project);
    assert.deepEqual(JSON.parse(stdout), {
      keys: ['conv1', 'fc2'],
      conv1: [1, 8, 8, 8],
      argmax: 3,
      web: 'E_MISSING_DEPENDENCY',
    });
  });

  it('ships the CLI as the neurotap bin', async (t) => {
    if (installError) return t.skip(installError);
    const project = join(dir, 'consumer');
    const bin = join(project, 'node_modules', '.bin', 'neurotap');
    const { stdout } = await sh(bin, ['layers', 'node_modules/neurotap/fixtures/digits-cnn.onnx', '--json'], project);
    assert.ok((JSON.parse(stdout) as { modules: { name: string }[] }).modules.some((m) => m.name === 'conv1'));
  });

  it('ships a licence, the documents the README links, and no source map naming a file it lacks', async (t) => {
    if (installError) return t.skip(installError);
    const pkg = join(dir, 'consumer', 'node_modules', 'neurotap');
    assert.match(readFileSync(join(pkg, 'LICENSE'), 'utf8'), /^MIT License/);
    const readme = readFileSync(join(pkg, 'README.md'), 'utf8');
    for (const [, link] of readme.matchAll(/\]\(((?!https?:|#)[^)#]+)/g)) readFileSync(join(pkg, link));
    const map = JSON.parse(readFileSync(join(pkg, 'dist', 'web.js.map'), 'utf8'));
    assert.equal(map.sourcesContent.length, map.sources.length, 'source maps carry their sources');
  });
});
