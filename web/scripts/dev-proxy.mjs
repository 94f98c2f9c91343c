// Development server: serves web/ like the nginx image does (SPA fallback, same CSP) and
// proxies the API paths to a running PartyPic server, so the client can be tried against an
// older binary that does not embed web/ yet.
//   node scripts/dev-proxy.mjs [port=8088] [api=http://127.0.0.1:3000]
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const port = Number(process.argv[2] || 8088);
const api = new URL(process.argv[3] || 'http://127.0.0.1:3000');
const API = /^\/(auth|sessions|pictures|uploads|openapi\.json|healthz|readyz|metrics)(\/|\?|$)/;
const CSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob: https: http:; media-src 'self' blob: https: http:; connect-src 'self' https: http:; worker-src 'self'; manifest-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'";
const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml', '.png': 'image/png', '.webmanifest': 'application/manifest+json', '.json': 'application/json', '.txt': 'text/plain' };

http.createServer((req, res) => {
  const url = new URL(req.url || '/', 'http://x');
  if (API.test(url.pathname)) {
    const up = http.request({ host: api.hostname, port: api.port, path: req.url, method: req.method,
      headers: { ...req.headers, host: req.headers.host, 'x-forwarded-host': req.headers.host, 'x-forwarded-proto': 'http' } }, (r) => {
      res.writeHead(r.statusCode || 502, r.headers);
      r.pipe(res);
    });
    up.on('error', (e) => { res.writeHead(502); res.end(String(e)); });
    req.pipe(up);
    return;
  }
  let file = path.join(root, path.normalize(decodeURIComponent(url.pathname)));
  if (!file.startsWith(root) || /node_modules|e2e|scripts/.test(path.relative(root, file))) { res.writeHead(404); res.end(); return; }
  if (!fs.existsSync(file) || fs.statSync(file).isDirectory()) {
    if (path.extname(url.pathname)) { res.writeHead(404); res.end(); return; }
    file = path.join(root, 'index.html');
  }
  res.writeHead(200, { 'content-type': TYPES[path.extname(file)] || 'application/octet-stream', 'content-security-policy': CSP, 'cache-control': 'no-cache' });
  fs.createReadStream(file).pipe(res);
}).listen(port, '127.0.0.1', () => console.log(`web on http://127.0.0.1:${port} → API ${api.origin}`));
