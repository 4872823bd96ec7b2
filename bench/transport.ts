// Transport costs for a lenet-sized and an mlp-sized snapshot (numParams from planModel), on the
// runtime this runs on:
//   codec     in one process: encode (copy θ into a frame + HMAC-SHA256) and decode (HMAC verify +
//             finiteness scan) per message, wall and CPU time (process.cpuUsage: every thread, so
//             WebCrypto's worker threads count too).
//   push      one client pushes messages to one server over 127.0.0.1 as fast as the socket
//             takes them: the server is a real Transport in a child process of the same runtime;
//             the client authenticates with the handshake and, like Transport.send, encodes each
//             frame and hands it to ws, sending the next when the socket has written the previous.
//             CPU per message on each side (the receiver's from its first timed frame to its
//             last, per frame arrived), ms per message and MB/s of frames until the last is verified.
//   paced     a real Transport sends one snapshot every 8 ms (a lenet step) to a Transport in a
//             child process: CPU per message on each side at the pace of training, nothing skipped.
//   budget    the budget, measured: a stand-in training loop (8 ms of busy work per step
//             on the main thread, then a yield) runs alone, then with a Transport that sends each
//             step's θ to 2 neighbours and receives one snapshot from each every 8 ms. The
//             neighbours are child processes that send pre-signed frames and read without
//             verifying, so their own CPU stays small. Loss = 1 − steps/s with ÷ steps/s alone
//             (median of 3 rounds each); the issue allows 15%. Once with a Transport, once with a
//             WorkerTransport (worker.ts: the Transport in a worker thread), and for each the
//             training thread's own share per step, with − alone: wall ms in send() and in the
//             yield after it (socket callbacks or the worker's messages, onSnapshot: JS callbacks
//             run only there), which other load on the machine inflates (preemption); and the CPU
//             time of the main thread alone over the whole loop (Linux /proc/self/task/PID/schedstat,
//             read at its start and end: a few µs per step of error, plus the busy work's own variance).
//             With --compress f16|int8 every frame carries θ so encoded, both ways, and each step
//             also pays what the live driver pays on the training thread for it: the codec kernels
//             encode θ and decode the node's own copy (program.ts snapshot), send() copies the bytes.
// Not a test: nothing here gates on time.
// Usage: node dist/bench/transport.js | npx bun bench/transport.ts | npx deno run -A bench/transport.ts
//        [--messages N] (default 200)  [--only budget] (the budget table alone: shorter)
//        [--compress f32|f16|int8] (the budget's frames; default f32)
//        (--serve …: the child's job)
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { cpus } from "node:os";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { WebSocket } from "ws";
import { encode, levelBytes, tensorsOf, type LevelCodec, type Tensor } from "../src/node/compress.ts";
import { encodeLevel } from "../src/node/program.ts";
import { loadEngine } from "../src/wasm/loader.ts";
import { planModel } from "../src/nn/spec.ts";
import { runtimeName } from "../src/runtime.ts";
import { importKey, keyFromHex, keyToHex, generateKey } from "../src/transport/key.ts";
import { Transport } from "../src/transport/links.ts";
import { WorkerTransport } from "../src/transport/worker.ts";
import {
  decodeAuth, decodeFrame, decodeHello, encodeAuth, encodeFrame, frameBytes, modelFingerprint, prepareEncodedFrame, randomBytes, sealFrame,
} from "../src/transport/wire.ts";

const STEP_MS = 8; // the lenet step on one core
const WARMUP = 20;

interface Model { name: string; numParams: number; fingerprint: Uint8Array; tensors: Tensor[] }
const models: Model[] = (["lenet", "mlp"] as const).map((name) => {
  const plan = planModel(name, [1, 28, 28], 10);
  return { name, numParams: plan.numParams, fingerprint: modelFingerprint(name, plan.numParams, plan.layers), tensors: tensorsOf(plan) };
});

