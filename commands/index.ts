// The static command registry (no fs glob: Node 20). Adapters turn `data` into Discord slash JSON, Slack commands
// or the web UI; the core looks commands up here by name.
import type { Command } from '../src/core/types.ts';
import cancel from './cancel.ts';
import help from './help.ts';
import imagine from './imagine.ts';
import queue from './queue.ts';
import settings from './settings.ts';
import show from './show.ts';

export const commands = [imagine, settings, show, queue, cancel, help] as const satisfies readonly Command[];

export { handleButton, isEphemeralAction } from './buttons.ts';
