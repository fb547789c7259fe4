// Reverse-mode differentiation over the traced graph. Only nodes that lie on a path from a requested
// input to an output are visited, so frozen weights cost no gradient work. The result is again a
// traced graph, so grad() of a grad() gives second derivatives.
import { primitives } from './primitives.js';
import { Tensor, add, constant, zerosLike } from './tensor.js';

/** Nodes reachable from `roots`, inputs before the nodes that use them. */
export function topologicalOrder(roots: readonly Tensor[]): Tensor[] {
  const order: Tensor[] = [];
  const visited = new Set<number>();
  // Iterative depth-first walk: models such as ViT-L make graphs too deep for recursion.
  const stack: { tensor: Tensor; expanded: boolean }[] = roots.map((tensor) => ({ tensor, expanded: false }));
  while (stack.length > 0) {
    const top = stack.pop()!;
    if (top.expanded) {
      order.push(top.tensor);
      continue;
    }
    if (visited.has(top.tensor.id)) continue;
    visited.add(top.tensor.id);
    stack.push({ tensor: top.tensor, expanded: true });
    for (const inputTensor of top.tensor.inputs) {
      if (!visited.has(inputTensor.id)) stack.push({ tensor: inputTensor, expanded: false });
    }
  }
  return order;
}

/**
 * Gradients of `outputs` (weighted by `seeds`, default ones) with respect to each of `wrt`.
 * An input with no path to the outputs gets zeros.
 */
export function grad(
  outputs: Tensor | readonly Tensor[],
  wrt: readonly Tensor[],
  seeds?: readonly Tensor[],
): Tensor[] {
  const outs = Array.isArray(outputs) ? (outputs as readonly Tensor[]) : [outputs as Tensor];
  const order = topologicalOrder(outs);

  const wanted = new Set(wrt.map((t) => t.id));
  const onPath = new Set<number>();
  for (const node of order) {
    if (wanted.has(node.id) || node.inputs.some((i) => onPath.has(i.id))) onPath.add(node.id);
  }

  const grads = new Map<number, Tensor>();
  const accumulate = (t: Tensor, g: Tensor): void => {
    const existing = grads.get(t.id);
    grads.set(t.id, existing ? add(existing, g) : g);
  };
  outs.forEach((out, i) => {
    if (!out.isFloat) throw new Error(`grad: output ${out} is not a float tensor`);
    accumulate(out, seeds?.[i] ?? constant(1, [], out.dtype).expand(out.shape));
  });

  for (let i = order.length - 1; i >= 0; i--) {
    const node = order[i];
    const g = grads.get(node.id);
    if (!g || !onPath.has(node.id) || node.inputs.length === 0) continue;
    const vjp = primitives[node.op].vjp;
    if (!vjp) throw new Error(`grad: primitive '${node.op}' has no gradient rule`);
    const inputGrads = vjp(g, node);
    node.inputs.forEach((inputTensor, k) => {
      const ig = inputGrads[k];
      if (ig && onPath.has(inputTensor.id)) accumulate(inputTensor, ig);
    });
  }
  return wrt.map((t) => grads.get(t.id) ?? zerosLike(t));
}
