import { test } from "uvu";
import * as assert from "uvu/assert";
import { Rng } from "../../src/rng.ts";
import { EventQueue } from "../../src/sim/events.ts";

test("pops in time order, ties first-scheduled first (against a sorted oracle)", () => {
  const rng = new Rng(1);
  for (let c = 0; c < 200; c++) {
    const q = new EventQueue<number>();
    const n = rng.int(300);
    const ref: [number, number, number][] = [];
    for (let i = 0; i < n; i++) {
      // Few distinct times so that ties are common.
      const t = rng.int(20) * 0.5;
      const seq = q.schedule(t, i);
      ref.push([t, seq, i]);
    }
    ref.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    const got: number[] = [];
    let last = -Infinity;
    for (let e = q.next(); e; e = q.next()) {
      assert.ok(e.time >= last);
      assert.is(q.now, e.time);
      last = e.time;
      got.push(e.event);
    }
    assert.equal(got, ref.map((r) => r[2]));
    assert.is(q.size, 0);
  }
});

test("interleaved schedule/next matches an oracle; events can be scheduled at now", () => {
  const rng = new Rng(2);
  const q = new EventQueue<string>(5);
  assert.is(q.now, 5);
  const pending: [number, number, string][] = [];
  const popped: string[] = [], want: string[] = [];
  for (let step = 0; step < 5000; step++) {
    if (rng.uniform() < 0.6 || !pending.length) {
      const t = q.now + rng.int(4);
      const ev = `e${step}`;
      pending.push([t, q.schedule(t, ev), ev]);
    } else {
      pending.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
      want.push(pending.shift()![2]);
      popped.push(q.next()!.event);
    }
  }
  assert.equal(popped, want);
  assert.is(q.peekTime(), Math.min(...pending.map((p) => p[0])));
});

test("refuses to schedule in the past or at NaN; empty queue", () => {
  const q = new EventQueue<number>();
  q.schedule(2, 1);
  q.next();
  assert.throws(() => q.schedule(1, 2), /before now/);
  assert.throws(() => q.schedule(NaN, 2), /not a number/);
  assert.is(q.next(), undefined);
  assert.is(q.peekTime(), Infinity);
  assert.is(q.now, 2);
});

test.run();
