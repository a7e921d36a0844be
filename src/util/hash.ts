// A short, stable tag of a text (FNV-1a, 32 bits, as 8 hex digits): for cache keys and file names, never
// for security.
export function fnv1a(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h.toString(16).padStart(8, '0');
}
