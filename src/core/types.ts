// Public, platform-neutral types of the bot core. Adapters (Discord, Slack, web) translate their SDK's events into
// `BotInput`, implement the `Reply` and `JobSurface` ports, and render `ProgressView`/`MessageView`; they never see
// the engine, the store or the queue directly.
//
// Flow of one `/imagine`:
//   adapter receives the interaction
//   → `core.dispatch(input, reply)`; the core calls `reply.acknowledge()` before anything slow (3 s rule)
//   → command validates, stores the job, enqueues it
//   → `reply.postJobMessage(queuedView)` returns a `MessageRef` that is stored with the job
//   → every later state goes through `JobSurface.editJobMessage(ref, view)` of the job's platform, throttled to
//     `JobSurface.minEditIntervalMs` (latest state wins, the final state is always delivered).
// Because refs and jobs live in the store, a restarted process keeps editing the same message, and buttons (whose ids
// carry only job id + action) keep working forever.
import type { ModelInfo, SchedulerName } from '../../engine/index.ts';

// ───────────────────────────── who is asking ─────────────────────────────

export type Platform = 'discord' | 'slack' | 'web';

/** The person behind an input, and where they are. */
export interface Actor {
  readonly platform: Platform;
  /** Discord guild id, Slack workspace (team) id, or the playground's chosen "guild". DMs: `dm:<userId>`. */
  readonly guildId: string;
  readonly channelId: string;
  readonly userId: string;
  /** Display name, for messages only; never used for permissions. */
  readonly userName?: string;
  /** The platform says this user may administer the guild (Discord: Manage Guild; Slack: workspace admin). */
  readonly isAdmin: boolean;
  /** Role ids (Discord) or group ids (Slack); used for priority boosts. Empty where the platform has none. */
  readonly roles: readonly string[];
}

/** Typed option values, as an adapter received them (slash-command options, parsed form fields). */
export type OptionValue = string | number | boolean;

/** A slash command, e.g. `/imagine prompt:"a red fox --ar 3:2"`. */
export interface CommandInput {
  readonly type: 'command';
  readonly actor: Actor;
  /** The neutral command name from `commands/index.ts` (`imagine`, `settings`, `show`, `queue`, `cancel`, `help`). */
  readonly name: string;
  /** Option name → value; names and types are those of the command's `CommandDefinition.options`. */
  readonly options: Readonly<Record<string, OptionValue>>;
}

/** A button press. `customId` is exactly the `ButtonView.id` the core produced; it is parsed strictly. */
export interface ButtonInput {
  readonly type: 'button';
  readonly actor: Actor;
  readonly customId: string;
}

export type BotInput = CommandInput | ButtonInput;

// ───────────────────────────── what the user sees ─────────────────────────────

/** An encoded image ready to upload. Adapters may re-encode (WebP/JPEG) to fit a platform's size limit. */
export interface PngImage {
  readonly png: Uint8Array;
  readonly width: number;
  readonly height: number;
  /** A suggested file name, e.g. `imagine-k3f9qz.png`. */
  readonly filename: string;
}

/** One button. `id` is ≤ 100 characters and carries only a job id and an action (see `src/core/button-id.ts`). */
export interface ButtonView {
  readonly id: string;
  /** Short label, may start with an emoji, e.g. `U1`, `🔄`, `Vary (Strong)`. */
  readonly label: string;
  readonly style: 'primary' | 'secondary' | 'danger';
}

/** At most 5 buttons (Discord's limit); at most 5 rows per message. */
export type ButtonRow = readonly ButtonView[];

/** What every progress view says about its job. */
export interface JobCard {
  readonly jobId: string;
  readonly ownerId: string;
  readonly ownerName?: string;
  readonly kind: JobKind;
  readonly prompt: string;
  /** The parameters as flags, e.g. `--ar 3:2 --seed 42 --steps 20 --n 4`; enough to reproduce the job. */
  readonly flags: string;
  /** Set for upscale/variation/reroll/vary jobs: the job and button that started this one. */
  readonly parent?: JobLineage;
}

