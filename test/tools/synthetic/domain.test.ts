import { describe, expect, it } from 'vitest';
import { Random } from '../../../src/engine/random.js';
import { renderScene, SHIFTS } from '../../../tools/synthetic/render.js';
import {
  balancedScenes,
  sampleScene,
  sampleSceneGroup,
  sceneCaption,
  SHAPES,
  type Scene,
} from '../../../tools/synthetic/scenes.js';

const SIDE = 64;

const scenesFrom = (seed: number, count: number): Scene[] => {
  const random = new Random(seed);
  return Array.from({ length: count }, () => sampleScene(random));
};

/** Fraction of the 8-bit values of two images that differ by more than 8 levels. */
function changedFraction(a: Uint8Array, b: Uint8Array): number {
  let changed = 0;
  for (let i = 0; i < a.length; i++) if (Math.abs(a[i] - b[i]) > 8) changed++;
  return changed / a.length;
}

/** Pixels that differ from the top-left corner (the background, for a shape away from the corner). */
function foregroundMask(data: Uint8Array): boolean[] {
  const mask: boolean[] = [];
  for (let p = 0; p < data.length / 3; p++) {
    mask.push([0, 1, 2].some((c) => Math.abs(data[p * 3 + c] - data[c]) > 40));
  }
  return mask;
}

/** A centred, unrotated, solid scene of the shape on a plain background. */
const centred = (shape: Scene['shape']): Scene => ({
  ...sampleScene(new Random(1), shape),
  colour: 'red',
  background: 'white',
  texture: 'solid',
  gradient: false,
  x: 0.5,
  y: 0.5,
  size: 0.35,
  rotation: 0,
});

describe('procedural domain', () => {
  it('gives the same scenes, captions and pixels for the same seed, and others for another seed', async () => {
    expect(scenesFrom(7, 20)).toEqual(scenesFrom(7, 20));
    expect(scenesFrom(7, 20)).not.toEqual(scenesFrom(8, 20));
    const captions = (seed: number) => {
      const random = new Random(seed);
      return scenesFrom(seed, 10).map((scene) => sceneCaption(scene, random));
    };
    expect(captions(3)).toEqual(captions(3));
    const [scene] = scenesFrom(7, 1);
    const first = await renderScene(scene, { side: SIDE, style: 'noise', noiseSeed: 5 });
    const again = await renderScene(scene, { side: SIDE, style: 'noise', noiseSeed: 5 });
    expect(Buffer.from(again.data).equals(Buffer.from(first.data))).toBe(true);
  });

  it('captions name the shape, and the shape never takes the background colour', () => {
    const random = new Random(11);
    for (const scene of scenesFrom(11, 200)) {
      expect(scene.colour).not.toBe(scene.background);
      expect(sceneCaption(scene, random)).toContain(scene.shape);
    }
  });

  it('renders every class as a visible shape of its own outline', async () => {
    const masks = new Map<string, boolean[]>();
    for (const shape of SHAPES) {
      const image = await renderScene(centred(shape), { side: SIDE });
      expect(image.data.length).toBe(SIDE * SIDE * 3);
      const mask = foregroundMask(image.data);
      const covered = mask.filter(Boolean).length / mask.length;
      expect(covered, shape).toBeGreaterThan(0.05);
      expect(covered, shape).toBeLessThan(0.6);
      masks.set(shape, mask);
    }
    // Every pair of classes differs in at least 3% of the pixels.
    for (const a of SHAPES) {
      for (const b of SHAPES) {
        if (a >= b) continue;
        const differing = masks.get(a)!.filter((v, i) => v !== masks.get(b)![i]).length;
        expect(differing / (SIDE * SIDE), `${a} vs ${b}`).toBeGreaterThan(0.03);
      }
    }
  });

  it('renders each shift visibly differently from the clean image of the same scene', async () => {
    for (const scene of scenesFrom(21, 3)) {
      const clean = await renderScene(scene, { side: SIDE });
      for (const style of SHIFTS) {
        const shifted = await renderScene(scene, { side: SIDE, style, noiseSeed: 1 });
        // Blur changes only the edges; the other shifts change most pixels.
        expect(changedFraction(shifted.data, clean.data), style).toBeGreaterThan(0.04);
      }
    }
  });

  it('pixelates into square blocks of a sixteenth of the side', async () => {
    const [scene] = scenesFrom(4, 1);
    const side = 64; // blocks of 4 × 4 px
    const { data } = await renderScene(scene, { side, style: 'pixelate' });
    const at = (x: number, y: number) => [...data.subarray((y * side + x) * 3, (y * side + x) * 3 + 3)];
    const colours = new Set<string>();
    for (let y = 0; y < side; y++) {
      for (let x = 0; x < side; x++) {
        expect(at(x, y)).toEqual(at(x - (x % 4), y - (y % 4)));
        colours.add(at(x, y).join());
      }
    }
    expect(colours.size).toBeGreaterThan(2);
  });

  it('a scene group shares its look and covers every shape before repeating one', () => {
    const group = sampleSceneGroup(new Random(5), 16);
    const looks = new Set(group.map((s) => `${s.colour}/${s.texture}/${s.background}/${s.gradient}`));
    expect(looks.size).toBe(1);
    expect(new Set(group.slice(0, SHAPES.length).map((s) => s.shape)).size).toBe(SHAPES.length);
    expect(new Set(group.map((s) => s.x)).size).toBe(16);
  });

  it('balanced scenes hold each class the same number of times', () => {
    const scenes = balancedScenes(new Random(2), 3);
    expect(scenes).toHaveLength(3 * SHAPES.length);
    for (const shape of SHAPES) expect(scenes.filter((s) => s.shape === shape)).toHaveLength(3);
  });
});
