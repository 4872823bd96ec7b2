// `cdl lab`: builds the browser lab (src/web/build.ts) and serves it on loopback until interrupted.
import { join } from "node:path";
import { repoRoot } from "../runtime.ts";
import { buildLab } from "../web/build.ts";
import { serveLab } from "../web/serve.ts";
import { helpText, parseFlags, UsageError, type FlagTable } from "./args.ts";

export const LAB_FLAGS: FlagTable = {
  out: { type: "string", help: "where to build the static lab (default dist/lab)" },
  port: { type: "int", default: 8080, min: 0, max: 65535, help: "port to serve on, on 127.0.0.1 (0: any free port)" },
  serve: { type: "bool", default: true, help: "serve the built lab (--serve=false: only build it)" },
};

export async function labCommand(argv: string[]): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(helpText("lab", "Build the browser lab (a static directory) and serve it on localhost.", LAB_FLAGS));
    return 0;
  }
  const { flags, positional } = parseFlags("cdl lab", argv, LAB_FLAGS);
  if (positional.length) throw new UsageError(`cdl lab: unexpected argument '${positional[0]}' (flags start with --)`);
  const b = await buildLab((flags.out as string | undefined) ?? join(repoRoot(), "dist", "lab"));
  console.log(`lab built in ${b.out}: ${b.modules} modules, data ${(b.dataBytes / 2 ** 20).toFixed(1)} MiB (any static web server can serve this directory)`);
  if (!flags.serve) return 0;
  let server;
  try {
    server = await serveLab(b.out, flags.port as number);
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === "EADDRINUSE") throw new UsageError(`cdl lab: port ${flags.port} is in use; pass --port N (0: any free port)`);
    throw e;
  }
  console.log(`open ${server.url} in a browser (Ctrl-C stops the server)`);
  await new Promise<void>((r) => { process.once("SIGINT", r); process.once("SIGTERM", r); });
  await server.close();
  return 0;
}