/**
 * The neutral state of a job's progress message. `title` and `status` are plain text (no markup) that an adapter
 * may show as is; the other fields let it render richer UIs.
 */
export type ProgressView =
  | (ViewBase & {
      readonly state: 'queued';
      readonly position: number;
      readonly etaMs: number | undefined;
      /** A Cancel button (owner or admin; others get a refusal). Optional for older renderers. */
      readonly buttons?: readonly ButtonRow[];
    })
  | (ViewBase & {
      readonly state: 'running';
      readonly step: number;
      readonly totalSteps: number;
      readonly etaMs: number | undefined;
      /** The latest preview worth showing; absent before the first one. */
      readonly preview?: PngImage;
      /** A Cancel button, as for queued. */
      readonly buttons?: readonly ButtonRow[];
    })
  | (ViewBase & {
      readonly state: 'done';
      /** The 2×2 grid (or the single image for n = 1 and for upscales). */
      readonly image: PngImage;
      readonly imageCount: number;
      readonly seeds: readonly number[];
      readonly warnings: readonly string[];
      readonly buttons: readonly ButtonRow[];
      readonly durationMs: number;
    })
  | (ViewBase & { readonly state: 'failed'; readonly code: string; readonly reason: string; readonly buttons: readonly ButtonRow[] })
  | (ViewBase & { readonly state: 'cancelled'; readonly cancelledBy: string | undefined });

interface ViewBase {
  readonly job: JobCard;
  /** e.g. `a red fox in the snow` (the prompt, shortened for headers). */
  readonly title: string;
  /** e.g. `Queued: #3, about 40 s`, `Step 12/20`, `Done in 14 s`, `Failed: …`, `Cancelled by @ana`. */
  readonly status: string;
}

export type ProgressState = ProgressView['state'];

/** A reply that is not a job's progress message: help, settings, queue position, errors. */
export interface MessageView {
  /** Plain text with line breaks; adapters may add their own markup. */
  readonly text: string;
  /** Optional key/value lines, e.g. for `/show` and `/settings`. */
  readonly fields?: readonly { readonly name: string; readonly value: string }[];
  readonly image?: PngImage;
  readonly buttons?: readonly ButtonRow[];
  /** `error` replies come from the error handler (BotError.userMessage). */
  readonly tone?: 'info' | 'error';
}

// ───────────────────────────── ports the adapter implements ─────────────────────────────

/**
 * Where a job's progress message lives. Stored with the job, so it must be JSON-serialisable. The core never reads
 * `data`; adapters put what they need there (Discord: interaction token + its expiry + message id; Slack: `ts`).
 */
export interface MessageRef {
  readonly platform: Platform;
  readonly channelId: string;
  readonly messageId?: string;
  readonly data?: Readonly<Record<string, string | number | boolean | null>>;
}

/** The answer channel of one input (one interaction). Created by the adapter per input. */
export interface Reply {
  /**
   * Acknowledge the input. The core calls this first, before any await on store or engine; adapters that already
   * acknowledged (e.g. to meet Discord's 3 s) make it a no-op. `ephemeral` says whether the answer will be private.
   */
  acknowledge(options: { readonly ephemeral: boolean }): Promise<void>;
  /** Answer only the acting user (Discord ephemeral, Slack `chat.postEphemeral`/`response_url`, web: own tab). */
  ephemeral(message: MessageView): Promise<void>;
  /** Post the public message that becomes a new job's progress message; returns where it lives. */
  postJobMessage(view: ProgressView): Promise<MessageRef>;
}

/**
 * One per platform, registered with `BotCore.attachSurface`. Used for every progress update after the first, also
 * after a restart, when no `Reply` exists any more.
 */
export interface JobSurface {
  readonly platform: Platform;
  /** Minimum time between two edits of one message (Discord ~1000 ms, Slack ~3000 ms, web ~100 ms). */
  readonly minEditIntervalMs: number;
  /**
   * Edit the job's message to show `view`. Return a new ref when the message moved (e.g. an expired Discord token
   * made the adapter post a fresh message); the core stores it. Throwing is logged and the update is dropped,
   * except that final states are retried once.
   */
  editJobMessage(ref: MessageRef, view: ProgressView): Promise<MessageRef | void>;
  /** Post a job's message when it has none yet (a job recovered after a crash before its first message). */
  postJobMessage(target: { readonly guildId: string; readonly channelId: string }, view: ProgressView): Promise<MessageRef>;
  /**
   * How users type a neutral command on this platform, for help and messages that name commands (Slack:
   * `settings` → `/imagine-settings`). @default `/${name}`
   */
  commandName?(name: string): string;
}

