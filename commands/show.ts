// /show <job id>: a job's prompt, parameters, seeds, lineage and result (with working buttons).
import { JOB_ID } from '../src/core/button-id.ts';
import { BotError, ErrorCode, ValidationError, expected } from '../src/core/errors.ts';
import { formatDuration, paramsAsFlags } from '../src/core/format.ts';
import type { Command } from '../src/core/types.ts';

export default {
  data: {
    name: 'show',
    description: 'Show a job: prompt, parameters, seeds, lineage and result',
    ephemeral: true,
    textOption: 'job',
    options: [{ name: 'job', description: 'Job id, e.g. k3f9qz', type: 'string', required: true, minLength: 6, maxLength: 12 }],
  },
  async execute({ input, reply, services }) {
    const id = String(input.options.job ?? '').trim().toLowerCase();
    if (!JOB_ID.test(id)) throw new ValidationError('job', expected('job', 'a job id of 6 to 12 letters and digits, e.g. `k3f9qz`', id));
    const job = await services.jobs.get(id);
    // Jobs of other platforms or other guilds are private to their owner.
    if (!job || job.platform !== input.actor.platform || (job.guildId !== input.actor.guildId && job.ownerId !== input.actor.userId)) {
      throw new BotError(ErrorCode.NotFound, `No job ${id} visible to ${input.actor.userId}`, `No job \`${id}\` here. Check the id.`);
    }
    const fields = [
      { name: 'Prompt', value: job.params.prompt },
      { name: 'Parameters', value: paramsAsFlags(job.params) },
      { name: 'Status', value: job.status + (job.durationMs !== undefined ? ` in ${formatDuration(job.durationMs)}` : '') },
      { name: 'Owner', value: job.ownerName ?? job.ownerId },
    ];
    if (job.seeds) fields.push({ name: 'Seeds', value: job.seeds.join(', ') });
    if (job.parent) fields.push({ name: 'From', value: `${job.parent.action} of \`${job.parent.jobId}\`` });
    if (job.params.strength !== undefined) fields.push({ name: 'Strength', value: String(job.params.strength) });
    if (job.error) fields.push({ name: 'Error', value: job.error.message });
    const view = job.status === 'done' ? await services.jobs.doneView(job) : undefined;
    await reply.ephemeral({
      text: `Job \`${job.id}\``,
      fields,
      ...(view?.state === 'done' && { image: view.image, buttons: view.buttons }),
    });
  },
} satisfies Command;
