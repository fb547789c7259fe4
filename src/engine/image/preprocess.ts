// Turning decoded pixels into the float tensors the CLIP vision tower and the view warps consume.
import sharp, { type KernelEnum } from 'sharp';
import type { ClipPreprocessConfig, ResampleFilter } from '../clip/config.js';
import type { DecodedImage } from './decode.js';

type Rgb = readonly [number, number, number];

export interface Normalization {
  mean: Rgb;
  std: Rgb;
}

/** A float image, channel-major [3, height, width]. */
export interface ChwImage {
  data: Float32Array;
  height: number;
  width: number;
}

const IDENTITY: Normalization = { mean: [0, 0, 0], std: [1, 1, 1] };

// sharp's 'cubic' is the Catmull-Rom spline, the same kernel as PIL's BICUBIC that CLIPImageProcessor uses.
const SHARP_KERNELS: Record<ResampleFilter, keyof KernelEnum> = {
  nearest: 'nearest',
  bilinear: 'linear',
  bicubic: 'cubic',
  lanczos: 'lanczos3',
};

/** Size after scaling the shorter side to `shortSide`, the longer side truncated as transformers does. */
function shorterSideTo(width: number, height: number, shortSide: number): { width: number; height: number } {
  if (width <= height) return { width: shortSide, height: Math.floor((shortSide * height) / width) };
  return { width: Math.floor((shortSide * width) / height), height: shortSide };
}

function rawInput(image: DecodedImage) {
  return sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } });
}

async function resizedPixels(image: DecodedImage, width: number, height: number, kernel: keyof KernelEnum) {
  if (width === image.width && height === image.height) return image;
  const data = await rawInput(image).resize(width, height, { fit: 'fill', kernel }).raw().toBuffer();
  return { width, height, data: new Uint8Array(data.buffer, data.byteOffset, data.length) };
}

/** HWC uint8 (a window of it) → CHW float32, (x/255 - mean) / std per channel. */
function toChw(
  image: DecodedImage,
  window: { left: number; top: number; width: number; height: number },
  { mean, std }: Normalization,
): Float32Array {
  const { left, top, width, height } = window;
  const plane = width * height;
  const out = new Float32Array(3 * plane);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const src = ((top + y) * image.width + left + x) * 3;
      for (let c = 0; c < 3; c++)
        out[c * plane + y * width + x] = (image.data[src + c] / 255 - mean[c]) / std[c];
    }
  }
  return out;
}

/**
 * CLIPImageProcessor: shorter side resized to `shortestEdge`, centre crop `imageSize`, rescale to 0..1,
 * normalise with mean/std. Returns CHW [3, imageSize, imageSize].
 *
 * Resize and crop run as one libvips pipeline, which computes only the pixels of the crop: memory is
 * bounded by the output whatever the aspect ratio (a 1×60000 image would otherwise be resized to a
 * 224×13.4M intermediate, 9 GB). The pixels are the same as resizing the whole image first.
 */
export async function clipPreprocess(image: DecodedImage, cfg: ClipPreprocessConfig): Promise<Float32Array> {
  const size = shorterSideTo(image.width, image.height, cfg.shortestEdge);
  const crop = cfg.imageSize;
  const window = {
    left: Math.floor((size.width - crop) / 2),
    top: Math.floor((size.height - crop) / 2),
    width: crop,
    height: crop,
  };
  const data = await rawInput(image)
    .resize(size.width, size.height, { fit: 'fill', kernel: SHARP_KERNELS[cfg.resample] })
    .extract(window)
    .raw()
    .toBuffer();
  const cropped = {
    width: crop,
    height: crop,
    data: new Uint8Array(data.buffer, data.byteOffset, data.length),
  };
  return toChw(cropped, { left: 0, top: 0, width: crop, height: crop }, cfg);
}

/** The whole image with its shorter side resized (antialiased) to `shortSide`, CHW in 0..1; views are warped out of it. */
export async function imageToSourceTensor(image: DecodedImage, shortSide: number): Promise<ChwImage> {
  const size = shorterSideTo(image.width, image.height, shortSide);
  const resized = await resizedPixels(image, size.width, size.height, 'cubic');
  return {
    data: toChw(resized, { left: 0, top: 0, ...size }, IDENTITY),
    height: size.height,
    width: size.width,
  };
}

/**
 * The whole image resized (antialiased) to side×side, CHW in 0..1. Normalised coordinates — the frame
 * of the views' affine maps — do not depend on the pixel grid, so one square size serves every aspect
 * ratio and one compiled view renderer serves every image.
 */
export async function imageToSquareSource(image: DecodedImage, side: number): Promise<ChwImage> {
  const resized = await resizedPixels(image, side, side, 'cubic');
  return {
    data: toChw(resized, { left: 0, top: 0, width: side, height: side }, IDENTITY),
    height: side,
    width: side,
  };
}

/** Writes a CHW float image as PNG, undoing `normalization` if given and clamping to 0..1. */
export async function writePng(
  path: string,
  chw: Float32Array,
  height: number,
  width: number,
  normalization: Normalization = IDENTITY,
): Promise<void> {
  const plane = height * width;
  if (chw.length !== 3 * plane) {
    throw new RangeError(
      `writePng ${path}: ${chw.length} values do not make a [3, ${height}, ${width}] image`,
    );
  }
  const { mean, std } = normalization;
  const hwc = new Uint8Array(3 * plane);
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) {
      const value = chw[c * plane + i] * std[c] + mean[c];
      hwc[i * 3 + c] = Math.round(Math.min(1, Math.max(0, value)) * 255);
    }
  }
  await sharp(hwc, { raw: { width, height, channels: 3 } })
    .png()
    .toFile(path);
}
