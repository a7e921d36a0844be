// The docs cannot go stale silently: what README.md, docs/*.md and bench/RESULTS.md say about the code
// is checked against the code.
//
// The conventions the docs keep to, so that this test can read them:
// - A code excerpt is a fenced block in a section whose heading names files in backticks, e.g.
//   "## 2. The launcher: `src/kernels/activations.ts`". Every line of the block appears in one of those
//   files, whitespace aside; `...` stands for code left out (a line of its own, or inside a line).
// - A path in the text (src/..., test/..., `shaders/...`) is from the repository root; a markdown link
//   target is relative to the file it is in, as GitHub reads it. Either exists, or is an output git ignores
//   (bench/last-run.json). `file:LINE` and `file:FIRST-LAST` point at lines the file has.
// - README's layout block names every folder of src/ and every top-level folder.
// - A code name in backticks in README.md, docs/ or models/README.md (camelCase, snake_case or a call,
//   `planFor`, `batchnorm_forward`, `tidy()`) is a name the code has: a renamed function leaves no stale
//   mention (bench/RESULTS.md is a record of its day and keeps the names of then).
// - A comment in the code that names a repository file (src/..., shaders/..., scripts/...) names one that exists.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, sourceFiles } from './support/sources.ts';

const DOCS = ['README.md', ...sourceFiles(['docs'], ['.md']), 'bench/RESULTS.md'];
const read = (file: string) => readFileSync(path.join(ROOT, file), 'utf8');

/** The first names of the repository's tracked tree: a path in prose starting with one of these is ours to check. */
const TOP = [...new Set(execFileSync('git', ['ls-files'], { cwd: ROOT, encoding: 'utf8' }).split('\n').filter(Boolean).map((f) => f.split('/')[0]))];

interface Fence { doc: string; line: number; heading: string; lines: string[] }