// ───────────────────────────── commands ─────────────────────────────

/** A typed option of a neutral command; adapters turn it into a Discord option, a Slack argument or a form field. */
export interface CommandOption {
  readonly name: string;
  readonly description: string;
  readonly type: 'string' | 'integer' | 'number' | 'boolean';
  readonly required?: boolean;
  /** Inclusive bounds for `integer`/`number`. */
  readonly min?: number;
  readonly max?: number;
  /** Bounds for `string` length. */
  readonly minLength?: number;
  readonly maxLength?: number;
  /** When set, only these values are allowed (at most 25, Discord's limit). */
  readonly choices?: readonly { readonly name: string; readonly value: string | number }[];
}

export interface CommandDefinition {
  /** Lower-case, `[a-z0-9-]{1,32}` (valid on Discord and Slack). */
  readonly name: string;
  /** ≤ 100 characters (Discord's limit). */
  readonly description: string;
  readonly options: readonly CommandOption[];
  /** Whether the answer is only for the user; adapters acknowledge accordingly (Discord: ephemeral defer). */
  readonly ephemeral: boolean;
  /** Slack slash commands take one text argument: the option that receives it (`prompt` for imagine). */
  readonly textOption?: string;
}

/** What a command's `execute` gets. Services are interfaces, so commands import nothing concrete. */
export interface CommandContext {
  readonly input: CommandInput;
  readonly reply: Reply;
  readonly services: CoreServices;
}

export interface Command {
  readonly data: CommandDefinition;
  execute(context: CommandContext): Promise<void>;
}

/** A button press after its id was parsed; `job` is the job the button sits on, read from the store. */
export interface ButtonContext {
  readonly input: ButtonInput;
  readonly reply: Reply;
  readonly services: CoreServices;
  readonly action: ButtonAction;
  readonly job: JobRecord;
}

/** What a button does. `index` is 1-based (U1 … U4). */
export type ButtonAction =
  | { readonly type: 'upscale'; readonly index: number }
  | { readonly type: 'variation'; readonly index: number }
  | { readonly type: 'reroll' }
  | { readonly type: 'vary'; readonly strength: 'strong' | 'subtle' }
  | { readonly type: 'upscale-again' }
  | { readonly type: 'cancel' };

// ───────────────────────────── jobs ─────────────────────────────

export type JobKind = 'imagine' | 'upscale' | 'variation' | 'reroll' | 'vary-strong' | 'vary-subtle';
export type JobStatus = 'queued' | 'running' | 'done' | 'failed' | 'cancelled';

/** Generation parameters, diffusers names. Everything is fixed at submit time (seed included) so a re-run after a
 *  restart produces the same images. */
export interface JobParams {
  readonly prompt: string;
  readonly negativePrompt: string;
  readonly width: number;
  readonly height: number;
  readonly numInferenceSteps: number;
  readonly guidanceScale: number;
  readonly seed: number;
  readonly numImagesPerPrompt: number;
  readonly scheduler?: SchedulerName;
  /** diffusers' `use_karras_sigmas` on top of the model's scheduler config (`--sampler dpm++2m_karras`). */
  readonly useKarrasSigmas?: boolean;
  /** img2img only. */
  readonly strength?: number;
  /** img2img only: the source image, image `index` (1-based) of job `jobId`. */
  readonly initImage?: { readonly jobId: string; readonly index: number };
  /** The `--ar` as typed, for display. */
  readonly aspectRatio?: string;
  /** The `--sampler` name as typed, for display. */
  readonly sampler?: string;
}

export interface JobLineage {
  readonly jobId: string;
  /** The button's action label, e.g. `U2`, `V1`, `🔄`, `Vary (Strong)`. */
  readonly action: string;
}

