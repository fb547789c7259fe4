// The procedural image–text domain of the embedded model: a shape of some colour and texture on a
// plain or gradient background, at a random position, size and rotation, with a caption in words.
import { Random } from '../../src/engine/random.js';

/**
 * Every shape is symmetric about its vertical axis, so a horizontal flip (one of TPT's and CLIP's
 * augmentations) never changes the class: the arrow points up and the crescent opens upwards.
 */
export const SHAPES = [
  'circle',
  'square',
  'triangle',
  'star',
  'hexagon',
  'cross',
  'heart',
  'ring',
  'arrow',
  'crescent',
  'diamond',
  'oval',
  'semicircle',
  'trapezoid',
  'hourglass',
  'pentagon',
] as const;
export type ShapeName = (typeof SHAPES)[number];

/** Named colours (sRGB), far enough apart that a caption's colour word is unambiguous. */
export const COLOURS = {
  red: [220, 40, 40],
  orange: [245, 140, 30],
  yellow: [240, 220, 40],
  green: [50, 170, 60],
  blue: [40, 80, 220],
  purple: [140, 60, 190],
  pink: [245, 130, 190],
  brown: [130, 80, 40],
  black: [25, 25, 25],
  white: [245, 245, 245],
  gray: [128, 128, 128],
} as const satisfies Record<string, readonly [number, number, number]>;
export type ColourName = keyof typeof COLOURS;
export const COLOUR_NAMES = Object.keys(COLOURS) as ColourName[];

/** How the shape is filled; the caption word for each (solid shapes are "plain"). */
export const TEXTURES = { solid: 'plain', stripes: 'striped', dots: 'dotted', checker: 'checkered' } as const;
export type TextureName = keyof typeof TEXTURES;
export const TEXTURE_NAMES = Object.keys(TEXTURES) as TextureName[];

export interface Scene {
  shape: ShapeName;
  colour: ColourName;
  texture: TextureName;
  background: ColourName;
  /** A vertical gradient from the background colour to a lighter tint of it. */
  gradient: boolean;
  /** Centre in fractions of the image side. */
  x: number;
  y: number;
  /** Radius of the shape's bounding circle in fractions of the side. */
  size: number;
  /** Degrees, clockwise from upright. */
  rotation: number;
  /** Texture period in fractions of the side, and the angle of stripes. */
  texturePeriod: number;
  textureAngle: number;
}

/**
 * Degrees either way from upright. Shapes keep a canonical orientation (an arrow points up, a
 * crescent opens upwards), which a small model learns in the time the training budget allows; the
 * range is symmetric, so a mirrored scene is another scene of the domain.
 */
const MAX_ROTATION = 30;

/** The last templates of sceneCaption name only the shape. */
const SHAPE_ONLY_TEMPLATES = 2;

const pick = <T>(random: Random, items: readonly T[]): T => items[random.int(0, items.length - 1)];

/**
 * A random scene; the shape colour always differs from the background so the shape is visible.
 * `difficulty` in [0, 1] scales the nuisance a training curriculum ramps up: at 0 a large, upright,
 * solid shape near the centre on a plain background; at 1 (the domain) any texture, a gradient
 * background now and then, any position, size and rotation in range.
 */
export function sampleScene(random: Random, shape: ShapeName = pick(random, SHAPES), difficulty = 1): Scene {
  const colour = pick(random, COLOUR_NAMES);
  const background = pick(
    random,
    COLOUR_NAMES.filter((c) => c !== colour),
  );
  const size = random.uniform(0.4 - 0.18 * difficulty, 0.4);
  const texture = pick(random, TEXTURE_NAMES);
  return {
    shape,
    colour,
    texture: random.next() < difficulty ? texture : 'solid',
    background,
    gradient: random.next() < 0.3 * difficulty,
    x: 0.5 + difficulty * (random.uniform(size, 1 - size) - 0.5),
    y: 0.5 + difficulty * (random.uniform(size, 1 - size) - 0.5),
    size,
    rotation: difficulty * random.uniform(-MAX_ROTATION, MAX_ROTATION),
    texturePeriod: random.uniform(0.06, 0.12),
    textureAngle: random.uniform(0, 180),
  };
}

/** How much of the scene a caption describes: anything from all attributes to the shape alone, or only the shape. */
export type CaptionDetail = 'mixed' | 'shape';

/**
 * One caption for the scene, from a mix of full and partial descriptions as image–text data has them
 * ('shape': the shape-only ones); "a photo of a {shape}." keeps the usual zero-shot template inside the
 * training distribution.
 */
export function sceneCaption(scene: Scene, random: Random, detail: CaptionDetail = 'mixed'): string {
  const { shape, colour, texture, background } = scene;
  const ground = `${scene.gradient ? `${background} gradient` : background} background`;
  const textureWord = TEXTURES[texture];
  const templates = [
    `a ${colour} ${textureWord} ${shape} on a ${ground}`,
    `a ${textureWord} ${colour} ${shape} on a ${ground}`,
    `a ${colour} ${shape} on a ${ground}`,
    `a ${textureWord} ${shape} on a ${ground}`,
    `a ${shape} on a ${ground}`,
    `a ${colour} ${textureWord} ${shape}`,
    `a ${colour} ${shape}`,
    `a ${textureWord} ${shape}`,
    `a photo of a ${shape}.`,
    `a ${shape}`,
  ];
  return pick(random, detail === 'shape' ? templates.slice(-SHAPE_ONLY_TEMPLATES) : templates);
}

/** `perClass` scenes of every shape, class by class: a balanced evaluation set. */
export function balancedScenes(random: Random, perClass: number): Scene[] {
  return SHAPES.flatMap((shape) => Array.from({ length: perClass }, () => sampleScene(random, shape)));
}

/**
 * `size` scenes that share colour, texture and background and differ in shape (and placement): in a
 * contrastive batch they are each other's hard negatives, so only the shape tells their captions apart.
 * The shapes are a random order of all classes, repeated when `size` exceeds the class count.
 */
export function sampleSceneGroup(random: Random, size: number, difficulty = 1): Scene[] {
  const shapes: ShapeName[] = [];
  while (shapes.length < size) {
    const round = [...SHAPES];
    for (let i = round.length - 1; i > 0; i--) {
      const j = random.int(0, i);
      [round[i], round[j]] = [round[j], round[i]];
    }
    shapes.push(...round);
  }
  const look = sampleScene(random, undefined, difficulty);
  return shapes.slice(0, size).map((shape) => {
    const { colour, texture, background, gradient } = look;
    return { ...sampleScene(random, shape, difficulty), colour, texture, background, gradient };
  });
}
