// What counts as an image: the one list that indexing, classify, import, export and thumbnails use,
// so a file is either an image everywhere (then decoded, or recorded with an error saying why not)
// or nowhere (then skipped with a reason the user can ask for).

export interface ImageType {
  /** The format's name as users know it. */
  format: string;
  /** Lower-case file extensions, with the dot. */
  extensions: readonly string[];
  /** The media type a file of this type is served with (the image protocol, serve mode). */
  mediaType: string;
  /**
   * Set when the bundled decoder (sharp/libvips) may fail on files of this type: what the user can do.
   * Such files are still images: indexed with a per-image error, never dropped.
   */
  remedy?: string;
}

/** Every image type, most common first. */
export const IMAGE_TYPES: readonly ImageType[] = [
  { format: 'JPEG', extensions: ['.jpg', '.jpeg', '.jpe', '.jfif'], mediaType: 'image/jpeg' },
  { format: 'PNG', extensions: ['.png'], mediaType: 'image/png' },
  { format: 'WebP', extensions: ['.webp'], mediaType: 'image/webp' },
  {
    format: 'HEIC/HEIF',
    extensions: ['.heic', '.heif'],
    mediaType: 'image/heic',
    // The HEVC codec is patent-encumbered, so the prebuilt libvips reads only AVIF-coded HEIF files.
    remedy:
      'this build cannot decode HEVC-coded HEIC photos (the iPhone default); convert them to JPEG ' +
      '(macOS: `sips -s format jpeg IN --out OUT`; Linux: `heif-convert IN OUT.jpg`) or set the camera to "Most Compatible"',
  },
  { format: 'AVIF', extensions: ['.avif'], mediaType: 'image/avif' },
  { format: 'TIFF', extensions: ['.tif', '.tiff'], mediaType: 'image/tiff' },
  { format: 'GIF', extensions: ['.gif'], mediaType: 'image/gif' },
  {
    format: 'BMP',
    extensions: ['.bmp', '.dib'],
    mediaType: 'image/bmp',
    remedy: 'this build has no BMP decoder; convert the file to PNG (e.g. `magick IN.bmp OUT.png`)',
  },
];

const TYPE_BY_EXTENSION: ReadonlyMap<string, ImageType> = new Map(
  IMAGE_TYPES.flatMap((type) => type.extensions.map((extension) => [extension, type] as const)),
);

/** Every image extension (lower case, with the dot). */
export const IMAGE_EXTENSIONS: ReadonlySet<string> = new Set(TYPE_BY_EXTENSION.keys());

/** The lower-case extension of a file name or path ('' when it has none); ".hidden" has none. */
export function extensionOf(name: string): string {
  const base = name.slice(Math.max(name.lastIndexOf('/'), name.lastIndexOf('\\')) + 1);
  const dot = base.lastIndexOf('.');
  return dot > 0 ? base.slice(dot).toLowerCase() : '';
}

/** The image type of a file name or path, by its extension (case-insensitive); undefined if none. */
export function imageTypeOf(name: string): ImageType | undefined {
  return TYPE_BY_EXTENSION.get(extensionOf(name));
}

export function isImageName(name: string): boolean {
  return imageTypeOf(name) !== undefined;
}

/**
 * A decoder's error message made useful: for a type the bundled decoder may not read, one line
 * naming the format and what to do, instead of the decoder's own (often several lines of) output.
 */
export function explainDecodeFailure(name: string, message: string): string {
  const type = imageTypeOf(name);
  if (!type?.remedy) return message;
  return `${type.format}: ${type.remedy}`;
}

/** Why an entry of a folder was not taken as an image. */
export type SkipReason =
  | 'hidden'
  | 'not-an-image'
  | 'link-outside-folder'
  | 'broken-link'
  | 'app-folder'
  | 'special-file'
  | 'unreadable'
  | 'loop';

export const SKIP_REASON_TEXT: Record<SkipReason, string> = {
  hidden: 'hidden entry (name starts with ".")',
  'not-an-image': 'not an image file type (by its extension)',
  'link-outside-folder': 'symbolic link to a place outside the folder (not followed by default)',
  'broken-link': 'symbolic link to nothing',
  'app-folder': "the app's own export, thumbnail or model folder",
  'special-file': 'not a regular file or folder',
  unreadable: 'cannot be read',
  loop: 'a folder already visited through another link',
};

/** One entry that a folder walk did not take, with why (paths as the user sees them, '/'-separated). */
export interface SkippedEntry {
  path: string;
  reason: SkipReason;
  /** More detail, e.g. the link's target or the system's error. */
  detail?: string;
}

/** Counts per reason, for a one-line summary ("3 skipped: 2 not-an-image, 1 hidden"). */
export function summariseSkipped(skipped: readonly SkippedEntry[]): string {
  const counts = new Map<SkipReason, number>();
  for (const entry of skipped) counts.set(entry.reason, (counts.get(entry.reason) ?? 0) + 1);
  return [...counts].map(([reason, n]) => `${n} ${reason}`).join(', ');
}
