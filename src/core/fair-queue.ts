// Per-guild priority queues with weighted fair selection across guilds (stride scheduling), and round-robin between
// the users of one guild.
//
// Across guilds: every guild carries a virtual "pass"; the next item comes from the non-empty guild with the smallest
// pass (ties: the oldest head), and that guild's pass then grows by 1/weight. A guild that was idle joins at the
// current virtual time, so it gets the very next turn but cannot claim credit for the time it was idle: if guild A
// has 100 items and guild B adds one, B's is next; while both have work, a guild of weight 2 gets two turns per turn
// of weight 1.
//
// Within a guild: a lane is p-queue's PriorityQueue (highest rank first, FIFO within a rank). The rank puts job
// priority first and then the user's round: a user's next item gets the round after their previous one, but never
// one before the lane's current round — the same virtual-time rule one level down. So one user's three prompts do not
// hold up another user's one, and nobody gains by submitting one at a time.
import { PriorityQueue } from 'p-queue';

export interface FairItem {
  readonly id: string;
  /** Fairness key, e.g. `discord:123` or `slack:dm:U42`. */
  readonly guild: string;
  /** Round-robin key within the guild, e.g. `discord:42`. */
  readonly user: string;
  /** Higher first within a guild. */
  readonly priority: number;
}

/** Rounds stay far below this, so `priority * ROUNDS - round` orders by priority, then round. */
const ROUNDS = 1e9;

interface Lane {
  readonly queue: PriorityQueue;
  readonly ids: Set<string>;
  /** The next round of each user with items in this lane, and how many items they have here. */
  readonly userNext: Map<string, number>;
  readonly userCount: Map<string, number>;
  /** The round of the item dequeued last. */
  round: number;
  pass: number;
  /** Cached head (first item in lane order); undefined when it must be recomputed. */
  head: Slot | undefined;
}

type Run = () => Promise<unknown>;

interface Slot {
  readonly item: unknown;
  readonly run: Run;
  /** Global insertion order (FIFO tie-break). */
  readonly order: number;
  readonly round: number;
  readonly rank: number;
}

export class FairQueue<T extends FairItem> {
  readonly #lanes = new Map<string, Lane>();
  readonly #items = new Map<string, Slot & { item: T }>();
  readonly #byRun = new Map<Run, string>();
  readonly #weight: (guild: string) => number;
  #vtime = 0;
  #order = 0;

  /** `weight(guild)` > 0; default 1 for all. */
  constructor(weight: (guild: string) => number = () => 1) {
    this.#weight = weight;
  }

  get size(): number {
    return this.#items.size;
  }

  has(id: string): boolean {
    return this.#items.has(id);
  }

  get(id: string): T | undefined {
    return this.#items.get(id)?.item;
  }