const cpuMs = (c0: NodeJS.CpuUsage) => { const c = process.cpuUsage(c0); return (c.user + c.system) / 1000; };
/**
 * CPU ms the main thread (the training thread) has run so far; NaN where /proc is missing (not
 * Linux). Updated by the kernel at ticks and context switches: good over a loop, not over one call.
 */
const mainThreadMs = () => {
  try { return Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, "utf8").split(" ")[0]) / 1e6; } catch { return NaN; }
};
const arg = (name: string) => { const i = process.argv.indexOf(name); return i >= 0 ? process.argv[i + 1] : undefined; };
/** The budget round's encoding of θ (--compress). */
const CODEC = (arg("--compress") ?? "f32") as LevelCodec;
if (!["f32", "f16", "int8"].includes(CODEC)) throw new Error(`--compress ${CODEC}: f32, f16 or int8`);

function thetaFor(n: number): Float32Array {
  const t = new Float32Array(n);
  for (let i = 0; i < n; i++) t[i] = Math.sin(i) * 0.1;
  return t;
}

/** Per-message wall and CPU ms of encode and of decode, `count` each after a warm-up. */
async function codec(m: Model, key: CryptoKey, count: number) {
  const theta = thetaFor(m.numParams);
  const h = { fingerprint: m.fingerprint, from: 0, epoch: 1, step: 0, sentAt: 0 };
  const frames: Uint8Array[] = [];
  for (let i = 0; i < WARMUP; i++) frames.push(await encodeFrame(key, { ...h, step: i }, theta));
  let c0 = process.cpuUsage(), t0 = performance.now();
  for (let i = 0; i < count; i++) frames[i % WARMUP] = await encodeFrame(key, { ...h, step: i }, theta);
  const enc = { wall: (performance.now() - t0) / count, cpu: cpuMs(c0) / count };
  const expect = { fingerprint: m.fingerprint, numParams: m.numParams };
  for (const f of frames) if (!(await decodeFrame(key, f, expect)).ok) throw new Error("a frame did not decode");
  c0 = process.cpuUsage();
  t0 = performance.now();
  for (let i = 0; i < count; i++) await decodeFrame(key, frames[i % WARMUP], expect);
  const dec = { wall: (performance.now() - t0) / count, cpu: cpuMs(c0) / count };
  return { enc, dec };
}

/** The child: a Transport (node 1) that reports its port, then the CPU and wall time of frames WARMUP … WARMUP+count-1. */
async function serve(): Promise<void> {
  const m = models.find((x) => x.name === arg("--model"))!;
  const count = Number(arg("--messages"));
  const key = await importKey(keyFromHex(arg("--key")!, "--key"));
  let c0: NodeJS.CpuUsage | undefined, t0 = 0, timed = 0;
  const t = await Transport.start({
    id: 1, key, fingerprint: m.fingerprint, numParams: m.numParams, peers: new Map([[0, null]]), pingIntervalMs: 0,
    onSnapshot: (s) => {
      // The clock starts at the first frame verified from the end of the warm-up on.
      if (c0 === undefined) { if (s.step >= WARMUP - 1) { c0 = process.cpuUsage(); t0 = performance.now(); } }
      else timed++;
      if (s.step === WARMUP + count - 1) {
        const st = t.stats();
        console.log(JSON.stringify({ cpuMs: cpuMs(c0!), wallMs: performance.now() - t0, verified: timed, superseded: st.superseded, received: st.received }));
        void t.close();
      }
    },
  });
  console.log(JSON.stringify({ port: t.address().port }));
}

