/**
 * The GraphQL explorer: GraphiQL (web/explorer.html, built with the dashboard into web/dist) for a
 * browser that opens /graphql. Only page navigations get it (GET, Accept text/html, no `query`
 * parameter); every other request goes on to the API. Off with INTROSPECTION=false, as the schema
 * it would show is then private: a short page says so.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { RequestHandler } from 'express';

const page = (title: string, body: string) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${title}</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 4rem auto; line-height: 1.5">
<h1>${title}</h1>${body}</body></html>`;

const OFF = page(
  'GraphQL explorer is off',
  '<p>This server does not answer introspection (<code>INTROSPECTION=false</code>), so it offers no explorer. The API itself is here: POST GraphQL to <code>/graphql</code>.</p>',
);
const NOT_BUILT = page(
  'GraphQL explorer not built',
  '<p>Run <code>npm run build</code> (it builds <code>web/dist</code>, the explorer with the dashboard) and restart. The API itself is here: POST GraphQL to <code>/graphql</code>.</p>',
);

export function explorerHandler({ dir, enabled }: { dir: string; enabled: boolean }): RequestHandler {
  const file = join(dir, 'explorer.html');
  const built = existsSync(file);
  return (req, res, next) => {
    const navigation = (req.method === 'GET' || req.method === 'HEAD') && req.query.query === undefined && (req.headers.accept ?? '').includes('text/html');
    if (!navigation) return next();
    res.setHeader('Cache-Control', 'no-cache');
    if (!enabled) return void res.status(404).type('html').send(OFF);
    if (!built) return void res.status(200).type('html').send(NOT_BUILT);
    res.sendFile(file);
  };
}
