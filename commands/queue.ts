// /queue: where your jobs stand (position, what is ahead, ETA) and how busy the bot is.
import { describeJob, formatEta } from '../src/core/format.ts';
import type { Command } from '../src/core/types.ts';

export default {
  data: { name: 'queue', description: 'Your place in the queue, what is ahead of you and an ETA', ephemeral: true, options: [] },
  async execute({ input, reply, services }) {
    const depth = await services.jobs.depth();
    const mine = await services.jobs.mine(input.actor);
    const lines: string[] = [];
    for (const job of mine) {
      const at = await services.jobs.position(job.id);
      if (!at) continue;
      if (at.position === 0) {
        lines.push(`${describeJob(job)}: running, done in ${formatEta(at.etaMs)}`);
      } else {
        const ownAhead = at.ahead.filter((a) => a.ownerId === input.actor.userId).length;
        const sameGuild = at.ahead.filter((a) => a.guildId === input.actor.guildId).length;
        lines.push(
          `${describeJob(job)}: #${at.position} in line (${at.ahead.length} ahead: ${sameGuild} from this server, ${ownAhead} yours), done in ${formatEta(at.etaMs)}`,
        );
      }
    }
    const header = `${depth.running} running, ${depth.queued} queued across ${Object.keys(depth.byGuild).length} servers.`;
    await reply.ephemeral({
      text: mine.length === 0 ? `${header}\nYou have no jobs queued or running.` : `${header}\nYour jobs:\n${lines.join('\n')}`,
    });
  },
} satisfies Command;
