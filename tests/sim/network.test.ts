import { test } from "uvu";
import * as assert from "uvu/assert";
import { ConfigError } from "../../src/errors.ts";
import { portableLog, Rng } from "../../src/rng.ts";
import { parseTopology } from "../../src/consensus/topology.ts";
import { EventQueue } from "../../src/sim/events.ts";
import { DEFAULT_NETWORK, Network, networkConfig, type NetworkConfig, type SendResult } from "../../src/sim/network.ts";

/** Digest of the golden run below; the same on Node, Bun and Deno. Any change to a random stream changes it. */
const GOLDEN = "3bbadc0f";
const topo = parseTopology("torus", 12, new Rng(1));

/** Every node sends to every neighbour at times 0, dt, 2dt, ...; returns all outcomes. */
function traffic(net: Network, rounds: number, dt: number, bytes = 1000): SendResult[] {
  const out: SendResult[] = [];
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < net.topology.n; i++) for (const j of net.topology.adj[i]) out.push(net.send(i, j, bytes, r * dt));
  }
  return out;
}

test("defaults are documented values", () => {
  const c = networkConfig();
  assert.equal(c, { ...DEFAULT_NETWORK });
  assert.is(c.drop, 0);
  assert.is(c.linkMtbf, Infinity);
  assert.is(c.latency, 0.01);
  assert.is(c.bandwidth, 1e8);
});

test("drop 1: nothing delivered, all counted as drops", () => {
  const net = new Network(topo, { drop: 1 }, 1);
  const out = traffic(net, 20, 1);
  assert.ok(out.every((r) => !r.delivered && r.reason === "drop"));
  const t = net.totals();
  assert.is(t.sent, out.length);
  assert.is(t.delivered, 0);
  assert.is(t.dropped.drop, out.length);
});

test("drop 0, links always up: everything delivered after latency + bytes/bandwidth", () => {
  for (const jitterKind of ["exponential", "uniform"] as const) {
    const net = new Network(topo, { jitter: 0.005, jitterKind, bandwidth: 1e6 }, 2);
    const out = traffic(net, 50, 1, 20000);
    let i = 0;
    for (let r = 0; r < 50; r++) {
      for (let a = 0; a < topo.n; a++) for (const _ of topo.adj[a]) {
        const o = out[i++];
        assert.ok(o.delivered);
        if (o.delivered) assert.ok(o.arrival >= r + 0.01 + 0.02 && o.arrival < r + 0.03 + (jitterKind === "uniform" ? 0.01 : 0.2));
      }
    }
    // Arrivals are counted when the caller reports them (a message in flight is not delivered yet).
    assert.is(net.totals().delivered, 0);
    for (let r = 0, k = 0; r < 50; r++) for (let a = 0; a < topo.n; a++) for (const b of topo.adj[a]) if (out[k++].delivered) net.arrive(a, b, 20000);
    const s = net.totals();
    assert.is(s.sent, out.length);
    assert.is(s.delivered, out.length);
    assert.is(s.received, out.length);
    assert.is(s.bytesDelivered, out.length * 20000);
  }
  const exact = new Network(topo, {}, 3).send(0, topo.adj[0][0], 1e6, 4);
  assert.equal(exact, { delivered: true, arrival: 4 + 0.01 + 0.01 });
});

test("drop p: delivered fraction ≈ 1 − p, independent streams per directed link", () => {
  const net = new Network(topo, { drop: 0.3 }, 4);
  const out = traffic(net, 400, 1);
  const frac = out.filter((r) => r.delivered).length / out.length;
  assert.ok(Math.abs(frac - 0.7) < 0.02, `delivered ${frac}`);
  // Traffic on other links does not change the fate of messages on link 0→a.
  const a = topo.adj[0][0];
  const quiet = new Network(topo, { drop: 0.3 }, 4);
  const busy = new Network(topo, { drop: 0.3 }, 4);
  const q: boolean[] = [], b: boolean[] = [];
  for (let r = 0; r < 200; r++) {
    q.push(quiet.send(0, a, 10, r).delivered);
    for (const j of topo.adj[1]) busy.send(1, j, 10, r);
    b.push(busy.send(0, a, 10, r).delivered);
  }
  assert.equal(q, b);
});