/** The client side of the handshake as node `id`; resolves with the open socket, whose later messages are ignored. */
async function dialAs(port: number, key: CryptoKey, m: Model, maxPayload: number, id = 0): Promise<WebSocket> {
  // The zero mask links.ts uses (see NO_MASK there).
  const ws = new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate: false, maxPayload, generateMask: (k: Uint8Array) => { k.fill(0); } });
  const msgs: Uint8Array[] = [];
  let wake: () => void = () => {};
  ws.on("message", (d: Buffer) => { msgs.push(new Uint8Array(d)); wake(); });
  const next = async () => { while (!msgs.length) await new Promise<void>((r) => (wake = r)); return msgs.shift()!; };
  const hello = decodeHello(await next());
  if (!hello.ok) throw new Error("no HELLO");
  const nonce = randomBytes(16);
  ws.send(await encodeAuth(key, { role: "client", id, fingerprint: m.fingerprint, nonce, peerNonce: hello.nonce }));
  const r = await decodeAuth(key, await next(), { role: "server", fingerprint: m.fingerprint, ourNonce: nonce });
  if (!r.ok) throw new Error(`server AUTH: ${r.reason}`);
  ws.removeAllListeners("message");
  ws.on("message", () => {});
  return ws;
}

/** A child of this runtime running this file with `args` (--serve: a Transport, node 1); its JSON lines one by one; go() writes a line to it; kill() ends it. */
function child(m: Model, keyHex: string, count: number, args = ["--serve"]) {
  const rt = runtimeName().runtime;
  const argv = [...(rt === "deno" ? ["run", "-A", "--quiet"] : []), fileURLToPath(import.meta.url), ...args, "--model", m.name, "--messages", String(count), "--key", keyHex, "--compress", CODEC];
  const p = spawn(process.execPath, argv, { stdio: ["pipe", "pipe", "inherit"] });
  const queue: string[] = [];
  let wake: () => void = () => {};
  createInterface({ input: p.stdout! }).on("line", (l) => { queue.push(l); wake(); });
  const line = async () => { while (!queue.length) await new Promise<void>((r) => (wake = r)); return JSON.parse(queue.shift()!); };
  return { line, go: () => p.stdin!.write("go\n"), kill: () => p.kill() };
}

/** The child of the budget round: dials node 0 at --port as node --id, signs --messages frames, then on "go" sends one every STEP_MS. */
async function feed(): Promise<void> {
  const m = models.find((x) => x.name === arg("--model"))!;
  const count = Number(arg("--messages")), id = Number(arg("--id"));
  const key = await importKey(keyFromHex(arg("--key")!, "--key"));
  const ws = await dialAs(Number(arg("--port")), key, m, frameBytes(m.numParams), id);
  const theta = thetaFor(m.numParams);
  const frames: Uint8Array[] = [];
  const bytes = CODEC === "f32" ? null : encode(CODEC, theta, m.tensors);
  for (let s = 0; s < count; s++) {
    const h = { fingerprint: m.fingerprint, from: id, epoch: 1, step: s, sentAt: 0 };
    frames.push(await (bytes ? sealFrame(key, prepareEncodedFrame(h, { codec: CODEC, bytes })) : encodeFrame(key, h, theta)));
  }
  console.log(JSON.stringify({ ready: true }));
  await new Promise<void>((r) => createInterface({ input: process.stdin }).once("line", () => r()));
  for (const f of frames) {
    ws.send(f, { binary: true });
    await new Promise((r) => setTimeout(r, STEP_MS));
  }
  ws.terminate();
  process.exit(0);
}

/** Busy work on the main thread, `iters` rounds (a stand-in for a training step). */
function busy(iters: number): number {
  let x = 1;
  for (let i = 0; i < iters; i++) x = (x * 1.0000001 + i) % 65521;
  return x;
}

/**
 * Steps per second (wall) and CPU ms per step (this process, all threads) of the stand-in training
 * loop, with `perStep` after each step's work; wall ms per step in perStep and in the yield after
 * it (all the transport does on this thread); the main thread's CPU ms per step.
 */
