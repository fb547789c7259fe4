// @vitest-environment happy-dom
// The Inspector's verdict shows zero-shot's answer with its probability beside the adapted one, and
// says what adaptation changed.
import { mount } from '@vue/test-utils';
import { describe, expect, it } from 'vitest';
import PredictionVerdict from '../../src/renderer/src/components/PredictionVerdict.vue';

const classNames = ['cat', 'dog', 'fox'];
const prediction = (over: Record<string, unknown> = {}) => ({
  label: 1,
  confidence: 0.713,
  entropy: 0.61,
  zeroShotLabel: 0,
  zeroShotProbs: [0.42, 0.38, 0.2],
  zeroShotEntropy: 1.05,
  adapted: true,
  ...over,
});
/** An element's text, its lines (title, answer, numbers) joined by spaces. */
const text = (wrapper: ReturnType<typeof mount>, id: string) => {
  const element = wrapper.get(`[data-testid="${id}"]`);
  const lines = element.findAll('div');
  return (lines.length > 0 ? lines.map((line) => line.text()) : [element.text()]).join(' ');
};

describe('PredictionVerdict', () => {
  it("shows zero-shot's answer and probability beside the adapted one, and the change", () => {
    const verdict = mount(PredictionVerdict, {
      props: { prediction: prediction(), classNames, methodLabel: 'TPT' },
    });
    expect(text(verdict, 'verdict-zero-shot')).toBe('Zero-shot cat 42.0% · H = 1.050');
    expect(text(verdict, 'verdict-final')).toBe('TPT dog 71.3% · H = 0.610');
    expect(text(verdict, 'verdict-change')).toBe('TPT changed the answer: cat (42.0%) → dog (71.3%).');
  });

  it('says when adaptation kept the answer and only moved the confidence', () => {
    const kept = prediction({ label: 0, confidence: 0.58 });
    const verdict = mount(PredictionVerdict, {
      props: { prediction: kept, classNames, methodLabel: 'MetaTPT' },
    });
    expect(text(verdict, 'verdict-change')).toBe("MetaTPT kept zero-shot's answer: 42.0% → 58.0% confident.");
  });

  it('has no change to tell for a result that was not adapted', () => {
    const zeroShot = prediction({ label: 0, confidence: 0.42, entropy: 1.05, adapted: false });
    const verdict = mount(PredictionVerdict, {
      props: { prediction: zeroShot, classNames, methodLabel: 'TPT' },
    });
    expect(text(verdict, 'verdict-final')).toBe('Final cat 42.0% · H = 1.050');
    expect(verdict.find('[data-testid="verdict-change"]').exists()).toBe(false);
  });
});
