// WorkerTransport on loopback (ephemeral ports): the Transport behaviours the live driver relies
// on, with the sockets in a worker thread — snapshots cross both ways bit for bit and in order;
// send() returns at once and a burst leaves the newest; a peer with another key is refused and
// counted; a busy training thread finds at most a few snapshots per neighbour, the newest last;
// start() fails with Transport's one-line ConfigError; close() ends the worker and frees the port
// (a worker left running would keep this script from exiting: the runner would time it out).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createServer } from "node:net";
import { ConfigError } from "../../src/errors.ts";
import { generateKey, importKey } from "../../src/transport/key.ts";
import { Transport, type InboundSnapshot } from "../../src/transport/links.ts";
import { WorkerTransport, type WorkerTransportOptions } from "../../src/transport/worker.ts";
import { checkEncodedSends, Client, fingerprint, key, keyBytes, N, TENSORS, thetaOf, until } from "./peers.ts";

const bits = (x: Float32Array) => [...new Uint32Array(x.buffer, x.byteOffset, x.length)];

/** A started WorkerTransport on 127.0.0.1 with fast test timings, the snapshots it received and its log. */
async function wnode(id: number, peers: [number, string | null][], over: Partial<WorkerTransportOptions> = {}) {
  const got: InboundSnapshot[] = [];
  const log: string[] = [];
  const t = await WorkerTransport.start({
    id, key: keyBytes, fingerprint, numParams: N, peers: new Map(peers), onSnapshot: (s) => got.push(s), log: (l) => log.push(l),
    handshakeTimeoutMs: 400, backoffMs: 20, maxBackoffMs: 200, pingIntervalMs: 0, statsIntervalMs: 10, ...over,
  });
  const a = t.address();
  return { t, got, log, addr: `${a.host}:${a.port}`, port: a.port };
}

async function pair() {
  const a = await wnode(0, [[1, null], [2, null]]);
  const b = await wnode(1, [[0, a.addr]]);
  a.t.setPeerAddress(1, b.addr);
  await until(() => a.t.stats().connected.includes(1) && b.t.stats().connected.includes(0), "0 and 1 to connect");
  return { a, b, close: () => Promise.all([a.t.close(), b.t.close()]) };
}

/** True when a TCP server can listen on 127.0.0.1:port (nothing holds it any more). */
const portFree = (port: number) => new Promise<boolean>((done) => {
  const s = createServer();
  s.once("error", () => done(false));
  s.listen(port, "127.0.0.1", () => s.close(() => done(true)));
});

