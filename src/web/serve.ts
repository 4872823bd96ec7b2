// A static file server for the built lab on loopback: GET and HEAD of files under one directory,
// with the MIME types a browser needs for ES modules and WebAssembly, nothing else. Any static host
// serves the same directory as well; this one saves installing one.
import { createReadStream, statSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { extname, join, normalize, resolve, sep } from "node:path";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8",
  ".json": "application/json", ".wasm": "application/wasm", ".gz": "application/octet-stream", ".png": "image/png", ".svg": "image/svg+xml",
};

export interface LabServer { url: string; close(): Promise<void> }

/** Serves `dir` on host:port (port 0: any free port); resolves once it listens. */
export function serveLab(dir: string, port: number, host = "127.0.0.1"): Promise<LabServer> {
  const root = resolve(dir);
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
    const file = normalize(join(root, path.endsWith("/") ? path + "index.html" : path));
    let size = -1;
    try { if (file === root || file.startsWith(root + sep)) size = statSync(file).isFile() ? statSync(file).size : -1; } catch { /* 404 */ }
    if (req.method !== "GET" && req.method !== "HEAD") { res.writeHead(405, { allow: "GET, HEAD" }).end(); return; }
    if (size < 0) { res.writeHead(404, { "content-type": "text/plain" }).end(`not found: ${path}\n`); return; }
    res.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream", "content-length": size, "cache-control": "no-cache" });
    if (req.method === "HEAD") res.end();
    else createReadStream(file).pipe(res);
  });
  return new Promise((ok, fail) => {
    server.once("error", fail);
    server.listen(port, host, () => {
      const a = server.address();
      const p = typeof a === "object" && a ? a.port : port;
      ok({ url: `http://${host.includes(":") ? `[${host}]` : host}:${p}/`, close: () => new Promise((r) => { server.close(() => r()); server.closeAllConnections(); }) });
    });
  });
}
