// wgsl_reflect's package "exports" give Node no ESM entry; its module build works in Node and browsers alike.
declare module 'wgsl_reflect/wgsl_reflect.module.js' {
  export * from 'wgsl_reflect';
}
