// /help: the commands, the flags and the buttons.
import type { Command } from '../src/core/types.ts';
import { MAX_GUIDANCE, MAX_IMAGES, MAX_SEED, samplerNames } from './flags.ts';

export default {
  data: { name: 'help', description: 'How to use the bot: commands, flags and buttons', ephemeral: true, options: [] },
  async execute({ input, reply, services }) {
    // Named as this platform types them (Slack: /imagine-settings).
    const name = (command: string) => services.commandName(input.actor.platform, command);
    const commands = services.commands.map((c) => `${name(c.name)}: ${c.description}`).join('\n');
    const flags = [
      '--ar W:H   aspect ratio, 1:4 to 4:1 (e.g. --ar 3:2)',
      `--seed N   0 to ${MAX_SEED}; the same seed and prompt give the same images`,
      '--no words   things to avoid (negative prompt)',
      `--steps N   1 to ${services.limits.maxSteps} (default ${services.limits.defaultSteps ?? services.model.defaultSteps})`,
      `--guidance X (or --cfg X)   0 to ${MAX_GUIDANCE} (default ${services.limits.defaultGuidanceScale ?? services.model.defaultGuidanceScale})`,
      `--sampler NAME   ${samplerNames.join(', ')}`,
      `--n N   1 to ${MAX_IMAGES} images (default ${services.limits.defaultImages})`,
    ].join('\n');
    const buttons = [
      'U1–U4: upscale image 1–4 to 2×',
      'V1–V4: a new grid of variations of image 1–4',
      '🔄: same prompt and parameters, new seed',
      'Vary (Strong) / Vary (Subtle) / Upscale 2×: on an upscaled image',
    ].join('\n');
    await reply.ephemeral({
      text: `Example: ${name('imagine')} a lighthouse at dusk, oil painting --ar 3:2 --no people\n\nCommands:\n${commands}\n\nFlags:\n${flags}\n\nButtons:\n${buttons}\n\nModel: ${services.model.name} (${services.model.width}×${services.model.height})`,
    });
  },
} satisfies Command;
