// Per-guild priority queues with weighted fair selection across guilds (stride scheduling).
//
// Each guild has a lane: p-queue's PriorityQueue (highest priority first, FIFO within a priority). Across lanes,
// every guild carries a virtual "pass"; the next item comes from the non-empty guild with the smallest pass (ties:
// the oldest head), and that guild's pass then grows by 1/weight. A guild that was idle joins at the current virtual
// time, so it gets the very next turn but cannot claim credit for the time it was idle: if guild A has 100 items and
// guild B adds one, B's is next; while both have work, a guild of weight 2 gets two turns per turn of weight 1.
import { PriorityQueue } from 'p-queue';

export interface FairItem {
  readonly id: string;
  /** Fairness key, e.g. `discord:123` or `slack:dm:U42`. */
  readonly guild: string;
  /** Higher first within a guild. */
  readonly priority: number;
}

interface Lane {
  readonly queue: PriorityQueue;
  /** Count of items per priority, to read the lane in order through `filter`. */
  readonly priorities: Map<number, number>;
  pass: number;
  /** Cached submit order of the lane's head; undefined when it must be recomputed. */
  head: number | undefined;
}

type Run = () => Promise<unknown>;

export class FairQueue<T extends FairItem> {
  readonly #lanes = new Map<string, Lane>();
  readonly #items = new Map<string, { item: T; run: Run; order: number }>();
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
      lane = { queue: new PriorityQueue(), priorities: new Map(), pass: this.#vtime, head: undefined };
      this.#lanes.set(item.guild, lane);
    } else if (lane.queue.size === 0) {
      lane.pass = Math.max(lane.pass, this.#vtime);
    }
    const run: Run = async () => item;
    lane.queue.enqueue(run, { priority: item.priority, id: item.id });
    lane.priorities.set(item.priority, (lane.priorities.get(item.priority) ?? 0) + 1);
    this.#items.set(item.id, { item, run, order: this.#order++ });
    this.#byRun.set(run, item.id);
    lane.head = undefined;
  }

  remove(id: string): T | undefined {
    const entry = this.#items.get(id);
    if (!entry) return undefined;
    const lane = this.#lanes.get(entry.item.guild)!;
    lane.queue.remove(id);
    this.#forget(lane, entry.item, entry.run);
    return entry.item;
  }

  /** Take the next item in fair order. */
  next(): T | undefined {
    let best: { guild: string; lane: Lane; head: number } | undefined;
    for (const [guild, lane] of this.#lanes) {
      if (lane.queue.size === 0) continue;
      if (best && lane.pass > best.lane.pass) continue;
      const head = this.#headOrder(lane);
      if (!best || lane.pass < best.lane.pass || head < best.head) best = { guild, lane, head };
    }
    if (!best) return undefined;
    const run = best.lane.queue.dequeue()!;
    const entry = this.#items.get(this.#byRun.get(run)!)!;
    this.#vtime = best.lane.pass;
    best.lane.pass += 1 / this.#weight(best.guild);
    this.#forget(best.lane, entry.item, run);
    return entry.item;
  }

  /** All items in the order `next()` would return them if nothing changed. */
  predictedOrder(): T[] {
    const lanes = [...this.#lanes.entries()]
      .filter(([, lane]) => lane.queue.size > 0)
      .map(([guild, lane]) => ({ guild, pass: lane.pass, items: this.#laneItems(lane), at: 0 }));
    const out: T[] = [];
    const heap = new MinHeap<(typeof lanes)[number]>((a, b) =>
      a.pass !== b.pass ? a.pass - b.pass : this.#items.get(a.items[a.at].id)!.order - this.#items.get(b.items[b.at].id)!.order,
    );
    for (const lane of lanes) heap.push(lane);
    for (let lane = heap.pop(); lane; lane = heap.pop()) {
      out.push(lane.items[lane.at++]);
      lane.pass += 1 / this.#weight(lane.guild);
      if (lane.at < lane.items.length) heap.push(lane);
    }
    return out;
  }

  /** Queued items per guild. */
  sizes(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [guild, lane] of this.#lanes) if (lane.queue.size > 0) out[guild] = lane.queue.size;
    return out;
  }

  /** Items of a lane in its own order: priorities high to low, FIFO within each (p-queue's order). */
  #laneItems(lane: Lane): T[] {
    const priorities = [...lane.priorities.keys()].sort((a, b) => b - a);
    return priorities.flatMap((p) => lane.queue.filter({ priority: p }).map((run) => this.#items.get(this.#byRun.get(run)!)!.item));
  }

  #headOrder(lane: Lane): number {
    if (lane.head === undefined) {
      let top = -Infinity;
      for (const p of lane.priorities.keys()) top = Math.max(top, p);
      const run = lane.queue.filter({ priority: top })[0];
      lane.head = this.#items.get(this.#byRun.get(run)!)!.order;
    }
    return lane.head;
  }

  #forget(lane: Lane, item: T, run: Run): void {
    this.#items.delete(item.id);
    this.#byRun.delete(run);
    lane.head = undefined;
    const left = lane.priorities.get(item.priority)! - 1;
    if (left === 0) lane.priorities.delete(item.priority);
    else lane.priorities.set(item.priority, left);
    // An empty lane that owes nothing is dropped (it rejoins at the virtual time anyway); memory stays bounded.
    if (lane.queue.size === 0 && lane.pass <= this.#vtime) this.#lanes.delete(item.guild);
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