test("two worker transports exchange snapshots both ways, bit for bit, in order", async () => {
  const { a, b, close } = await pair();
  try {
    const ta = thetaOf(1), tb = thetaOf(2);
    ta[0] = -0;
    ta[1] = 1.4e-45;
    a.t.send(1, 5, 1000.5, ta);
    ta.fill(9); // send() copied θ before returning
    b.t.send([0], 3, 2000.25, tb);
    await until(() => a.got.length === 1 && b.got.length === 1, "one snapshot each way");
    const [sa, sb] = [b.got[0], a.got[0]];
    assert.equal({ from: sa.from, step: sa.step, sentAt: sa.sentAt }, { from: 0, step: 5, sentAt: 1000.5 });
    assert.equal({ from: sb.from, step: sb.step, sentAt: sb.sentAt }, { from: 1, step: 3, sentAt: 2000.25 });
    const want = thetaOf(1);
    want[0] = -0;
    want[1] = 1.4e-45;
    assert.equal(bits(sa.theta), bits(want));
    assert.equal(bits(sb.theta), bits(tb));
    for (let s = 6; s < 16; s++) {
      a.t.send(1, s, s, thetaOf(s));
      await until(() => b.got.length === s - 4, `snapshot ${s}`);
    }
    assert.equal(b.got.map((g) => g.step), [5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
    assert.equal(bits(b.got[10].theta), bits(thetaOf(15)));
    assert.is(b.t.stats().received, 11, "received counts what reached onSnapshot");
    await until(() => a.t.stats().delivered === 11, "the worker to report 11 delivered");
    const st = a.t.stats();
    assert.equal({ sent: st.sent, delivered: st.delivered, replaced: st.replaced }, { sent: 11, delivered: 11, replaced: 0 });
    assert.equal(a.t.stats().rejected, {});
    assert.equal(b.t.stats().rejected, {});
  } finally {
    await close();
  }
});

test("θ encoded by a level codec (f16, int8) is copied into the worker's frame as its bytes and arrives decoded", async () => {
  const a = await wnode(0, [[1, null]], { tensors: TENSORS });
  const b = await wnode(1, [[0, a.addr]], { tensors: TENSORS });
  try {
    await until(() => a.t.stats().connected.includes(1), "0 and 1 to connect");
    await checkEncodedSends(a, b);
    assert.throws(() => a.t.send(1, 20, 20, { codec: "f16", bytes: new Uint8Array(N) }), /f16 is 8192 bytes/);
  } finally {
    await Promise.all([a.t.close(), b.t.close()]);
  }
});

test("send() returns at once: a burst leaves only the newest snapshot per neighbour", async () => {
  const { a, b, close } = await pair();
  try {
    const t0 = performance.now();
    for (let s = 1; s <= 200; s++) a.t.send(1, s, s, thetaOf(s));
    const ms = performance.now() - t0;
    await until(() => b.got.some((g) => g.step === 200), "the newest snapshot");
    await until(() => a.t.stats().delivered + a.t.stats().replaced === 200, "every snapshot delivered or replaced");
    const st = a.t.stats();
    assert.is(st.sent, 200);
    assert.ok(st.delivered <= 10, `at most a few delivered, got ${st.delivered}`);
    assert.ok(ms < 1000, `200 sends took ${ms.toFixed(0)} ms`);
    assert.equal(bits(b.got.at(-1)!.theta), bits(thetaOf(200)));
    assert.ok(b.got.every((g, i) => i === 0 || g.step > b.got[i - 1].step), "steps increase");
  } finally {
    await close();
  }
});

test("a stalled neighbour keeps none of the send buffers from the others: a good neighbour still gets the newest", async () => {
  const big = 1 << 18; // 1 MB frames: the stalled socket's buffers fill after a few
  const a = await wnode(0, [[1, null], [2, null]], { numParams: big });
  const b = await wnode(1, [[0, a.addr]], { numParams: big });
  a.t.setPeerAddress(1, b.addr);
  const c = new Client(a.addr);
  try {
    assert.ok(await c.handshake(2));
    await until(() => a.t.stats().connected.includes(1) && a.t.stats().connected.includes(2) && b.t.stats().connected.includes(0), "both neighbours to connect");
    c.ws.pause();
    let slowest = 0;
    for (let s = 1; s <= 60; s++) {
      const t0 = performance.now();
      a.t.send([1, 2], s, s, thetaOf(s, big));
      slowest = Math.max(slowest, performance.now() - t0);
      await new Promise((r) => setTimeout(r, 3));
    }
    await until(() => b.got.some((g) => g.step === 60), "the good neighbour to get the newest snapshot");
    assert.equal(bits(b.got.at(-1)!.theta), bits(thetaOf(60, big)));
    assert.ok(slowest < 100, `send() took up to ${slowest.toFixed(1)} ms`);
  } finally {
    c.close();
    await Promise.all([a.t.close(), b.t.close()]);
  }
});

test("a peer holding another key is refused and counted; a good peer still gets through", async () => {
  const a = await wnode(0, [[1, null], [2, null]]);
  const rogue = await wnode(2, [[0, a.addr]], { key: generateKey() });
  const stranger = new Client(a.addr);
  try {
    await until(() => (a.t.stats().rejected.unauthenticated ?? 0) >= 1, "the rogue's AUTH to be refused");
    assert.ok(a.log.some((l) => l.includes("refused unauthenticated from 127.0.0.1")), a.log.join("\n"));
    assert.ok(!(await stranger.handshake(2, await importKey(generateKey()))), "a stranger's AUTH is answered by a close");
    await stranger.waitClosed();
    await until(() => (a.t.stats().byPeer["127.0.0.1"]?.unauthenticated ?? 0) >= 2, "both refusals counted against the address");
    assert.equal(a.t.stats().connected, []);
    assert.equal(rogue.t.stats().connected, []);
    const b = await wnode(1, [[0, a.addr]]);
    try {
      await until(() => b.t.stats().connected.includes(0), "node 1 to connect");
      b.t.send(0, 1, 0, thetaOf(1));
      await until(() => a.got.length === 1, "node 1's snapshot");
      assert.equal(bits(a.got[0].theta), bits(thetaOf(1)));
      assert.ok(a.got.every((g) => g.from === 1));
    } finally {
      await b.t.close();
    }
  } finally {
    stranger.close();
    await Promise.all([a.t.close(), rogue.t.close()]);
  }
});

test("a training thread busy for a while finds at most 3 snapshots per neighbour, the newest last", async () => {
  const { a, b, close } = await pair();
  try {
    let last = 0;
    const feed = setInterval(() => b.t.send(0, ++last, 0, thetaOf(last)), 2);
    // b's sends run on b's timer; a's onSnapshot runs on the same thread, so a busy loop here
    // would stop b too: let b send for a while, then keep this thread busy without yielding.
    await until(() => last >= 20, "node 1 to start sending");
    clearInterval(feed);
    const sentUpTo = last;
    const before = a.got.length;
    const t0 = performance.now();
    while (performance.now() - t0 < 300) { /* busy: no events reach a's onSnapshot */ }
    assert.is(a.got.length, before, "nothing arrives while the thread is busy");
    await until(() => a.got.some((g) => g.step === sentUpTo), "the newest snapshot");
    assert.ok(a.got.length - before <= 3, `${a.got.length - before} snapshots waited for the busy thread`);
    await until(() => b.t.stats().delivered + b.t.stats().replaced === sentUpTo, "node 1 to account for every send");
    const delivered = b.t.stats().delivered;
    await until(() => a.t.stats().received + a.t.stats().superseded === delivered, "node 0 to account for every frame");
    assert.is(a.t.stats().received, a.got.length);
    assert.ok(a.got.every((g, i) => i === 0 || g.step > a.got[i - 1].step), "steps increase");
    assert.equal(bits(a.got.at(-1)!.theta), bits(thetaOf(sentUpTo)));
  } finally {
    await close();
  }
});

test("start() rejects as Transport.start does: a port in use is the same one-line ConfigError; a bad option a RangeError", async () => {
  const holder = await wnode(5, [[6, null]]);
  try {
    const plain = await Transport.start({ id: 1, key, fingerprint, numParams: N, peers: new Map(), onSnapshot: () => {}, port: holder.port }).then(
      (t) => { void t.close(); return null; }, (e: Error) => e);
    const err = await WorkerTransport.start({ id: 1, key: keyBytes, fingerprint, numParams: N, peers: new Map(), onSnapshot: () => {}, port: holder.port }).then(
      (t) => { void t.close(); return null; }, (e: Error) => e);
    assert.ok(plain instanceof ConfigError, String(plain));
    assert.ok(err instanceof ConfigError, String(err));
    assert.is(err!.message, plain!.message);
    assert.not.match(err!.message, "\n");
    const self = await WorkerTransport.start({ id: 3, key: keyBytes, fingerprint, numParams: N, peers: new Map([[3, null]]), onSnapshot: () => {} }).then(
      (t) => { void t.close(); return null; }, (e: Error) => e);
    assert.ok(self instanceof RangeError && /lists itself/.test(self.message), String(self));
    const short = await WorkerTransport.start({ id: 1, key: new Uint8Array(5), fingerprint, numParams: N, peers: new Map(), onSnapshot: () => {} }).then(
      (t) => { void t.close(); return null; }, (e: Error) => e);
    assert.ok(short instanceof RangeError && /32 bytes/.test(short.message), String(short));
  } finally {
    await holder.t.close();
  }
});

test("close() ends the worker and its sockets: the port is free, the peer sees the link go, stats are final", async () => {
  const { a, b, close } = await pair();
  try {
    a.t.send(1, 1, 0, thetaOf(1));
    await until(() => b.got.length === 1, "a snapshot");
    await a.t.close();
    await a.t.close(); // twice is fine
    assert.ok(await portFree(a.port), "the listening port is free after close()");
    await until(() => !b.t.stats().connected.includes(0), "node 1 to see node 0 go");
    assert.is(a.t.stats().delivered, 1, "stats() after close() is the worker's final report");
    a.t.send(1, 2, 0, thetaOf(2)); // after close: ignored, like Transport
    assert.is(a.t.stats().sent, 1);
  } finally {
    await close();
  }
});

test.run();
