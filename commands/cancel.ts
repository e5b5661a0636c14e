// /cancel [job id]: cancel one of your jobs (admins: anyone's). Without an id, your most recent queued or running job.
import { JOB_ID } from '../src/core/button-id.ts';
import { BotError, ErrorCode, ValidationError, expected } from '../src/core/errors.ts';
import type { Command } from '../src/core/types.ts';

export default {
  data: {
    name: 'cancel',
    description: 'Cancel a queued or running job (yours, or any as an admin)',
    ephemeral: true,
    textOption: 'job',
    options: [{ name: 'job', description: 'Job id; default: your latest queued or running job', type: 'string', minLength: 6, maxLength: 12 }],
  },
  async execute({ input, reply, services }) {
    let id = input.options.job === undefined ? '' : String(input.options.job).trim().toLowerCase();
    if (id === '') {
      const mine = await services.jobs.mine(input.actor);
      const latest = [...mine].sort((a, b) => b.seq - a.seq)[0];
      if (!latest) throw new BotError(ErrorCode.NotFound, 'nothing to cancel', 'You have no queued or running jobs to cancel.');
      id = latest.id;
    } else if (!JOB_ID.test(id)) {
      throw new ValidationError('job', expected('job', 'a job id of 6 to 12 letters and digits, e.g. `k3f9qz`', id));
    }
    const result = await services.jobs.cancel(id, input.actor);
    await reply.ephemeral({ text: result === 'removed' ? `Cancelled \`${id}\`; it was still queued.` : `Stopping \`${id}\` at its next step.` });
  },
} satisfies Command;
