// Optimisers that update host arrays in place, with PyTorch's exact update order so that one step
// matches the reference implementation bit for bit up to float32 rounding.

export interface AdamOptions {
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  /** Decoupled weight decay (AdamW); 0 gives plain Adam. */
  weightDecay?: number;
}

export class AdamW {
  readonly lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  private step = 0;
  readonly expAvg: Float64Array[];
  readonly expAvgSq: Float64Array[];

  constructor(sizes: readonly number[], options: AdamOptions) {
    this.lr = options.lr;
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.eps = options.eps ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 0;
    this.expAvg = sizes.map((n) => new Float64Array(n));
    this.expAvgSq = sizes.map((n) => new Float64Array(n));
  }

  get steps(): number {
    return this.step;
  }

  /** Continues from a saved state (a training checkpoint): the step count and both moments per parameter. */
  restore(steps: number, expAvg: readonly ArrayLike<number>[], expAvgSq: readonly ArrayLike<number>[]): void {
    if (expAvg.length !== this.expAvg.length || expAvgSq.length !== this.expAvgSq.length)
      throw new Error(`AdamW: expected the moments of ${this.expAvg.length} parameters`);
    expAvg.forEach((m, k) => {
      if (m.length !== this.expAvg[k].length || expAvgSq[k].length !== m.length)
        throw new Error(`AdamW: saved moments of parameter ${k} have the wrong size`);
      this.expAvg[k].set(m);
      this.expAvgSq[k].set(expAvgSq[k]);
    });
    this.step = steps;
  }

  /** One update of every parameter in place. */
  update(params: readonly (Float32Array | Float64Array)[], grads: readonly ArrayLike<number>[]): void {
    if (params.length !== this.expAvg.length || grads.length !== params.length) {
      throw new Error(
        `AdamW: expected ${this.expAvg.length} parameters and gradients, got ${params.length} and ${grads.length}`,
      );
    }
    this.step += 1;
    const correction1 = 1 - this.beta1 ** this.step;
    const correction2Sqrt = Math.sqrt(1 - this.beta2 ** this.step);
    const stepSize = this.lr / correction1;
    params.forEach((p, k) => {
      const g = grads[k];
      const m = this.expAvg[k];
      const v = this.expAvgSq[k];
      if (g.length !== p.length)
        throw new Error(`AdamW: gradient ${k} has ${g.length} values, parameter has ${p.length}`);
      for (let i = 0; i < p.length; i++) {
        let value = p[i] * (1 - this.lr * this.weightDecay);
        m[i] = this.beta1 * m[i] + (1 - this.beta1) * g[i];
        v[i] = this.beta2 * v[i] + (1 - this.beta2) * g[i] * g[i];
        value -= (stepSize * m[i]) / (Math.sqrt(v[i]) / correction2Sqrt + this.eps);
        p[i] = value;
      }
    });
  }
}
