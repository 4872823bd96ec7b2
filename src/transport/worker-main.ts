// The worker side of WorkerTransport (worker.ts): a plain Transport (links.ts) in a worker thread,
// driven by messages from the training thread. Loaded by worker.ts with new Worker(new URL(...));
// it exports nothing. The message protocol (ToWorker, FromWorker) and its bounds are in worker.ts.
//
// Outbound: each "send" carries θ (f32 [numParams], or encoded) in place in a transferred buffer;
// Transport.sendFrame writes header and MAC around it, and the buffer goes back to be reused.
// Inbound: each good snapshot goes to the training thread in the buffer it arrived in
// (transferred, not copied); at most INBOUND_WINDOW per sender wait there unacknowledged, and
// the newest one beyond that waits here, replacing an older one (counted as superseded).
import { parentPort } from "node:worker_threads";
import { importKey } from "./key.ts";
import { Transport, type InboundSnapshot, type TransportStats } from "./links.ts";
import { HEADER_BYTES, MAC_BYTES, payloadView } from "./wire.ts";
import type { FromWorker, ToWorker } from "./worker.ts";

/** Snapshots per sender handed to the training thread and not yet acknowledged. */
const INBOUND_WINDOW = 2;

function main(): void {
  const port = parentPort;
  if (!port) throw new Error("worker-main is a worker entry: load it with WorkerTransport.start");
  const post = (m: FromWorker, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);
  let t: Transport | null = null;
  let statsTimer: ReturnType<typeof setInterval> | undefined;
  let lastStats = "";
  const unacked = new Map<number, number>();
  const held = new Map<number, InboundSnapshot>();
  let handed = 0, dropped = 0;

  /** The Transport's counters as the training thread sees them: received = handed over, superseded includes those dropped here. */
  const stats = (): TransportStats => {
    const s = t!.stats();
    return { ...s, received: handed, superseded: s.superseded + dropped };
  };

  const hand = (s: InboundSnapshot) => {
    const th = s.theta;
    handed++;
    unacked.set(s.from, (unacked.get(s.from) ?? 0) + 1);
    const m: FromWorker = { type: "snap", from: s.from, epoch: s.epoch, step: s.step, sentAt: s.sentAt, buf: th.buffer as ArrayBuffer, offset: th.byteOffset, length: th.length, stats: stats() };
    try {
      post(m, [th.buffer as ArrayBuffer]);
    } catch {
      // A buffer the runtime will not transfer (none seen so far): send a copy of θ alone.
      const own = th.slice();
      post({ ...m, buf: own.buffer, offset: 0 }, [own.buffer]);
    }
  };

  port.on("message", async (m: ToWorker) => {
    switch (m.type) {
      case "start": {
        const { statsIntervalMs, wantLog, ...opts } = m.opts;
        try {
          t = await Transport.start({
            ...opts, key: await importKey(m.key),
            log: wantLog ? (line) => post({ type: "log", line }) : undefined,
            onSnapshot: (s) => {
              if ((unacked.get(s.from) ?? 0) < INBOUND_WINDOW) return hand(s);
              if (held.has(s.from)) dropped++;
              held.set(s.from, s);
            },
          });
        } catch (e) {
          const err = e as Error;
          post({ type: "failed", name: err.name, message: err.message });
          return;
        }
        if (statsIntervalMs > 0) {
          statsTimer = setInterval(() => {
            const s = stats(), j = JSON.stringify(s);
            if (j !== lastStats) { lastStats = j; post({ type: "stats", stats: s }); }
          }, statsIntervalMs);
        }
        post({ type: "ready", address: t.address(), stats: stats() });
        return;
      }
      case "send": {
        // The buffer holds a frame with θ in place: the transport writes header and MAC around it
        // and gives it back once written or replaced (a big-endian machine converts f32 θ in a
        // copy instead; the level codecs run on little-endian machines only).
        const frame = new Uint8Array(m.buf, 0, HEADER_BYTES + m.length + MAC_BYTES), n = m.length / 4;
        const back = () => post({ type: "taken", buf: m.buf }, [m.buf]);
        try {
          if (!t) back();
          else if (m.encoding !== "f32" || payloadView(frame, n)) t.sendFrame(m.to, m.step, m.sentAt, frame, back, m.encoding);
          else { t.send(m.to, m.step, m.sentAt, new Float32Array(m.buf, HEADER_BYTES, n)); back(); }
        } catch (e) {
          post({ type: "log", line: `transport: cannot send: ${(e as Error).message}` });
          back();
        }
        return;
      }
      case "ack": {
        unacked.set(m.from, (unacked.get(m.from) ?? 1) - 1);
        const h = held.get(m.from);
        if (h) { held.delete(m.from); hand(h); }
        return;
      }
      case "peer":
        t?.setPeerAddress(m.id, m.addr);
        return;
      case "stats":
        if (t) post({ type: "stats", stats: stats() });
        return;
      case "close": {
        clearInterval(statsTimer);
        await t?.close();
        post({ type: "closed", stats: t ? stats() : undefined }); // the training thread then ends this worker
        return;
      }
    }
  });
}

main();
