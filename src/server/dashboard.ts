/**
 * The dashboard: static files from web/dist at "/", with an SPA fallback to index.html for
 * client-side routes. Without a build, a short page says how to build it.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import express, { type Router } from 'express';

/** web/dist relative to this file: src/server → ../../web/dist, and dist/server → ../../web/dist. */
export const DEFAULT_DASHBOARD_DIR = fileURLToPath(new URL('../../web/dist/', import.meta.url));

const NOT_BUILT = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Spindle</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 4rem auto; line-height: 1.5">
<h1>Spindle</h1>
<p>The dashboard is not built. Run <code>npm run build</code> (it builds <code>web/dist</code>) and restart.</p>
<p>The API is up: GraphQL over HTTP and WebSocket at <a href="/graphql">/graphql</a>, health at <a href="/healthz">/healthz</a>, metrics at <a href="/metrics">/metrics</a>.</p>
</body></html>`;

export function dashboardRouter(dir: string = DEFAULT_DASHBOARD_DIR): Router {
  const router = express.Router();
  const index = `${dir.replace(/\/$/, '')}/index.html`;
  const built = existsSync(index);
  if (built) router.use(express.static(dir, { index: 'index.html', maxAge: '1h', setHeaders: noCacheForHtml }));
  router.use((req, res, next) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return next();
    // Only page navigations fall back to the app; a missing asset stays a 404.
    if (!req.accepts('html') || /\.[a-z0-9]+$/i.test(req.path)) return next();
    if (!built) return void res.status(200).type('html').send(NOT_BUILT);
    res.setHeader('Cache-Control', 'no-cache');
    res.sendFile(index);
  });
  return router;
}

function noCacheForHtml(res: express.Response, path: string) {
  if (path.endsWith('.html')) res.setHeader('Cache-Control', 'no-cache');
}
