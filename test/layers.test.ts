// Which folder may import which (README's layout, STYLE.md): the code both hosts share stays free of
// Node, and nothing below a folder's role leaks into it. Read from the source text (test/support/sources.ts).
import { describe, expect, it } from 'vitest';
import { importsOf, readSource, sourceFiles } from './support/sources.ts';

const under = (file: string, ...folders: string[]) => folders.some((folder) => file.startsWith(`${folder}/`));

/** Every import of the files under `folders` that breaks `rule`, as 'file → specifier' lines. */
function violations(folders: string[], rule: (target: string | null, specifier: string) => boolean): string[] {
  return sourceFiles(folders).flatMap((file) =>
    importsOf(file).filter(({ target, specifier }) => !rule(target, specifier)).map(({ specifier }) => `${file} → ${specifier}`));
}

const ENGINE = ['src/util', 'src/gpu', 'src/kernels', 'src/autograd', 'src/reference', 'src/model', 'src/optim'];

describe('layers', () => {
  it('src/ imports nothing from web/, test/ or bench/', () => {
    expect(violations(['src'], (target) => target === null || !under(target, 'web', 'test', 'bench'))).toEqual([]);
  });

  it('bench/ imports nothing from test/', () => {
    expect(violations(['bench'], (target) => target === null || !under(target, 'test'))).toEqual([]);
  });

  it('src/train, shared by Node and the page, imports only its own kind: no node:, no package, nothing of src/node', () => {
    expect(violations(['src/train'], (target) => target !== null && !under(target, 'src/node', 'web', 'test', 'bench'))).toEqual([]);
  });

  it('src/metrics, used by both hosts, imports nothing Node-only, and src/train (the loop) nothing of it', () => {
    expect(violations(['src/metrics'], (target) => target !== null && !under(target, 'src/node', 'web', 'test', 'bench'))).toEqual([]);
    expect(violations(['src/train'], (target) => target === null || !under(target, 'src/metrics'))).toEqual([]);
  });

  it('src/train and src/metrics use no Node global either (process, Buffer, NodeJS types, require)', () => {
    const nodeGlobal = /\b(process\.|Buffer\.|NodeJS\.|require\()/;
    const uses = sourceFiles(['src/train', 'src/metrics']).flatMap((file) =>
      readSource(file).split('\n').flatMap((line, i) => (nodeGlobal.test(line) && !/^\s*(\/\/|\*)/.test(line) ? [`${file}:${i + 1}: ${line.trim()}`] : [])));
    expect(uses).toEqual([]);
  });

  it('the package entry src/index.ts, for Node and bundled pages alike, imports nothing Node-only: no node:, no package, nothing of src/node', () => {
    expect(violations(['src/index.ts'], (target) => target !== null && !under(target, 'src/node', 'web', 'test', 'bench'))).toEqual([]);
  });

  it('the page (web/) imports nothing Node-only: no node:, nothing of src/node', () => {
    expect(violations(['web'], (target, specifier) => !specifier.startsWith('node:') && (target === null || !under(target, 'src/node')))).toEqual([]);
  });

  it('the engine and the model import nothing of the hosts (src/train, src/node)', () => {
    expect(violations(ENGINE, (target) => target === null || !under(target, 'src/train', 'src/node'))).toEqual([]);
  });
});
