// What GET /healthz reports: whether the engine has a model loaded, and which platforms are connected. `src/main.ts`
// records states as it starts and stops things; the report is plain JSON so any prober can read it.
import type { ConnectionState, ModelInfo, Platform } from './types.ts';

export type PlatformState = 'starting' | ConnectionState | 'stopped' | 'failed';

export interface HealthReport {
  /**
   * `ok`: engine loaded and every started platform connected; `starting`; `degraded`: a platform failed, stopped,
   * or lost its connection (reconnecting, or disconnected for good).
   */
  readonly status: 'ok' | 'starting' | 'degraded' | 'stopping';
  readonly engine: { readonly loaded: boolean; readonly model?: string; readonly device?: string; readonly size?: string };
  readonly platforms: Readonly<Partial<Record<Platform, { readonly state: PlatformState; readonly detail?: string }>>>;
  readonly uptimeSeconds: number;
}

export class Health {
  #model: ModelInfo | undefined;
  #platforms = new Map<Platform, { state: PlatformState; detail?: string }>();
  #stopping = false;
  readonly #startedAt: number;
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
    this.#startedAt = now();
  }

  /** The engine loaded `model` (undefined: it is not loaded, e.g. closed). */
  engine(model: ModelInfo | undefined): void {
    this.#model = model;
  }

  platform(name: Platform, state: PlatformState, detail?: string): void {
    this.#platforms.set(name, detail === undefined ? { state } : { state, detail });
  }

  /** Shutting down: probes should stop sending traffic here. */
  stopping(): void {
    this.#stopping = true;
  }

  report(): HealthReport {
    const platforms = Object.fromEntries(this.#platforms);
    const states = [...this.#platforms.values()].map((p) => p.state);
    const status = this.#stopping
      ? 'stopping'
      : states.some((s) => s !== 'starting' && s !== 'connected')
        ? 'degraded'
        : !this.#model || states.includes('starting')
          ? 'starting'
          : 'ok';
    const m = this.#model;
    return {
      status,
      engine: m ? { loaded: true, model: m.name, device: m.device, size: `${m.width}x${m.height}` } : { loaded: false },
      platforms,
      uptimeSeconds: Math.round((this.#now() - this.#startedAt) / 1000),
    };
  }
}