async function trainRate(iters: number, steps: number, perStep: (s: number) => void = () => {}) {
  const t0 = performance.now(), c0 = process.cpuUsage(), m0 = mainThreadMs();
  let sink = 0, sendMs = 0, offMs = 0;
  for (let s = 0; s < steps; s++) {
    sink += busy(iters);
    const t1 = performance.now();
    perStep(s);
    const t2 = performance.now();
    await new Promise((r) => setImmediate(r));
    sendMs += t2 - t1;
    offMs += performance.now() - t1;
  }
  const mainMs = (mainThreadMs() - m0) / steps;
  if (sink === -1) console.log(sink);
  return { rate: steps / ((performance.now() - t0) / 1000), cpu: cpuMs(c0) / steps, mainMs, offMs: offMs / steps, sendMs: sendMs / steps };
}

type Kind = "Transport" | "WorkerTransport";

/**
 * The budget: the stand-in training loop alone and with a Transport serving 2 neighbours,
 * in alternating rounds. The work is scaled to 8 ms of CPU (not wall: other processes may share
 * the cores). Reports the median and range of the per-round wall loss, and the CPU the transport
 * adds per step (with − alone), which other load on the machine does not change.
 */
async function budget(m: Model, keyHex: string, key: CryptoKey, kind: Kind = "Transport", steps = 60, rounds = 3) {
  let iters = 200_000;
  for (let k = 0; k < 4; k++) {
    const c0 = process.cpuUsage();
    busy(iters);
    iters = Math.round((iters * STEP_MS) / Math.max(0.5, cpuMs(c0)));
  }
  const theta = thetaFor(m.numParams);
  const engine = await loadEngine({ memoryMB: 16 });
  const eTheta = engine.arena.f32(m.numParams), own = engine.arena.f32(m.numParams);
  eTheta.view.set(theta);
  const wireBuf = engine.arena.f32(m.numParams);
  const wire = new Uint8Array(engine.memory.buffer, wireBuf.ptr, CODEC === "f32" ? 0 : levelBytes(CODEC, m.tensors));
  const losses: number[] = [], extraCpu: number[] = [], sendMs: number[] = [], offMs: number[] = [], mainMs: number[] = [];
  const inPerStep: number[] = [], supPerStep: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const alone = await trainRate(iters, steps);
    const o = { id: 0, fingerprint: m.fingerprint, numParams: m.numParams, tensors: m.tensors, peers: new Map([[1, null], [2, null]]), pingIntervalMs: 0, onSnapshot: () => {} };
    const t = kind === "Transport" ? await Transport.start({ ...o, key }) : await WorkerTransport.start({ ...o, key: keyFromHex(keyHex, "key") });
    const port = String(t.address().port);
    const kids = [1, 2].map((id) => child(m, keyHex, 2 * steps, ["--feed", "--id", String(id), "--port", port]));
    try {
      for (const k of kids) await k.line();
      while (t.stats().connected.length < 2) await new Promise((res) => setTimeout(res, 5));
      for (const k of kids) k.go();
      const st0 = t.stats();
      // As the live driver does per shared step under --compress (program.ts snapshot): the codec
      // kernels encode θ and decode the node's own copy in one pass, then send() copies the bytes.
      const shared = await trainRate(iters, steps, CODEC === "f32" ? (s) => t.send([1, 2], s, Date.now(), theta) : (s) => {
        encodeLevel(engine.kernels, CODEC, m.tensors, eTheta.ptr, wire, own);
        t.send([1, 2], s, Date.now(), { codec: CODEC, bytes: wire });
      });
      await t.close(); // WorkerTransport's stats are final after close
      const st = t.stats();
      inPerStep.push((st.received - st0.received) / steps);
      supPerStep.push((st.superseded - st0.superseded) / steps);
      losses.push(1 - shared.rate / alone.rate);
      extraCpu.push(shared.cpu - alone.cpu);
      sendMs.push(shared.sendMs - alone.sendMs);
      offMs.push(shared.offMs - alone.offMs);
      mainMs.push(shared.mainMs - alone.mainMs);
    } finally {
      for (const k of kids) k.kill();
      await t.close();
    }
  }
  const med = (x: number[]) => [...x].sort((a, b) => a - b)[x.length >> 1];
  return { loss: med(losses), lossMin: Math.min(...losses), lossMax: Math.max(...losses), extraCpu: med(extraCpu), sendMs: med(sendMs), offMs: med(offMs), mainMs: med(mainMs),
    inPerStep: med(inPerStep), supPerStep: med(supPerStep) };
}

