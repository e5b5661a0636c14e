import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { FairQueue } from '../../../src/core/fair-queue.ts';

interface Item {
  id: string;
  guild: string;
  user: string;
  priority: number;
}
/** By default every item has its own user, so only guild fairness and priority order them. */
const item = (id: string, guild: string, priority = 0, user = `u-${id}`): Item => ({ id, guild, user, priority });
const drain = (q: FairQueue<Item>) => {
  const out: string[] = [];
  for (let x = q.next(); x; x = q.next()) out.push(x.id);
  return out;
};

test('guild A has 100 queued, B submits one: B is next', () => {
  const q = new FairQueue<Item>();
  for (let i = 0; i < 100; i++) q.add(item(`a${i}`, 'A'));
  assert.equal(q.next()?.id, 'a0');
  assert.equal(q.next()?.id, 'a1');
  q.add(item('b0', 'B'));
  assert.equal(q.next()?.id, 'b0');
  assert.equal(q.next()?.id, 'a2');
});

test('equal guilds alternate; an idle guild earns no credit', () => {
  const q = new FairQueue<Item>();
  for (let i = 0; i < 3; i++) q.add(item(`a${i}`, 'A'));
  for (let i = 0; i < 3; i++) q.add(item(`b${i}`, 'B'));
  assert.deepEqual(drain(q), ['a0', 'b0', 'a1', 'b1', 'a2', 'b2']);
  // A ran alone for a long time; C joining now alternates with A instead of getting a burst.
  for (let i = 0; i < 20; i++) q.add(item(`a${i + 3}`, 'A'));
  for (let i = 0; i < 10; i++) q.next();
  for (let i = 0; i < 3; i++) q.add(item(`c${i}`, 'C'));
  assert.deepEqual(drain(q).slice(0, 6), ['c0', 'a13', 'c1', 'a14', 'c2', 'a15']);
});

test('weights: a guild of weight 2 gets two turns per turn of weight 1', () => {
  const q = new FairQueue<Item>((g) => (g === 'A' ? 2 : 1));
  for (let i = 0; i < 6; i++) q.add(item(`a${i}`, 'A'));
  for (let i = 0; i < 3; i++) q.add(item(`b${i}`, 'B'));
  assert.deepEqual(drain(q), ['a0', 'b0', 'a1', 'a2', 'b1', 'a3', 'a4', 'b2', 'a5']);
});

test('priority within a guild: higher first, FIFO within a priority; other guilds unaffected', () => {
  const q = new FairQueue<Item>();
  q.add(item('p1', 'A'));
  q.add(item('p2', 'A'));
  q.add(item('up', 'A', 1));
  q.add(item('boost', 'A', 3));
  q.add(item('b', 'B'));
  assert.deepEqual(drain(q), ['boost', 'b', 'up', 'p1', 'p2']);
});

test('within a guild, users take turns: three prompts of one user do not hold up another user\'s one', () => {
  const q = new FairQueue<Item>();
  q.add(item('a1', 'G', 0, 'ana'));
  q.add(item('a2', 'G', 0, 'ana'));
  q.add(item('a3', 'G', 0, 'ana'));
  q.add(item('b1', 'G', 0, 'bob'));
  assert.equal(q.next()?.id, 'a1');
  q.add(item('c1', 'G', 0, 'cy'));
  // bob and cy are in round 0 with ana's a1; ana's a2 is round 1, a3 round 2.
  assert.equal(q.next()?.id, 'b1');
  // Submitting one at a time earns nothing: bob's next item joins the current round, after ana's waiting a2.
  q.add(item('b2', 'G', 0, 'bob'));
  assert.deepEqual(drain(q), ['c1', 'a2', 'b2', 'a3']);
  // Priority still comes first.
  q.add(item('p1', 'G', 0, 'ana'));
  q.add(item('p2', 'G', 0, 'ana'));
  q.add(item('up', 'G', 1, 'ana'));
  assert.deepEqual(drain(q), ['up', 'p1', 'p2']);
});

test('remove takes an item out wherever it is', () => {
  const q = new FairQueue<Item>();
  ['a0', 'a1', 'a2'].forEach((id) => q.add(item(id, 'A')));
  q.add(item('b0', 'B'));
  assert.equal(q.remove('a1')?.id, 'a1');
  assert.equal(q.remove('a1'), undefined);
  assert.equal(q.size, 3);
  assert.deepEqual(drain(q), ['a0', 'b0', 'a2']);
});

test('property: predictedOrder is exactly the order next() returns', () => {
  const ops = fc.array(
    fc.oneof(
      fc.record({
        op: fc.constant('add' as const),
        guild: fc.constantFrom('A', 'B', 'C', 'D'),
        user: fc.constantFrom('u1', 'u2', 'u3'),
        priority: fc.integer({ min: 0, max: 2 }),
      }),
      fc.record({ op: fc.constant('next' as const) }),
      fc.record({ op: fc.constant('remove' as const), pick: fc.nat() }),
    ),
    { maxLength: 60 },
  );
  fc.assert(
    fc.property(ops, fc.constantFrom(1, 2, 3), (list, wA) => {
      const q = new FairQueue<Item>((g) => (g === 'A' ? wA : 1));
      let n = 0;
      const live: string[] = [];
      for (const o of list) {
        if (o.op === 'add') {
          const id = `i${n++}`;
          q.add(item(id, o.guild, o.priority, o.user));
          live.push(id);
        } else if (o.op === 'next') {
          const x = q.next();
          if (x) live.splice(live.indexOf(x.id), 1);
        } else if (live.length > 0) {
          const id = live[o.pick % live.length];
          q.remove(id);
          live.splice(live.indexOf(id), 1);
        }
      }
      const predicted = q.predictedOrder().map((x) => x.id);
      assert.deepEqual(drain(q), predicted);
      assert.equal(predicted.length, live.length);
    }),
    { numRuns: 300 },
  );
});
