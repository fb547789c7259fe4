import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ModelManagerError } from '../../../src/backend/models/errors.js';
import { importModelFolder } from '../../../src/backend/models/import.js';
import { listModels, modelIdFor } from '../../../src/backend/models/installed.js';
import { readSafetensors, writeSafetensors } from '../../../src/engine/clip/safetensors.js';
import { GOLDEN_MODEL_DIR } from '../../fixtures/golden/load.js';
import { expectFailure } from './expect-failure.js';

const tempDir = mkdtempSync(join(tmpdir(), 'model-import-test-'));
afterAll(() => rmSync(tempDir, { recursive: true, force: true }));
let rootCount = 0;
const newModelsRoot = () => join(tempDir, `models-${rootCount++}`);

function copyOfGolden(name: string): string {
  const dir = join(tempDir, name);
  cpSync(GOLDEN_MODEL_DIR, dir, { recursive: true });
  return dir;
}

describe('importModelFolder', () => {
  it('copies a valid model folder under its name and lists it', async () => {
    const root = newModelsRoot();
    const source = copyOfGolden('golden-tiny');
    const model = await importModelFolder(source, root);
    expect(model).toMatchObject({ id: 'golden-tiny', name: 'golden-tiny', dir: join(root, 'golden-tiny') });
    expect(model.summary).toEqual({
      architecture: 'ViT-64x2/8',
      imageSize: 32,
      patchSize: 8,
      projectionDim: 32,
      textHidden: 64,
      textLayers: 2,
      visionHidden: 64,
      visionLayers: 2,
      weightsBytes: 13548516,
    });
    expect(model.source).toEqual({ type: 'import', path: source });
    for (const file of ['config.json', 'preprocessor_config.json', 'tokenizer.json', 'model.safetensors']) {
      expect(readFileSync(join(model.dir, file)).equals(readFileSync(join(source, file))), file).toBe(true);
    }
    expect(readdirSync(root)).toEqual(['golden-tiny']);

    const { models, broken } = await listModels(root);
    expect(broken).toEqual([]);
    expect(models).toEqual([model]);
  });

  it('refuses to overwrite an installed model', async () => {
    const root = newModelsRoot();
    const source = copyOfGolden('twice');
    await importModelFolder(source, root);
    await expectFailure(importModelFolder(source, root), 'exists', /a model "twice" is already installed/);
    const renamed = await importModelFolder(source, root, { name: 'My CLIP / tiny' });
    expect(renamed.id).toBe('My-CLIP--tiny');
    expect(renamed.name).toBe('My CLIP / tiny');
  });

  it('rejects an invalid folder and leaves nothing behind', async () => {
    const root = newModelsRoot();
    const source = copyOfGolden('no-tokenizer');
    rmSync(join(source, 'tokenizer.json'));
    await expectFailure(
      importModelFolder(source, root),
      'invalid-model',
      /no-tokenizer: not a CLIP model folder: missing tokenizer\.json/,
    );
    expect(existsSync(root)).toBe(false);
  });

  it('rejects weights of the wrong shape, naming the tensor', async () => {
    const source = copyOfGolden('bad-shape');
    const weightsPath = join(source, 'model.safetensors');
    const weights = readSafetensors(weightsPath);
    weights.set('visual_projection.weight', { ...weights.get('visual_projection.weight')!, shape: [64, 32] });
    writeSafetensors(weightsPath, weights);
    await expectFailure(
      importModelFolder(source, newModelsRoot()),
      'invalid-model',
      /model\.safetensors: .*tensor "visual_projection\.weight" has shape \[64, 32\], expected \[32, 64\]/,
    );
  });

  it('rejects names that cannot become a folder', () => {
    expect(() => modelIdFor('...')).toThrow(ModelManagerError);
    expect(modelIdFor('openai/clip-vit-base-patch16')).toBe('openai--clip-vit-base-patch16');
  });
});

describe('listModels', () => {
  it('reports broken folders with the reason and skips staging folders', async () => {
    const root = newModelsRoot();
    await importModelFolder(copyOfGolden('good'), root);
    mkdirSync(join(root, 'half-copied'));
    writeFileSync(join(root, 'half-copied', 'config.json'), '{}');
    mkdirSync(join(root, '.download-x'));
    const { models, broken } = await listModels(root);
    expect(models.map((m) => m.id)).toEqual(['good']);
    expect(broken).toHaveLength(1);
    expect(broken[0].id).toBe('half-copied');
    expect(broken[0].error).toMatch(/missing preprocessor_config\.json, tokenizer\.json, model\.safetensors/);
  });

  it('returns nothing for a models root that does not exist yet', async () => {
    expect(await listModels(join(tempDir, 'nothing-here'))).toEqual({ models: [], broken: [] });
  });
});