/** Fenced blocks with the nearest heading above them. */
function fences(doc: string): Fence[] {
  const found: Fence[] = [];
  let heading = '';
  let open: Fence | null = null;
  read(doc).split('\n').forEach((text, i) => {
    if (open) {
      if (/^\s*```/.test(text)) { found.push(open); open = null; } else open.lines.push(text);
    } else if (/^\s*```/.test(text)) open = { doc, line: i + 1, heading, lines: [] };
    else if (/^#+\s/.test(text)) heading = text;
  });
  return found;
}

const isFile = (file: string) => existsSync(path.join(ROOT, file)) && statSync(path.join(ROOT, file)).isFile();
const squeeze = (text: string) => text.replace(/\s+/g, ' ').trim();

/** Files a heading names in backticks. */
const namedFiles = (heading: string) => [...heading.matchAll(/`([^`]+)`/g)].map((m) => m[1]).filter(isFile);

/** The fragments of an excerpt line (split at `...`) appear in `text` in that order. */
function lineAppears(line: string, text: string): boolean {
  const fragments = line.split(/\.\.\.|…/).map(squeeze).filter(Boolean);
  let from = 0;
  for (const fragment of fragments) {
    const at = text.indexOf(fragment, from);
    if (at < 0) return false;
    from = at + fragment.length;
  }
  return true;
}

const ignored = (file: string) => {
  try {
    execFileSync('git', ['check-ignore', '-q', file], { cwd: ROOT });
    return true;
  } catch {
    return false;
  }
};

/** A path exists, or git ignores it (an output), or with a `*` the folder before it exists. */
function pathProblem(file: string, lines?: [number, number]): string | null {
  const normal = path.posix.normalize(file).replace(/\/$/, '');
  if (normal.includes('*')) {
    const folder = normal.slice(0, normal.indexOf('*')).replace(/\/[^/]*$/, '');
    return existsSync(path.join(ROOT, folder)) ? null : 'no such folder';
  }
  if (!existsSync(path.join(ROOT, normal))) return ignored(normal) ? null : 'no such file';
  if (lines) {
    if (!isFile(normal)) return 'not a file';
    const count = read(normal).split('\n').length;
    if (lines[0] < 1 || lines[1] < lines[0] || lines[1] > count) return `has ${count} lines`;
  }
  return null;
}

/** Repository paths named in a doc's text (from the root) and in its links (from its folder), with where. */
function mentionedPaths(doc: string): { where: string; file: string; lines?: [number, number] }[] {
  const found: { where: string; file: string; lines?: [number, number] }[] = [];
  const top = TOP.map((t) => t.replace(/[.]/g, '\\.')).join('|');
  const inText = new RegExp(`(?<![\\w./~$@-])((?:${top})(?:/[\\w.*@-]+)*/?)(?::(\\d+)(?:-(\\d+))?)?`, 'g');
  read(doc).split('\n').forEach((text, i) => {
    const where = `${doc}:${i + 1}`;
    for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:|^#/.test(m[1])) continue; // a URL or an anchor
      found.push({ where, file: path.posix.join(path.posix.dirname(doc), m[1].replace(/#.*$/, '')) });
    }
    for (const m of text.replace(/\]\([^)]*\)/g, ']').matchAll(inText)) {
      const file = m[1].replace(/[.]+$/, '');
      // a bare top-level name in prose ("the bench", "docs") is a word, not a path
      if (!file.includes('/') && !/\.\w+$/.test(file)) continue;
      const first = m[2] === undefined ? undefined : Number(m[2]);
      found.push({ where, file, lines: first === undefined ? undefined : [first, m[3] === undefined ? first : Number(m[3])] });
    }
  });
  return found;
}

/** Every identifier of the code (comments left out), for the docs' names to be found in. */
function codeNames(): Set<string> {
  const files = sourceFiles(['src', 'web', 'bench', 'test', 'scripts', 'shaders', 'bin'], ['.ts', '.mjs', '.wgsl', '.py', '.sh', '.html']);
  return new Set(files.flatMap((f) => read(f).replace(/\/\/.*$|\/\*[\s\S]*?\*\//gm, '').match(/[A-Za-z_][A-Za-z0-9_]*/g) ?? []));
}

/** Names from outside this repository that the docs mention in backticks. */
const OUTSIDE_NAMES = new Set(['DistributedSampler']);

describe('docs', () => {
  it('every code excerpt appears in the files its heading names', () => {
    const stale: string[] = [];
    let checked = 0;
    for (const doc of DOCS) {
      for (const fence of fences(doc)) {
        const files = namedFiles(fence.heading);
        if (files.length === 0) continue; // a command or an output, not an excerpt
        checked++;
        const texts = files.map((file) => squeeze(read(file)));
        fence.lines.forEach((line, k) => {
          if (squeeze(line.replace(/\.\.\.|…/g, '')) === '') return;
          if (!texts.some((text) => lineAppears(line, text))) stale.push(`${doc}:${fence.line + 1 + k} not in ${files.join(' or ')}: ${line.trim()}`);
        });
      }
    }
    expect(checked).toBeGreaterThan(0);
    expect(stale).toEqual([]);
  });

  it('every repository path the docs name exists (and every file:line is inside its file)', () => {
    const missing = DOCS.flatMap((doc) => mentionedPaths(doc).flatMap(({ where, file, lines }) => {
      const problem = pathProblem(file, lines);
      return problem ? [`${where}: ${file}${lines ? `:${lines.join('-')}` : ''}: ${problem}`] : [];
    }));
    expect(missing).toEqual([]);
  });

  it("README's layout names every folder of src/ and every top-level folder", () => {
    const layout = fences('README.md').find((fence) => /^#+\s+Layout/.test(fence.heading));
    expect(layout, 'README has a "## Layout" section with a fenced block').toBeDefined();
    const named = new Set(layout!.lines.map((line) => line.split(/\s/)[0].replace(/\/$/, '')).filter(Boolean));
    const folders = [
      ...readdirSync(path.join(ROOT, 'src'), { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => `src/${e.name}`),
      ...TOP.filter((name) => !name.startsWith('.') && name !== 'src' && statSync(path.join(ROOT, name)).isDirectory()),
    ];
    expect(folders.filter((folder) => !named.has(folder))).toEqual([]);
  });

  it('every code name the docs put in backticks is one the code has', () => {
    const names = codeNames();
    const stale = ['README.md', ...sourceFiles(['docs'], ['.md']), 'models/README.md'].flatMap((doc) => read(doc).split('\n').flatMap((text, i) =>
      [...text.matchAll(/`([A-Za-z_][A-Za-z0-9_]*)(\(\))?`/g)]
        .filter(([, name, call]) => (call || /[a-z][A-Z]|_/.test(name)) && !names.has(name) && !OUTSIDE_NAMES.has(name))
        .map(([, name]) => `${doc}:${i + 1}: ${name}`)));
    expect(stale).toEqual([]);
  });

  it('every repository file a code comment names exists', () => {
    const code = sourceFiles(['src', 'web', 'bench', 'test', 'scripts', 'shaders', 'bin'], ['.ts', '.mjs', '.wgsl']);
    const missing = code.flatMap((file) => read(file).split('\n').flatMap((text, i) => {
      const comment = /\/\/.*$|^\s*\*.*$/.exec(text)?.[0] ?? '';
      return [...comment.matchAll(/(?<![\w./-])((?:src|shaders|test|bench|web|docs|scripts)\/[\w./-]*\w)/g)]
        .map((m) => m[1])
        .filter((p) => !p.includes('*') && pathProblem(p) !== null && pathProblem(`shaders/${p}`) !== null)
        .map((p) => `${file}:${i + 1}: ${p}`);
    }));
    expect(missing).toEqual([]);
  });
});