/** Pushes WARMUP + count frames to a child Transport as fast as its socket takes them. */
async function push(m: Model, keyHex: string, key: CryptoKey, count: number) {
  const c = child(m, keyHex, count);
  try {
    const { port } = await c.line();
    const ws = await dialAs(port, key, m, frameBytes(m.numParams));
    const theta = thetaFor(m.numParams);
    const h = { fingerprint: m.fingerprint, from: 0, epoch: 1, sentAt: 0 };
    const one = async (step: number) => {
      const f = await encodeFrame(key, { ...h, step, sentAt: Date.now() }, theta);
      await new Promise<void>((ok, fail) => ws.send(f, { binary: true }, (e) => (e ? fail(e) : ok())));
    };
    for (let s = 0; s < WARMUP; s++) await one(s);
    const c0 = process.cpuUsage(), t0 = performance.now();
    for (let s = WARMUP; s < WARMUP + count; s++) await one(s);
    const sendCpu = cpuMs(c0);
    const done = await c.line();
    const wall = performance.now() - t0;
    ws.terminate();
    return { sendCpu: sendCpu / count, recvCpu: done.cpuMs / count, mbps: (count * frameBytes(m.numParams)) / 1e6 / (wall / 1000), msPerMsg: wall / count, superseded: done.superseded as number };
  } finally {
    c.kill();
  }
}

/** A Transport sends WARMUP + count snapshots, one every STEP_MS, to a child Transport. */
async function paced(m: Model, keyHex: string, key: CryptoKey, count: number) {
  const c = child(m, keyHex, count);
  let t: Transport | undefined;
  try {
    const { port } = await c.line();
    t = await Transport.start({
      id: 0, key, fingerprint: m.fingerprint, numParams: m.numParams, peers: new Map([[1, `127.0.0.1:${port}`]]), pingIntervalMs: 0, onSnapshot: () => {},
    });
    const tr = t;
    const theta = thetaFor(m.numParams);
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    while (!tr.stats().connected.includes(1)) await sleep(5);
    for (let s = 0; s < WARMUP; s++) { tr.send(1, s, Date.now(), theta); await sleep(STEP_MS); }
    const c0 = process.cpuUsage();
    for (let s = WARMUP; s < WARMUP + count; s++) { tr.send(1, s, Date.now(), theta); await sleep(STEP_MS); }
    const sendCpu = cpuMs(c0);
    const done = await c.line();
    return { sendCpu: sendCpu / count, recvCpu: done.cpuMs / done.verified, skipped: count - done.verified + tr.stats().replaced };
  } finally {
    await t?.close();
    c.kill();
  }
}