test("link state at time t does not depend on query order", () => {
  const cfg: Partial<NetworkConfig> = { linkMtbf: 5, linkMttr: 2 };
  const times = Array.from({ length: 400 }, (_, k) => k * 0.37);
  const forward = new Network(topo, cfg, 5), shuffled = new Network(topo, cfg, 5);
  const probes: [number, number, number][] = [];
  for (const [a, b] of topo.edges) for (const t of times) probes.push([a, b, t]);
  const want = probes.map(([a, b, t]) => forward.linkUp(a, b, t));
  const order = new Rng(9).permutation(probes.length);
  const got = new Array<boolean>(probes.length);
  for (const k of order) {
    const [a, b, t] = probes[k];
    got[k] = shuffled.linkUp(b, a, t); // orientation does not matter either
  }
  assert.equal(got, want);
  assert.ok(want.some((x) => x) && want.some((x) => !x));
  // Node crash processes too.
  const c1 = new Network(topo, { crashRate: 0.1, crashDowntime: 3 }, 6), c2 = new Network(topo, { crashRate: 0.1, crashDowntime: 3 }, 6);
  const w = times.map((t) => c1.isUp(7, t));
  const g = [...times].reverse().map((t) => c2.isUp(7, t)).reverse();
  assert.equal(g, w);
});

test("same seed same outcomes, other seed different", () => {
  const cfg: Partial<NetworkConfig> = { drop: 0.2, linkMtbf: 10, linkMttr: 3, jitter: 0.01, crashRate: 0.01, crashDowntime: 5, stragglers: 0.25, stepJitter: 0.2 };
  const run = (seed: number) => {
    const net = new Network(topo, cfg, seed);
    const steps = Array.from({ length: topo.n }, (_, i) => (net.isUp(i, 0) ? net.stepTime(i, 0.1, 0) : -1));
    return { out: traffic(net, 100, 0.5), steps, stats: net.totals() };
  };
  assert.equal(run(11), run(11));
  assert.not.equal(run(11).out, run(12).out);
  const reasons = new Set(run(11).out.filter((r) => !r.delivered).map((r) => (r.delivered ? "" : r.reason)));
  assert.equal([...reasons].sort(), ["crashed", "drop", "link-down"]);
});

test("long-run link up fraction ≈ mtbf / (mtbf + mttr); next change is consistent", () => {
  for (const [mtbf, mttr] of [[10, 10], [30, 5], [2, 8]]) {
    const net = new Network(topo, { linkMtbf: mtbf, linkMttr: mttr }, 13);
    let up = 0, total = 0;
    for (const [a, b] of topo.edges) {
      // Exact up time on [0, H] by walking the change times.
      const H = 5000;
      let t = 0;
      while (t < H) {
        const nx = Math.min(net.nextLinkChange(a, b, t), H);
        assert.ok(nx > t);
        if (net.linkUp(a, b, t)) up += nx - t;
        t = nx;
      }
      total += H;
    }
    const want = mtbf / (mtbf + mttr);
    assert.ok(Math.abs(up / total - want) < 0.03, `mtbf ${mtbf} mttr ${mttr}: ${up / total} vs ${want}`);
  }
  const never = new Network(topo, {}, 1);
  assert.is(never.nextLinkChange(0, topo.adj[0][0], 3), Infinity);
  assert.ok(never.linkUp(0, topo.adj[0][0], 1e9));
});

test("crashes: down nodes neither send nor receive; long-run up fraction", () => {
  const net = new Network(topo, { crashRate: 0.05, crashDowntime: 5 }, 21);
  let up = 0, total = 0;
  for (let i = 0; i < topo.n; i++) for (let t = 0; t < 4000; t += 0.5) { total++; if (net.isUp(i, t)) up++; }
  const want = 20 / 25;
  assert.ok(Math.abs(up / total - want) < 0.04, `node up fraction ${up / total}`);
  for (let r = 0; r < 2000; r++) {
    const t = r * 0.7, a = r % topo.n, b = topo.adj[a][r % topo.adj[a].length];
    const o = net.send(a, b, 100, t);
    if (!net.isUp(a, t)) assert.equal(o, { delivered: false, reason: "crashed" });
    if (o.delivered) assert.ok(net.isUp(b, o.arrival));
  }
  const down = Array.from({ length: 1000 }, (_, k) => k).find((k) => !net.isUp(0, k))!;
  assert.throws(() => net.stepTime(0, 1, down), /crashed/);
  assert.ok(net.nextNodeChange(0, down) > down);
  assert.ok(net.isUp(0, net.nextNodeChange(0, down)));
});