export interface JobRecord {
  /** Short, user-visible, e.g. `k3f9qz` (6 characters of Crockford base32). */
  readonly id: string;
  /** Global submit order; recovery re-queues in this order. */
  readonly seq: number;
  readonly platform: Platform;
  readonly guildId: string;
  readonly channelId: string;
  readonly ownerId: string;
  readonly ownerName?: string;
  readonly kind: JobKind;
  readonly params: JobParams;
  readonly parent?: JobLineage;
  /** Higher runs first within a guild. */
  readonly priority: number;
  readonly status: JobStatus;
  readonly createdAt: number;
  readonly startedAt?: number;
  readonly finishedAt?: number;
  /** Filled when done. */
  readonly seeds?: readonly number[];
  readonly warnings?: readonly string[];
  readonly durationMs?: number;
  readonly error?: { readonly code: string; readonly message: string };
  readonly cancelledBy?: string;
  /** Where the progress message lives (absent until first posted). */
  readonly message?: MessageRef;
  /** How many times the job started running (> 1 after a restart interrupted it). */
  readonly attempts: number;
  /** How many times it reached `done`; the store guarantees ≤ 1. */
  readonly completions: number;
}

/** Where a queued job stands. */
export interface QueuePosition {
  /** 1-based among all queued jobs in predicted start order (0 = running now). */
  readonly position: number;
  /** Jobs predicted to start before this one, oldest first (ids and owners only). */
  readonly ahead: readonly { readonly jobId: string; readonly ownerId: string; readonly guildId: string }[];
  /** Time until this job finishes, from the moving average of recent job times; undefined before any measurement. */
  readonly etaMs: number | undefined;
}

/**
 * The scheduling boundary. The in-process fair dispatcher implements it today; a Redis/BullMQ multi-GPU backend can
 * implement it later without changing commands or adapters. All methods are async for that reason.
 */
export interface JobQueue {
  /** Admit a stored job (status `queued`). Rejects with `BotError` `bot_queue_full`/`bot_limit_*` when over a limit. */
  enqueue(job: JobRecord): Promise<void>;
  /** Remove a queued job or abort a running one. Returns what happened; `missing` if it is neither. */
  cancel(jobId: string, by: string): Promise<'removed' | 'aborted' | 'missing'>;
  position(jobId: string): Promise<QueuePosition | undefined>;
  /** Ids of queued and running jobs of one user, in predicted order. */
  jobsOf(platform: Platform, userId: string): Promise<readonly string[]>;
  /** Queue depth per guild (key `platform:guildId`) plus the number running; for `/queue` and metrics. */
  depth(): Promise<{ readonly running: number; readonly queued: number; readonly byGuild: Readonly<Record<string, number>> }>;
  /** Stop starting jobs; resolves when the running ones have settled. */
  close(): Promise<void>;
}

/** Per-user or per-guild defaults (all optional; unset falls through user → guild → global). */
export interface GenerationDefaults {
  readonly aspectRatio?: string;
  readonly numInferenceSteps?: number;
  readonly guidanceScale?: number;
  readonly sampler?: string;
  readonly numImagesPerPrompt?: number;
  readonly negativePrompt?: string;
}

export interface GuildSettings extends GenerationDefaults {
  /** Extra banned words for this guild, on top of the global list. */
  readonly bannedWords?: readonly string[];
  /** Priority boost per role id in this guild, set by its admins (added to QUEUE_ROLE_PRIORITY's; the largest wins). */
  readonly roleBoosts?: Readonly<Record<string, number>>;
}

/** Everything a command or button handler may use. Implemented by the core; commands depend only on this shape. */
export interface CoreServices {
  readonly model: ModelInfo;
  readonly jobs: JobService;
  readonly settings: SettingsService;
  /** Global defaults and bounds from config. */
  readonly limits: GenerationLimits;
  /** Other commands' definitions, for `/help`. */
  readonly commands: readonly CommandDefinition[];
  /** A neutral command (`cancel`) as users type it on `platform` (`/cancel`, Slack `/imagine-cancel`). */
  commandName(platform: Platform, name: string): string;
  /** Throws `BotError` `bot_banned_word` (and logs) when the prompt hits a global or guild banned word. */
  moderate(actor: Actor, text: string): Promise<void>;
}