async function main(): Promise<void> {
  const count = Number(arg("--messages") ?? 200);
  const keyBytes = generateKey();
  const key = await importKey(keyBytes);
  const { runtime, runtimeVersion } = runtimeName();
  console.log(`transport bench: ${runtime} ${runtimeVersion}, ${cpus()[0]?.model.trim() ?? "unknown CPU"} (${cpus().length} cores), ${count} messages after ${WARMUP} warm-up; budget frames θ as ${CODEC}`);
  const only = arg("--only");
  const rows: string[][] = [], threadRows: string[][] = [];
  const pct = (x: number) => `${(100 * x).toFixed(0)}%`;
  for (const m of models) {
    const budgets = { Transport: await budget(m, keyToHex(keyBytes), key), WorkerTransport: await budget(m, keyToHex(keyBytes), key, "WorkerTransport") };
    for (const [kind, b] of Object.entries(budgets)) {
      threadRows.push([
        m.name, kind, `${pct(b.loss)} (${(100 * b.lossMin).toFixed(0)}…${(100 * b.lossMax).toFixed(0)})`, `${b.extraCpu.toFixed(2)} = ${pct(b.extraCpu / STEP_MS)}`,
        b.sendMs.toFixed(2), `${b.offMs.toFixed(2)} = ${pct(b.offMs / STEP_MS)}`, `${b.mainMs.toFixed(2)} = ${pct(b.mainMs / STEP_MS)}`,
        `${b.inPerStep.toFixed(2)} / ${b.supPerStep.toFixed(2)}`,
      ]);
    }
    if (only === "budget") continue;
    const b = budgets.Transport;
    const c = await codec(m, key, count);
    const p = await push(m, keyToHex(keyBytes), key, count);
    const q = await paced(m, keyToHex(keyBytes), key, count);
    rows.push([
      m.name, String(m.numParams), (frameBytes(m.numParams) / 1024).toFixed(0),
      c.enc.cpu.toFixed(2), c.dec.cpu.toFixed(2),
      p.sendCpu.toFixed(2), p.recvCpu.toFixed(2), p.msPerMsg.toFixed(2), p.mbps.toFixed(0), String(p.superseded),
      q.sendCpu.toFixed(2), q.recvCpu.toFixed(2), String(q.skipped),
      `${pct(b.loss)} (${(100 * b.lossMin).toFixed(0)}…${(100 * b.lossMax).toFixed(0)})`,
      `${b.extraCpu.toFixed(2)} = ${pct(b.extraCpu / STEP_MS)}`,
    ]);
  }
  const table = (head: string[], rs: string[][], left = 1) => {
    const w = head.map((x, i) => Math.max(x.length, ...rs.map((r) => r[i].length)));
    const fmt = (r: string[]) => r.map((x, i) => (i < left ? x.padEnd(w[i]) : x.padStart(w[i]))).join("  ");
    console.log([fmt(head), fmt(w.map((n) => "-".repeat(n))), ...rs.map(fmt)].join("\n"));
  };
  if (only !== "budget") {
    table(["model", "floats", "KiB", "enc", "dec", "push send", "push recv", "ms/msg", "MB/s", "superseded", "paced send", "paced recv", "skipped", "loss (range)", "cpu/step"], rows);
    console.log("CPU ms per message (process.cpuUsage, all threads). enc/dec: encodeFrame / decodeFrame in one process.");
    console.log("push: as fast as the socket takes frames; recv per frame arrived; ms/msg and MB/s until the receiver verified the last; superseded: skipped for a newer one.");
    console.log(`paced: Transport to Transport, one snapshot every ${STEP_MS} ms; skipped: not verified (should be 0).`);
    console.log(`loss: steps/s of a loop of ${STEP_MS} ms (CPU) steps that sends each step to 2 neighbours, each sending one every ${STEP_MS} ms, against the loop alone;`);
    console.log(`median (range) of 3 alternating rounds; the issue allows 15%. cpu/step: CPU ms the transport adds per step (all threads), and its share of ${STEP_MS} ms.`);
    console.log("");
  }
  table(["model", "transport", "loss (range)", "cpu/step", "send wall", "main wall/step", "main cpu/step", "in/skipped per step"], threadRows, 2);
  console.log(`The budget loop (${STEP_MS} ms CPU steps, 2 neighbours each way) with each transport. loss and cpu/step (all threads) as above.`);
  console.log("The training thread's share, ms per step the transport adds to it (with − alone): send wall: in send(); main wall: in send() and the");
  console.log("yield after it (sockets or the worker's messages, onSnapshot), inflated by preemption when the machine is loaded; main cpu: the main");
  console.log(`thread's CPU time over the loop (schedstat; NaN where /proc is missing). Each with its share of ${STEP_MS} ms; medians of 3 rounds.`);
  console.log("in/skipped per step: snapshots handed to onSnapshot, and frames superseded by a newer one, per step (2 neighbours send one per 8 ms each).");
}

if (process.argv.includes("--serve")) await serve();
else if (process.argv.includes("--feed")) await feed();
else await main();
