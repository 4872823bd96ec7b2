// "How it works": what one node does in each step (learn → agree → share), the consensus update
// written out, and the actual numbers of the watched node's last consensus step as the worker
// reports them (UpdateView): ε, its own weight, each peer's weight, step and age, and how far the
// step moved it. Names the source that does each phase (paths relative to the repository).
import type { UpdateView } from "../protocol.ts";
import { esc } from "./chart.ts";

/** The run's loop parameters the text quotes. */
export interface HowContext {
  algorithm: string;
  localSteps: string;
  shareEvery: string;
  maxStaleness: string;
  agreeSteps: string;
}

export class HowView {
  private readonly intro: HTMLElement;
  private readonly live: HTMLElement;
  private context = "";

  constructor(host: HTMLElement) {
    host.classList.add("how");
    host.innerHTML = `<h2>How it works</h2><div class="intro"></div><h3>The last consensus step, with its numbers</h3><div class="live"></div>`;
    this.intro = host.querySelector(".intro")!;
    this.live = host.querySelector(".live")!;
  }

  /** The explanation, with this run's K, S and staleness limit filled in. */
  explain(c: HowContext): void {
    const key = JSON.stringify(c);
    if (key === this.context) return;
    this.context = key;
    const note = c.algorithm === "cdl" ? "" : `<p class="caption">This run's algorithm is <b>${esc(c.algorithm)}</b>; the steps below describe
      <b>cdl</b> (${c.algorithm === "isolated" ? "isolated nodes only learn and never agree" : "the others differ in when they mix; see ALGORITHM.md"}).</p>`;
    this.intro.innerHTML = `${note}<p>Every node runs the same loop on its own, on a shared virtual clock: no rounds, no
      coordinator, and no node ever waits for another.</p>
      <ol>
        <li><b>Learn.</b> The node takes a minibatch of its own data only and does one step of gradient descent
          (SGD) on its copy of the model, θ<sub>i</sub>. It does K = ${esc(c.localSteps)} such steps between two
          consensus steps. <span class="src">src/node/program.ts → learn()</span></li>
        <li><b>Agree.</b> It mixes its parameters with the newest snapshot it holds from each neighbour
          (its inbox), skipping those older than ${esc(c.maxStaleness)} virtual s:
          <div class="formula">θ<sub>i</sub> ← w<sub>ii</sub>·θ<sub>i</sub> + Σ<sub>j</sub> w<sub>ij</sub>·θ<sub>j</sub></div>
          With the default weights every fresh neighbour gets w<sub>ij</sub> = ε and the node keeps
          w<sub>ii</sub> = 1 − ε·(number of fresh neighbours): it moves a step ε towards each of them. ε must stay
          at most 1/Δ (Δ = the largest number of neighbours) or the averaging blows up.
          <span class="src">src/node/program.ts → agree()</span></li>
        <li><b>Share.</b> Every S = ${esc(c.shareEvery)} steps it sends a copy of θ<sub>i</sub> to every neighbour and
          carries on without waiting. Messages take time, some are dropped, links go down and come back, nodes
          crash: a snapshot that arrives replaces the older one from the same sender; a late, out-of-order one is
          ignored. <span class="src">src/node/program.ts → snapshot(), receive()</span></li>
      </ol>
      <p>Because each node only ever saw a few classes, learning alone would leave it good at those and blind to
      the rest; averaging with neighbours, who learned other classes, spreads what each one learned through the
      whole network. When the learning budget is spent, the nodes keep agreeing for ${esc(c.agreeSteps)} more step
      times without learning, so they end on (nearly) the same model.</p>`;
  }

  /** The watched node's last consensus step (null: none selected, or it has not mixed yet). */
  draw(u: UpdateView | null, watched: number): void {
    if (watched < 0) { this.live.innerHTML = `<p class="caption">Click a node in the network to see the numbers of its consensus steps.</p>`; return; }
    if (!u || u.node !== watched) { this.live.innerHTML = `<p class="caption">Node ${watched} has not mixed since it was picked; waiting for its next consensus step…</p>`; return; }
    const i = u.node, f = (x: number) => x.toFixed(3);
    const terms = [`${f(u.self)}·θ<sub>${i}</sub>`, ...u.peers.map((p) => `${f(p.weight)}·θ<sub>${p.from}</sub>`)].join(" + ");
    const rows = u.peers.map((p) => `<tr><td>node ${p.from}</td><td>${f(p.weight)}</td><td>${p.step}</td><td>${p.age.toFixed(2)} s</td></tr>`).join("");
    this.live.innerHTML = `<p>Node ${i} at t = ${u.t.toFixed(2)} s, rule <b>${esc(u.rule)}</b>${u.epsilon === null ? "" : `, ε = ${f(u.epsilon)}`}:</p>
      <div class="formula">θ<sub>${i}</sub> ← ${terms}</div>
      <table class="small"><tr><th>mixed with</th><th>weight w<sub>ij</sub></th><th>its step</th><th>age</th></tr>
        <tr><td>itself</td><td>${f(u.self)}</td><td></td><td></td></tr>${rows}</table>
      ${u.peers.length ? "" : `<p class="caption">No fresh snapshot in its inbox: it kept its own parameters.</p>`}
      <p>Distance to the mean of what it mixed: <b>${sci(u.distBefore)}</b> before → <b>${sci(u.distAfter)}</b> after;
      θ<sub>${i}</sub> moved by ${sci(u.moved)}.</p>`;
  }
}

const sci = (x: number) => (x === 0 ? "0" : Math.abs(x) >= 0.01 && Math.abs(x) < 1000 ? x.toPrecision(3) : x.toExponential(2));