test("a receiver's crash is judged at arrival time: down then ⇒ dropped, down only at send time ⇒ delivered", () => {
  // No jitter and no transfer time: a message sent at t arrives at exactly t + L.
  const L = 0.5, cfg: Partial<NetworkConfig> = { crashRate: 0.2, crashDowntime: 2, latency: L, bandwidth: Infinity };
  const net = new Network(topo, cfg, 31);
  let lost = 0, saved = 0;
  for (let a = 0; a < topo.n; a++) {
    const b = topo.adj[a][0];
    // Walk b's down periods [down, up) and send just across each edge of one.
    for (let down = net.nextNodeChange(b, 0); down < 400; down = net.nextNodeChange(b, net.nextNodeChange(b, down))) {
      const up = net.nextNodeChange(b, down);
      const before = down - L / 2, during = up - L / 2;
      if (before > 0 && net.isUp(a, before) && net.isUp(b, before) && !net.isUp(b, before + L)) {
        const sent = net.stats(a), received = net.stats(b).received;
        assert.equal(net.send(a, b, 100, before), { delivered: false, reason: "crashed" },
          `${a}→${b} sent at ${before} (${b} up) arriving at ${before + L} (${b} down since ${down}): must be dropped as crashed`);
        assert.is(net.stats(a).dropped.crashed, sent.dropped.crashed + 1, "counted as the sender's crashed drop");
        assert.is(net.stats(b).received, received, "not counted as received");
        lost++;
      }
      if (net.isUp(a, during) && !net.isUp(b, during) && net.isUp(b, during + L)) {
        assert.equal(net.send(a, b, 100, during), { delivered: true, arrival: during + L },
          `${a}→${b} sent at ${during} (${b} down until ${up}) arriving at ${during + L} (${b} up again): must be delivered`);
        saved++;
      }
    }
  }
  assert.ok(lost > 20 && saved > 20, `cases exercised: ${lost} lost in flight, ${saved} sent to a down node that was back by arrival`);
});

test("per-message draws: one stream per directed link, so a sender's other links never change a link's fates", () => {
  const cfg: Partial<NetworkConfig> = { drop: 0.3, jitter: 0.05 };
  const [a, b] = topo.adj[0];
  // Node 0 sends on 0→a alone in one network, on 0→a and 0→b alternately (and b→0 back) in the other.
  const quiet = new Network(topo, cfg, 41), busy = new Network(topo, cfg, 41);
  const q: SendResult[] = [], onA: SendResult[] = [];
  for (let r = 0; r < 300; r++) {
    q.push(quiet.send(0, a, 1000, r));
    if (r % 3 !== 1) busy.send(0, b, 1000, r);
    busy.send(b, 0, 1000, r);
    onA.push(busy.send(0, a, 1000, r));
  }
  const k = onA.findIndex((o, r) => JSON.stringify(o) !== JSON.stringify(q[r]));
  assert.is(k, -1, `0→${a} message ${k} is ${JSON.stringify(onA[k])} beside traffic on 0→${b} and ${b}→0, ${JSON.stringify(q[k])} alone: its fate and delay must not depend on other links`);
  // The two links of one sender are not one stream replayed twice (that would correlate their losses).
  const solo = new Network(topo, cfg, 41);
  const alone = Array.from({ length: 300 }, (_, r) => solo.send(0, b, 1000, r));
  const fates = (x: SendResult[]) => x.map((o) => (o.delivered ? 1 : 0)).join("");
  assert.is.not(fates(alone), fates(q), `0→${a} and 0→${b} must draw from different streams (identical drop sequences)`);
  assert.is.not(alone.map((o) => (o.delivered ? o.arrival : 0)).join(), q.map((o) => (o.delivered ? o.arrival : 0)).join(), `0→${a} and 0→${b} must draw different delays`);
});

test("stragglers: round(fraction·n) nodes slowed by the factor; step jitter bounded", () => {
  const net = new Network(topo, { stragglers: 0.25, stragglerFactor: 3, stepJitter: 0.1 }, 8);
  const slow = Array.from({ length: topo.n }, (_, i) => net.speedFactor(i)).filter((f) => f === 3);
  assert.is(slow.length, 3);
  for (let i = 0; i < topo.n; i++) {
    for (let s = 0; s < 100; s++) {
      const d = net.stepTime(i, 2, s);
      const base = 2 * net.speedFactor(i);
      assert.ok(d >= base * 0.9 && d <= base * 1.1);
    }
  }
  assert.is(new Network(topo, {}, 8).stepTime(3, 2, 0), 2);
});

