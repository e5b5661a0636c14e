// Button ids carry only a job id and an action, e.g. `ib:k3f9qz:u2`; everything else is read from the store, so a
// button works for as long as its job is stored, across restarts. Parsing is strict: a forged or garbled id is an
// error and nothing happens.
import { BotError, ErrorCode } from './errors.ts';
import type { ButtonAction, ButtonRow, ButtonView } from './types.ts';

const PREFIX = 'ib';
/** Job ids: Crockford base32, lower case (no i, l, o, u). */
export const JOB_ID = /^[0-9a-hjkmnp-tv-z]{6,12}$/;
const BUTTON_ID = /^ib:([0-9a-hjkmnp-tv-z]{6,12}):(u[1-4]|v[1-4]|rr|vs|vt|up|x)$/;

function actionCode(action: ButtonAction): string {
  switch (action.type) {
    case 'upscale':
      return `u${action.index}`;
    case 'variation':
      return `v${action.index}`;
    case 'reroll':
      return 'rr';
    case 'vary':
      return action.strength === 'strong' ? 'vs' : 'vt';
    case 'upscale-again':
      return 'up';
    case 'cancel':
      return 'x';
  }
}

export function encodeButtonId(jobId: string, action: ButtonAction): string {
  const id = `${PREFIX}:${jobId}:${actionCode(action)}`;
  if (!BUTTON_ID.test(id)) throw new RangeError(`Cannot encode a button for job \`${jobId}\` and action ${JSON.stringify(action)}`);
  return id;
}

export function parseButtonId(customId: string): { jobId: string; action: ButtonAction } {
  const m = typeof customId === 'string' && customId.length <= 100 ? BUTTON_ID.exec(customId) : null;
  if (!m) {
    const shown = String(customId).slice(0, 40);
    throw new BotError(
      ErrorCode.BadButton,
      `Unrecognised button id \`${shown}\`; expected \`ib:<job id>:<action>\``,
      'This button is not one of mine or is damaged, so nothing was done.',
    );
  }
  const code = m[2];
  const index = Number(code.slice(1));
  const action: ButtonAction =
    code[0] === 'u' && code !== 'up'
      ? { type: 'upscale', index }
      : code[0] === 'v' && code.length === 2 && code[1] >= '1' && code[1] <= '4'
        ? { type: 'variation', index }
        : code === 'rr'
          ? { type: 'reroll' }
          : code === 'vs'
            ? { type: 'vary', strength: 'strong' }
            : code === 'vt'
              ? { type: 'vary', strength: 'subtle' }
              : code === 'up'
                ? { type: 'upscale-again' }
                : { type: 'cancel' };
  return { jobId: m[1], action };
}

/** The label a button shows, also stored as a child job's lineage (`U2`, `V1`, `🔄`, …). */
export function actionLabel(action: ButtonAction): string {
  switch (action.type) {
    case 'upscale':
      return `U${action.index}`;
    case 'variation':
      return `V${action.index}`;
    case 'reroll':
      return '🔄';
    case 'vary':
      return action.strength === 'strong' ? 'Vary (Strong)' : 'Vary (Subtle)';
    case 'upscale-again':
      return 'Upscale 2×';
    case 'cancel':
      return 'Cancel';
  }
}

const button = (jobId: string, action: ButtonAction, style: ButtonView['style'] = 'secondary'): ButtonView => ({
  id: encodeButtonId(jobId, action),
  label: actionLabel(action),
  style,
});

/** Buttons under a finished grid: U1–U4 + 🔄, then V1–V4; an upscaled image gets Vary/Upscale/🔄. */
export function doneButtons(jobId: string, imageCount: number, upscaled: boolean): ButtonRow[] {
  if (upscaled) {
    return [
      [
        button(jobId, { type: 'vary', strength: 'strong' }),
        button(jobId, { type: 'vary', strength: 'subtle' }),
        button(jobId, { type: 'upscale-again' }),
        button(jobId, { type: 'reroll' }),
      ],
    ];
  }
  const indices = Array.from({ length: imageCount }, (_, i) => i + 1);
  return [
    [...indices.map((index) => button(jobId, { type: 'upscale', index })), button(jobId, { type: 'reroll' })],
    indices.map((index) => button(jobId, { type: 'variation', index })),
  ];
}

/** Under a failed job: try again with a new seed. */
export function retryButtons(jobId: string): ButtonRow[] {
  return [[button(jobId, { type: 'reroll' }, 'primary')]];
}

export function cancelButtons(jobId: string): ButtonRow[] {
  return [[button(jobId, { type: 'cancel' }, 'danger')]];
}
