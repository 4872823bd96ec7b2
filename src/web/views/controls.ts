// The settings form: one field per `cdl run` flag the lab lets you change, grouped, each built from
// its entry in RUN_FLAGS (a select for flags with a list of allowed values, a text box with
// suggestions otherwise; the flag's help, range and defaults as the tooltip). A change reports
// (flag, value) to the page, which owns the settings; an empty box means "the default".
import { describe, type FlagTable } from "../../cli/args.ts";
import { esc } from "./chart.ts";

interface Field { key: string; label: string; suggest?: string[] }

const GROUPS: { title: string; fields: Field[] }[] = [
  { title: "Network", fields: [
    { key: "nodes", label: "nodes", suggest: ["4", "8", "16", "32"] },
    { key: "topology", label: "topology", suggest: ["complete", "ring", "line", "star", "torus", "erdos-renyi:0.3", "small-world:4,0.1", "random-regular:3"] },
    { key: "drop", label: "drop", suggest: ["0", "0.2", "0.5", "0.9"] },
    { key: "link-mtbf", label: "link-mtbf", suggest: ["inf", "20", "5"] },
    { key: "link-mttr", label: "link-mttr", suggest: ["0", "5", "20"] },
    { key: "latency", label: "latency", suggest: ["0.01", "0.1", "1"] },
    { key: "stragglers", label: "stragglers", suggest: ["0", "0.25", "0.5"] },
    { key: "crash-rate", label: "crash-rate", suggest: ["0", "0.01", "0.05"] },
  ] },
  { title: "Data and model", fields: [
    { key: "split", label: "split", suggest: ["iid", "classes:1", "classes:2", "classes:3", "dirichlet:0.1", "dirichlet:1", "shards:2"] },
    { key: "model", label: "model" },
    { key: "epochs", label: "epochs", suggest: ["5", "10", "20", "40"] },
    { key: "lr", label: "lr", suggest: ["0.05", "0.1", "0.2"] },
    { key: "lr-schedule", label: "lr-schedule" },
    { key: "seed", label: "seed", suggest: ["1", "2", "3"] },
  ] },
  { title: "Algorithm", fields: [
    { key: "algorithm", label: "algorithm" },
    { key: "epsilon", label: "epsilon ε", suggest: ["0.1", "0.25", "0.333", "0.5"] },
    { key: "local-steps", label: "local-steps K", suggest: ["1", "2", "5", "auto"] },
    { key: "share-every", label: "share-every S", suggest: ["1", "2", "5"] },
  ] },
];

export class Controls {
  private readonly inputs = new Map<string, HTMLInputElement | HTMLSelectElement>();
  private readonly notes = new Map<string, HTMLElement>();

  /** flags: RUN_FLAGS; defaults: the lab's own defaults (shown beside the CLI's). */
  constructor(form: HTMLFormElement, flags: FlagTable, defaults: Readonly<Record<string, string>>, onChange: (key: string, value: string) => void) {
    form.addEventListener("submit", (e) => e.preventDefault());
    for (const group of GROUPS) {
      const fs = form.appendChild(document.createElement("fieldset"));
      fs.appendChild(document.createElement("legend")).textContent = group.title;
      for (const f of group.fields) {
        const spec = flags[f.key];
        if (!spec) continue;
        const row = fs.appendChild(document.createElement("div"));
        row.className = "field";
        const id = `set-${f.key}`;
        const cli = spec.default === undefined ? "none (computed)" : String(spec.default);
        const tip = `--${f.key}: ${spec.help}\nvalue: ${describe(spec)}\ncdl run default: ${cli}` +
          (defaults[f.key] !== undefined ? `\nthe lab's default: ${defaults[f.key]}` : "");
        row.innerHTML = `<label for="${id}" title="${esc(tip)}">${esc(f.label)}</label>`;
        let input: HTMLInputElement | HTMLSelectElement;
        if (spec.allowed) {
          input = document.createElement("select");
          for (const v of spec.allowed) input.add(new Option(v, v));
        } else {
          input = document.createElement("input");
          input.type = "text";
          input.placeholder = defaults[f.key] ?? (spec.default === undefined ? "default" : String(spec.default));
          if (f.suggest) {
            const list = row.appendChild(document.createElement("datalist"));
            list.id = `${id}-list`;
            for (const s of f.suggest) list.appendChild(new Option(s, s));
            input.setAttribute("list", list.id);
          }
        }
        input.id = id;
        input.name = f.key;
        input.title = tip;
        input.addEventListener("change", () => onChange(f.key, input.value.trim()));
        row.insertBefore(input, row.querySelector("datalist"));
        const note = row.appendChild(document.createElement("div"));
        note.className = "note";
        note.hidden = true;
        this.inputs.set(f.key, input);
        this.notes.set(f.key, note);
      }
    }
  }

  /** Shows the settings' values; fields differing from the lab's defaults are marked. */
  show(settings: ReadonlyMap<string, string>, defaults: Readonly<Record<string, string>>, flags: FlagTable): void {
    for (const [key, input] of this.inputs) {
      const v = settings.get(key);
      const fallback = defaults[key] ?? (flags[key]?.default === undefined ? "" : String(flags[key].default));
      input.value = v ?? (input instanceof HTMLSelectElement ? fallback : "");
      input.classList.toggle("changed", v !== undefined && v !== (defaults[key] ?? String(flags[key]?.default ?? "")));
    }
  }

  /** A line under a field (e.g. ε's stability bound); empty hides it. */
  note(key: string, text: string): void {
    const el = this.notes.get(key);
    if (!el) return;
    el.textContent = text;
    el.hidden = !text;
  }
}