test("the algorithm layer can drive it with the event queue (a small gossip run is reproducible)", () => {
  const run = (seed: number) => {
    const net = new Network(topo, { drop: 0.1, linkMtbf: 3, linkMttr: 1, jitter: 0.02 }, seed);
    const q = new EventQueue<{ kind: "step"; node: number } | { kind: "arrive"; from: number; to: number }>();
    for (let i = 0; i < topo.n; i++) q.schedule(0, { kind: "step", node: i });
    const trace: string[] = [];
    for (let e = q.next(); e && e.time < 20; e = q.next()) {
      const ev = e.event;
      if (ev.kind === "step") {
        for (const j of topo.adj[ev.node]) {
          const r = net.send(ev.node, j, 4096, e.time);
          if (r.delivered) q.schedule(r.arrival, { kind: "arrive", from: ev.node, to: j });
        }
        q.schedule(e.time + net.stepTime(ev.node, 0.5, e.time), ev);
      } else trace.push(`${e.time.toFixed(6)}:${ev.from}>${ev.to}`);
    }
    return trace.join(",");
  };
  const a = run(1);
  assert.is(run(1), a);
  assert.is.not(run(2), a);
});

test("golden: a seeded run's outcome digest is bit-identical on every runtime", () => {
  const t = parseTopology("erdos-renyi:0.3", 20, new Rng(1));
  const net = new Network(t, { drop: 0.1, linkMtbf: 3, linkMttr: 1, jitter: 0.02, crashRate: 0.01, stepJitter: 0.1, stragglers: 0.2 }, 5);
  let h = 0;
  const bits = new Float64Array(1), words = new Uint32Array(bits.buffer);
  const mix = (x: number) => { bits[0] = x; h = Math.imul(h ^ words[0], 16777619) ^ words[1]; };
  for (let r = 0; r < 2000; r++) {
    for (const [a, b] of t.edges) { const o = net.send(a, b, 4096, r * 0.1); mix(o.delivered ? o.arrival : -1); }
    for (let i = 0; i < t.n; i++) if (net.isUp(i, r * 0.1)) mix(net.stepTime(i, 0.05, r * 0.1));
  }
  assert.is(t.edges.length, 64);
  assert.is((h >>> 0).toString(16), GOLDEN);
});

test("portableLog matches Math.log to a few ulp, including extremes", () => {
  const rng = new Rng(14);
  for (let k = 0; k < 20000; k++) {
    const x = k < 10000 ? rng.uniform() || 1e-300 : Math.pow(2, 60 * rng.normal()) * (1 + rng.uniform());
    const want = Math.log(x), got = portableLog(x);
    assert.ok(Math.abs(got - want) <= 4 * Number.EPSILON * Math.max(1, Math.abs(want)), `${x}: ${got} vs ${want}`);
  }
  assert.is(portableLog(1), 0);
  assert.ok(Math.abs(portableLog(5e-324) - Math.log(5e-324)) < 1e-12);
  assert.ok(Math.abs(portableLog(Number.MAX_VALUE) - Math.log(Number.MAX_VALUE)) < 1e-12);
  assert.is(portableLog(0), -Infinity);
  assert.ok(Number.isNaN(portableLog(-1)));
});

test("bad config values: one-line ConfigErrors naming the flag and the range", () => {
  const bad: [Partial<NetworkConfig>, RegExp][] = [
    [{ drop: 1.5 }, /--drop 1\.5 is out of range; need 0 ≤ drop ≤ 1/],
    [{ linkMtbf: 0 }, /--link-mtbf 0/],
    [{ linkMttr: -1 }, /--link-mttr -1/],
    [{ bandwidth: 0 }, /--bandwidth 0/],
    [{ stragglers: 2 }, /--stragglers 2/],
    [{ stepJitter: 1 }, /--step-jitter 1 is out of range; need 0 ≤ j < 1/],
    [{ crashRate: NaN }, /--crash-rate NaN/],
  ];
  for (const [cfg, re] of bad) {
    assert.throws(() => networkConfig(cfg), (e: Error) => e instanceof ConfigError && re.test(e.message) && !e.message.includes("\n"));
  }
  // Two nodes that are not neighbours (--heal sends past a silent one) have a link of their own; a node cannot send to itself or to no node.
  const net = new Network(topo, {}, 1);
  const notNb = Array.from({ length: topo.n }, (_, j) => j).find((j) => j !== 0 && !topo.adj[0].includes(j))!;
  assert.is(net.send(0, notNb, 1, 0).delivered, true);
  assert.throws(() => net.send(0, 0, 1, 0), /no node 0 to send to from 0/);
  assert.throws(() => net.send(0, topo.n, 1, 0), new RegExp(`no node ${topo.n} to send to`));
});

test.run();
