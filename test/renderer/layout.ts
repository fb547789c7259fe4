// happy-dom lays nothing out: every element measures 0×0. Tests that need a viewport give elements a
// size here (what a browser window would), and restore the DOM's own getters afterwards.
const measured = ['clientWidth', 'clientHeight', 'offsetWidth', 'offsetHeight'] as const;

export function giveElementsSize(width: number, height: number): () => void {
  const originals = measured.map(
    (name) => [name, Object.getOwnPropertyDescriptor(HTMLElement.prototype, name)] as const,
  );
  for (const name of measured) {
    Object.defineProperty(HTMLElement.prototype, name, {
      configurable: true,
      get: () => (name.endsWith('Width') ? width : height),
    });
  }
  return () => {
    for (const [name, descriptor] of originals) {
      if (descriptor) Object.defineProperty(HTMLElement.prototype, name, descriptor);
      else delete (HTMLElement.prototype as unknown as Record<string, unknown>)[name];
    }
  };
}
