// Decoding one photo into the square RGB tile the models train on.
import { stat } from 'node:fs/promises';

/**
 * sharp is loaded at the first decode, not on import: a trainer given a prebuilt cache (`--data-cache`,
 * the bundled trainer of scripts/device on a machine without node_modules) never needs it.
 */
let sharpLoaded: Promise<typeof import('sharp')> | undefined;
const loadSharp = async () => (await (sharpLoaded ??= import('sharp'))).default;

/**
 * Transparent pixels are composited onto white. Photos with alpha are rare among dog pictures,
 * and where they occur (cut-out product shots, stickers) they were drawn to be seen on a white
 * page, so white is what the photographer meant; black would turn them into night scenes.
 */
export const flattenBackground = '#ffffff';

/**
 * `file` → `size`×`size`×3 bytes, RGB, row-major with channels last (HWC), 8 bits per channel.
 *
 * The pipeline, in the order sharp applies it:
 * - EXIF orientation applied (`rotate()` with no angle), so phone photos stand upright;
 * - the centred square of the largest side that fits is cut out (`fit: 'cover'`) and resized with
 *   lanczos3, which low-passes before subsampling (a nearest or bilinear shrink of a 500 px photo
 *   to 64 px aliases fur into moiré that the discriminator would learn to look for);
 * - alpha composited onto {@link flattenBackground};
 * - whatever the input space (grey, CMYK, 16-bit), converted to 8-bit sRGB, three channels.
 *
 * `failOn: 'warning'` makes a truncated JPEG an error instead of a photo with a grey bottom half.
 * Throws an Error whose message is a short reason, prefixed by the file name.
 */
export async function decodeSquare(file: string, size: number): Promise<Uint8Array> {
  if (!Number.isInteger(size) || size < 1) throw new Error(`image size must be a positive integer, got ${size}`);
  try {
    // A zero-byte file gets a clearer reason than sharp's "unsupported image format".
    const info = await stat(file);
    if (info.size === 0) throw new Error('empty file (0 bytes)');

    const sharp = await loadSharp();
    const { data, info: output } = await sharp(file, { failOn: 'warning' })
      .rotate()
      .resize(size, size, { fit: 'cover', position: 'centre', kernel: 'lanczos3' })
      .flatten({ background: flattenBackground })
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });

    const expected = size * size * 3;
    if (output.channels !== 3 || data.length !== expected) {
      throw new Error(`decoded to ${output.width}x${output.height}x${output.channels}, expected ${size}x${size}x3`);
    }
    // Own the bytes: `data` may be a view into a larger pooled Buffer.
    return new Uint8Array(data.buffer, data.byteOffset, data.length).slice();
  } catch (error) {
    throw new Error(`${file}: ${shortReason(error)}`);
  }
}

/** The first line of an error message, without sharp's noisy prefixes. */
function shortReason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  // With failOn: 'warning', sharp leads with "Warning treated as error ..." and names the libjpeg/libpng
  // warning on a later line, or (seen under load) not at all: keep the warning, or say what it means.
  const lines = message.split('\n').map((line) => line.trim()).filter((line) => line !== '');
  const strictness = lines.length > 0 && /^Warning treated as error/.test(lines[0]);
  const detail = strictness ? lines[1] ?? 'corrupt or truncated image data' : lines[0] ?? 'unknown error';
  return detail.replace(/^Input file /, '');
}