export interface GenerationLimits {
  readonly maxPromptLength: number;
  readonly maxSteps: number;
  readonly defaultSteps: number | undefined;
  readonly defaultGuidanceScale: number | undefined;
  readonly defaultImages: number;
  readonly upscaleStrength: number;
  readonly variationStrength: number;
  readonly varyStrongStrength: number;
  readonly varySubtleStrength: number;
}

/** A job to submit; the service assigns id, seq, priority, timestamps and stores it. */
export interface JobDraft {
  readonly actor: Actor;
  readonly kind: JobKind;
  readonly params: JobParams;
  readonly parent?: JobLineage;
}

export interface JobService {
  /** Store, enqueue and post the progress message through `reply`. Rejects with `BotError` on limits. */
  submit(draft: JobDraft, reply: Reply): Promise<JobRecord>;
  get(jobId: string): Promise<JobRecord | undefined>;
  /** Owner or admin only; otherwise `BotError` `bot_forbidden`. */
  cancel(jobId: string, actor: Actor): Promise<'removed' | 'aborted'>;
  position(jobId: string): Promise<QueuePosition | undefined>;
  /** The actor's queued/running jobs, in predicted order. */
  mine(actor: Actor): Promise<readonly JobRecord[]>;
  depth(): ReturnType<JobQueue['depth']>;
  /** The finished images of a job (1-based index), for img2img and `/show`. */
  image(jobId: string, index: number): Promise<PngImage | undefined>;
  /** The done view of a finished job (grid + buttons), for `/show`. */
  doneView(job: JobRecord): Promise<ProgressView | undefined>;
}

export interface SettingsService {
  user(platform: Platform, userId: string): Promise<GenerationDefaults>;
  guild(platform: Platform, guildId: string): Promise<GuildSettings>;
  setUser(platform: Platform, userId: string, value: GenerationDefaults): Promise<void>;
  setGuild(platform: Platform, guildId: string, value: GuildSettings): Promise<void>;
}

// ───────────────────────────── the core as adapters see it ─────────────────────────────

/** Lifecycle events, for metrics and logs (a typed map in the discord.js `RestEvents` style). */
export interface CoreEvents {
  jobQueued: [job: JobRecord];
  jobStarted: [job: JobRecord];
  jobProgress: [job: JobRecord, step: number, totalSteps: number];
  jobFinished: [job: JobRecord];
  /** An input was answered with an error (code is `BotError.code`). */
  inputRejected: [input: BotInput, code: string];
}

export interface BotCore {
  /** The neutral command definitions, to register as slash commands / render as a UI. */
  readonly commands: readonly CommandDefinition[];
  readonly model: ModelInfo;
  /** Whether the answer to this input will be ephemeral; lets an adapter acknowledge before calling `dispatch`. */
  isEphemeral(input: BotInput): boolean;
  /** Handle one input end to end. Never rejects: errors become an ephemeral `MessageView` through `reply`. */
  dispatch(input: BotInput, reply: Reply): Promise<void>;
  /** Register the platform's surface; queued progress for that platform's jobs is delivered from then on. */
  attachSurface(surface: JobSurface): void;
  detachSurface(platform: Platform): void;
  on<E extends keyof CoreEvents>(event: E, listener: (...args: CoreEvents[E]) => void): void;
  off<E extends keyof CoreEvents>(event: E, listener: (...args: CoreEvents[E]) => void): void;
  readonly services: CoreServices;
}

/** What `src/main.ts` plugs in: one per platform. */
/** A platform connection after start: the adapter reports changes so /healthz can show them. */
export type ConnectionState = 'connected' | 'reconnecting' | 'disconnected';

export interface Adapter {
  readonly name: string;
  start(core: BotCore): Promise<void>;
  stop(): Promise<void>;
}

/** Re-exported so adapters need not reach into engine/. */
export type { ModelInfo };
