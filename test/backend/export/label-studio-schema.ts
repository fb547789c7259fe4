// Label Studio's task format for an image classification project, written from its documentation:
// https://labelstud.io/guide/task_format (task: data / annotations / predictions) and
// https://labelstud.io/guide/predictions (prediction: model_version, score, result; a `choices`
// result has from_name / to_name / type / value.choices; result ids must be unique).
// Matches a labeling config of `<Image name="image" value="$image"/>` with
// `<Choices name="choice" toName="image">`.
import { z } from 'zod';

const choicesResult = z.strictObject({
  id: z.string().min(1),
  from_name: z.literal('choice'),
  to_name: z.literal('image'),
  type: z.literal('choices'),
  value: z.strictObject({ choices: z.array(z.string().min(1)).length(1) }),
});

export const labelStudioTasks = z
  .array(
    z.object({
      data: z.looseObject({ image: z.string().min(1) }),
      annotations: z.array(z.object({ result: z.array(choicesResult).min(1) })).optional(),
      predictions: z
        .array(
          z.strictObject({
            model_version: z.string().min(1),
            score: z.number().min(0).max(1).optional(),
            result: z.array(choicesResult).min(1),
          }),
        )
        .optional(),
    }),
  )
  .refine((tasks) => {
    const ids = tasks.flatMap((t) =>
      [...(t.annotations ?? []), ...(t.predictions ?? [])].flatMap((a) => a.result.map((r) => r.id)),
    );
    return new Set(ids).size === ids.length;
  }, 'result ids must be unique');
