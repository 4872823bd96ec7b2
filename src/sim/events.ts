// A deterministic discrete-event scheduler on a virtual clock.
//
// Events are popped in order of (time, seq), seq being the order in which they were scheduled,
// so simultaneous events run first-scheduled first and a run never depends on heap layout.
// Layout: a binary min-heap held in three parallel arrays (times, seqs, events).

/** One popped event with the virtual time it fires at. */
export interface Scheduled<E> {
  time: number;
  seq: number;
  event: E;
}

/** A queue's contents as plain data (events mapped by the caller). */
export interface QueueState<T> { times: number[]; seqs: number[]; events: T[]; counter: number; clock: number }

export class EventQueue<E> {
  private times: number[] = [];
  private seqs: number[] = [];
  private events: E[] = [];
  private counter = 0;
  private clock: number;

  /** `start` is the initial virtual time (seconds). */
  constructor(start = 0) {
    this.clock = start;
  }

  /** Virtual time of the last popped event (or the start time). */
  get now(): number { return this.clock; }
  /** Pending event count. */
  get size(): number { return this.times.length; }
  /** Events scheduled so far (the next seq). */
  get scheduled(): number { return this.counter; }

  /** Schedules `event` at virtual time `time` ≥ now; returns its sequence number. */
  schedule(time: number, event: E): number {
    if (!(time >= this.clock) || Number.isNaN(time)) {
      throw new RangeError(`EventQueue.schedule: time ${time} is before now (${this.clock}) or not a number`);
    }
    const seq = this.counter++;
    const t = this.times, s = this.seqs, ev = this.events;
    let i = t.length;
    t.push(time); s.push(seq); ev.push(event);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (t[p] < time || (t[p] === time && s[p] < seq)) break;
      t[i] = t[p]; s[i] = s[p]; ev[i] = ev[p];
      i = p;
    }
    t[i] = time; s[i] = seq; ev[i] = event;
    return seq;
  }

  /** Time of the next event without popping it (Infinity when empty). */
  peekTime(): number {
    return this.times.length ? this.times[0] : Infinity;
  }

  /** The pending events in heap order with their times and sequence numbers, and the counter and
   * clock, for a checkpoint; `restore` rebuilds the identical queue (same pops in the same order). */
  state<T>(map: (e: E) => T): QueueState<T> {
    return { times: this.times.slice(), seqs: this.seqs.slice(), events: this.events.map(map), counter: this.counter, clock: this.clock };
  }

  restore<T>(s: QueueState<T>, map: (e: T) => E): this {
    this.times = s.times.slice();
    this.seqs = s.seqs.slice();
    this.events = s.events.map(map);
    this.counter = s.counter;
    this.clock = s.clock;
    return this;
  }

  /** Pops the earliest event and advances `now` to its time; undefined when empty. */
  next(): Scheduled<E> | undefined {
    const t = this.times, s = this.seqs, ev = this.events;
    if (!t.length) return undefined;
    const out = { time: t[0], seq: s[0], event: ev[0] };
    const lt = t.pop()!, ls = s.pop()!, le = ev.pop()!;
    const n = t.length;
    if (n) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        const c = r < n && (t[r] < t[l] || (t[r] === t[l] && s[r] < s[l])) ? r : l;
        if (lt < t[c] || (lt === t[c] && ls < s[c])) break;
        t[i] = t[c]; s[i] = s[c]; ev[i] = ev[c];
        i = c;
      }
      t[i] = lt; s[i] = ls; ev[i] = le;
    }
    this.clock = out.time;
    return out;
  }
}
