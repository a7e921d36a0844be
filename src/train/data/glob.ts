// File-name globs for --match (and the page's match field): pure, so Node and the browser filter alike.

/**
 * Turns a file-name glob into a regular expression: `*` is any run of characters, `?` is one
 * character, everything else is literal. The match is on the whole name, case-sensitively,
 * and never crosses a `/` because it only ever sees the base name.
 */
export function globToRegExp(glob: string): RegExp {
  let source = '';
  for (const character of glob) {
    if (character === '*') source += '.*';
    else if (character === '?') source += '.';
    else source += character.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`, 's');
}
