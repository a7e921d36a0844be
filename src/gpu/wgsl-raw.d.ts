// `import code from './x.wgsl?raw'`: a shader's text (Vite's ?raw, or scripts/wgsl-hooks.mjs in Node), so
// that a project type-checking this package's source needs no Vite types of its own.
declare module '*.wgsl?raw' {
  const text: string;
  export default text;
}