  add(item: T): void {
    if (this.#items.has(item.id)) throw new RangeError(`Item \`${item.id}\` is already queued`);
    let lane = this.#lanes.get(item.guild);
    if (!lane) {
      lane = { queue: new PriorityQueue(), ids: new Set(), userNext: new Map(), userCount: new Map(), round: 0, pass: this.#vtime, head: undefined };
      this.#lanes.set(item.guild, lane);
    } else if (lane.ids.size === 0) {
      lane.pass = Math.max(lane.pass, this.#vtime);
    }
    const round = Math.max(lane.userNext.get(item.user) ?? 0, lane.round);
    lane.userNext.set(item.user, round + 1);
    lane.userCount.set(item.user, (lane.userCount.get(item.user) ?? 0) + 1);
    const rank = item.priority * ROUNDS - round;
    const run: Run = async () => item;
    lane.queue.enqueue(run, { priority: rank, id: item.id });
    lane.ids.add(item.id);
    this.#items.set(item.id, { item, run, order: this.#order++, round, rank });
    this.#byRun.set(run, item.id);
    lane.head = undefined;
  }

  remove(id: string): T | undefined {
    const slot = this.#items.get(id);
    if (!slot) return undefined;
    const lane = this.#lanes.get(slot.item.guild)!;
    lane.queue.remove(id);
    this.#forget(lane, slot.item);
    return slot.item;
  }

  /** Take the next item in fair order. */
  next(): T | undefined {
    let best: { guild: string; lane: Lane; head: number } | undefined;
    for (const [guild, lane] of this.#lanes) {
      if (lane.ids.size === 0) continue;
      if (best && lane.pass > best.lane.pass) continue;
      const head = this.#head(lane).order;
      if (!best || lane.pass < best.lane.pass || head < best.head) best = { guild, lane, head };
    }
    if (!best) return undefined;
    const run = best.lane.queue.dequeue()!;
    const slot = this.#items.get(this.#byRun.get(run)!)!;
    this.#vtime = best.lane.pass;
    best.lane.pass += 1 / this.#weight(best.guild);
    best.lane.round = Math.max(best.lane.round, slot.round);
    this.#forget(best.lane, slot.item);
    return slot.item;
  }

  /** All items in the order `next()` would return them if nothing changed. */
  predictedOrder(): T[] {
    const lanes = [...this.#lanes.entries()]
      .filter(([, lane]) => lane.ids.size > 0)
      .map(([guild, lane]) => ({ guild, pass: lane.pass, slots: this.#laneSlots(lane), at: 0 }));
    const out: T[] = [];
    const heap = new MinHeap<(typeof lanes)[number]>((a, b) => (a.pass !== b.pass ? a.pass - b.pass : a.slots[a.at].order - b.slots[b.at].order));
    for (const lane of lanes) heap.push(lane);
    for (let lane = heap.pop(); lane; lane = heap.pop()) {
      out.push(lane.slots[lane.at++].item);
      lane.pass += 1 / this.#weight(lane.guild);
      if (lane.at < lane.slots.length) heap.push(lane);
    }
    return out;
  }

  /** Queued items per guild. */
  sizes(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [guild, lane] of this.#lanes) if (lane.ids.size > 0) out[guild] = lane.ids.size;
    return out;
  }

  /** A lane's items in p-queue's order: rank high to low, then insertion order. */
  #laneSlots(lane: Lane): (Slot & { item: T })[] {
    return [...lane.ids].map((id) => this.#items.get(id)!).sort((a, b) => b.rank - a.rank || a.order - b.order);
  }

  #head(lane: Lane): Slot {
    if (!lane.head) {
      let head: Slot | undefined;
      for (const id of lane.ids) {
        const slot = this.#items.get(id)!;
        if (!head || slot.rank > head.rank || (slot.rank === head.rank && slot.order < head.order)) head = slot;
      }
      lane.head = head;
    }
    return lane.head!;
  }

  #forget(lane: Lane, item: T): void {
    const slot = this.#items.get(item.id)!;
    this.#items.delete(item.id);
    this.#byRun.delete(slot.run);
    lane.ids.delete(item.id);
    lane.head = undefined;
    // Users with nothing queued are forgotten: they rejoin at the lane's current round anyway.
    const left = lane.userCount.get(item.user)! - 1;
    if (left > 0) lane.userCount.set(item.user, left);
    else lane.userCount.delete(item.user);
    // A user's next round is remembered while it is ahead of the lane (so taking one turn at a time gains
    // nothing); once the lane has caught up it equals joining afresh and is dropped, keeping memory bounded.
    for (const [user, next] of lane.userNext) if (next <= lane.round && !lane.userCount.has(user)) lane.userNext.delete(user);
    // An empty lane that owes nothing is dropped (it rejoins at the virtual time anyway); memory stays bounded.
    if (lane.ids.size === 0 && lane.pass <= this.#vtime) this.#lanes.delete(item.guild);
  }
}

class MinHeap<T> {
  readonly #a: T[] = [];
  constructor(readonly less: (a: T, b: T) => number) {}
  push(x: T): void {
    const a = this.#a;
    a.push(x);
    for (let i = a.length - 1; i > 0; ) {
      const p = (i - 1) >> 1;
      if (this.less(a[i], a[p]) >= 0) break;
      [a[i], a[p]] = [a[p], a[i]];
      i = p;
    }
  }
  pop(): T | undefined {
    const a = this.#a;
    if (a.length === 0) return undefined;
    const top = a[0];
    const last = a.pop()!;
    if (a.length > 0) {
      a[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && this.less(a[l], a[m]) < 0) m = l;
        if (r < a.length && this.less(a[r], a[m]) < 0) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m], a[i]];
        i = m;
      }
    }
    return top;
  }
}
