// A small seeded generator: the same seed gives the same views, splits and test data everywhere.

/** mulberry32: 32-bit state, fast, good enough for augmentation sampling and tests. */
export class Random {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  uniform(low: number, high: number): number {
    return low + (high - low) * this.next();
  }

  /** Integer in [low, high] inclusive. */
  int(low: number, high: number): number {
    return low + Math.floor(this.next() * (high - low + 1));
  }

  /** Standard normal (Box–Muller). */
  normal(): number {
    const u = 1 - this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }

  normalArray(size: number, std = 1): Float32Array {
    return Float32Array.from({ length: size }, () => this.normal() * std);
  }
}

/**
 * A seed for one named stream (an image path, a class, a tensor) derived from a run's seed by
 * FNV-1a over the key's UTF-8 bytes: streams stay fixed whatever order they are drawn in.
 */
export function seedFrom(seed: number, key: string): number {
  let hash = (0x811c9dc5 ^ seed) >>> 0;
  for (const byte of new TextEncoder().encode(key)) hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
  return hash;
}
