// The layering rules of eslint.config.js fire: for each layer, an import it may not use is an error,
// and an import it may use is not. `npm run lint` then holds the whole tree to them.
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const eslint = new ESLint({ cwd: process.cwd() });

/** The layer-rule messages ESLint gives for `source` placed at `file`. */
async function layerErrors(file: string, source: string): Promise<string[]> {
  const [result] = await eslint.lintText(source, { filePath: file });
  return result!.messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

const cases: { file: string; forbidden: string; allowed: string }[] = [
  {
    file: 'src/shared/domain/probe.ts',
    forbidden: "import type { Store } from '../../backend/store/index.js';",
    allowed: "import type { AdaptMethod } from './adaptation.js';",
  },
  {
    file: 'src/shared/domain/probe.ts',
    forbidden: "import type { ApiMethod } from '../api.js';",
    allowed: "import type { GridItem } from './grid.js';",
  },
  {
    file: 'src/shared/probe.ts',
    forbidden: "import type { RunExecutor } from '../backend/jobs/executor.js';",
    allowed: "import type { GridItem } from './domain/grid.js';",
  },
  {
    file: 'src/shared/probe.ts',
    forbidden: "import { useApi } from '../renderer/src/api.js';",
    allowed: "import type { ApiMethod } from './api.js';",
  },
  {
    file: 'src/engine/probe.ts',
    forbidden: "import type { ApiMethod } from '../shared/api.js';",
    allowed: "import type { AdaptMethod } from '../shared/domain/adaptation.js';",
  },
  {
    file: 'src/engine/adapt/probe.ts',
    forbidden: "import type { Store } from '../../backend/store/index.js';",
    allowed: "import { Engine } from '../runtime.js';",
  },
  {
    file: 'src/renderer/src/stores/probe.ts',
    forbidden: "import type { GridItem } from '../../../backend/store/grid.js';",
    allowed: "import type { GridItem } from '../../../shared/api.js';",
  },
  {
    file: 'src/renderer/src/stores/probe.ts',
    forbidden: "import { softmax } from '../../../engine/adapt/zero-shot.js';",
    allowed: "import type { GridItem } from '../../../shared/domain/grid.js';",
  },
  {
    file: 'src/backend/store/probe.ts',
    forbidden: "import type { RunExecutor } from '../jobs/executor.js';",
    allowed: "import type { GridItem } from '../../shared/domain/grid.js';",
  },
];

describe('layer rules', () => {
  it.each(cases)('$file may not use $forbidden', async ({ file, forbidden, allowed }) => {
    const use = 'export const probe = 1;\n';
    expect(await layerErrors(file, `${forbidden}\n${use}`)).toHaveLength(1);
    expect(await layerErrors(file, `${allowed}\n${use}`)).toEqual([]);
  });
});
