// The repository's own TypeScript read as text, for the tests that check its shape (test/layers.test.ts,
// test/exports.test.ts): which files there are, what each imports, what each exports. Regular expressions,
// not a parser: the code base keeps to plain `import { a, type B } from './x.ts'` forms, and a form these
// miss shows up as a test failure naming the file, not as a silent pass.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';

export const ROOT = path.resolve(import.meta.dirname, '../..');

/** Tracked and untracked-but-not-ignored files under `folders`, as repository paths ('src/train/gan.ts'). */
export function sourceFiles(folders: string[], extensions = ['.ts', '.mjs']): string[] {
  const listed = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '--', ...folders], { cwd: ROOT, encoding: 'utf8' });
  return [...new Set(listed.split('\n'))]
    .filter((file) => file && extensions.some((ext) => file.endsWith(ext)) && !file.endsWith('.d.ts'))
    .filter((file) => { try { readFileSync(path.join(ROOT, file)); return true; } catch { return false; } })
    .sort();
}

export const readSource = (file: string): string => readFileSync(path.join(ROOT, file), 'utf8');

/** Whole-line `//` comments and block comments that open a line: code quoted in comments is not an import. */
function withoutComments(text: string): string {
  return text.replace(/^\s*\/\*[\s\S]*?\*\//gm, '').replace(/^\s*\/\/.*$/gm, '');
}

export interface Import {
  /** as written: './gan.ts', 'node:fs', '../shaders/adam.wgsl?raw' */
  specifier: string;
  /** the repository path a relative specifier points to (query dropped), else null (a package or node: builtin) */
  target: string | null;
  /** the names taken: `{ a, b as c, type D }` gives a, b, D; null for `* as ns`, a side-effect import, or a dynamic import that is not destructured */
  names: string[] | null;
  /** for `import * as ns`: the namespace's local name */
  namespace?: string;
}

const namedList = (list: string): string[] =>
  list.split(',').map((part) => part.trim().replace(/^type\s+/, '').split(/\s+as\s+/)[0].trim()).filter(Boolean);

/** Every static import, `export ... from`, side-effect import and dynamic import() of a file. */
export function importsOf(file: string, text = readSource(file)): Import[] {
  const code = withoutComments(text);
  const found: Import[] = [];
  const add = (specifier: string, names: string[] | null, namespace?: string) => {
    const target = specifier.startsWith('.')
      ? path.posix.normalize(path.posix.join(path.posix.dirname(file), specifier.replace(/\?.*$/, '')))
      : null;
    found.push({ specifier, target, names, namespace });
  };
  // import X, { a, b } from '...';  import type { A } from '...';  export { a } from '...';  import * as ns from '...'
  for (const m of code.matchAll(/\b(import|export)\s+(type\s+)?([^'";]*?)\s+from\s+'([^']+)'/g)) {
    const clause = m[3].trim();
    const namespace = /^\*\s+as\s+(\w+)$/.exec(clause)?.[1];
    if (namespace) { add(m[4], null, namespace); continue; }
    if (clause === '*') { add(m[4], null); continue; }
    const braces = /\{([^}]*)\}/.exec(clause);
    const defaultName = /^(\w+)\s*(,|$)/.exec(clause) ? 'default' : null;
    add(m[4], [...(braces ? namedList(braces[1]) : []), ...(defaultName ? [defaultName] : [])]);
  }
  for (const m of code.matchAll(/^\s*import\s+'([^']+)'/gm)) add(m[1], []);
  // const { a, b } = await import('...');   import('...').then(...)   typeof import('...')
  for (const m of code.matchAll(/(?:\{([^}]*)\}\s*=\s*await\s+)?import\(\s*'([^']+)'\s*\)/g)) {
    add(m[2], m[1] === undefined ? null : namedList(m[1].replace(/:\s*\w+/g, '')));
  }
  return found;
}

/** The names a file exports: declarations (`export function f`, `export const c`, ...) and `export { a, b }`. */
export function exportsOf(text: string): string[] {
  const code = withoutComments(text);
  const names = new Set<string>();
  for (const m of code.matchAll(/^export\s+(?:declare\s+)?(?:default\s+)?(?:async\s+)?(?:abstract\s+)?(?:function\*?|class|const|let|var|interface|type|enum)\s+(\w+)/gm)) {
    names.add(m[1]);
  }
  for (const m of code.matchAll(/^export\s+(?:type\s+)?\{([^}]*)\}/gm)) {
    for (const part of m[1].split(',')) {
      const name = part.trim().replace(/^type\s+/, '').split(/\s+as\s+/).pop()?.trim();
      if (name) names.add(name);
    }
  }
  return [...names];
}
