import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));
// In `vite dev` the API runs separately (npm start, port 4000); the server serves web/dist in production.
const api = process.env.SPINDLE_API ?? 'http://localhost:4000';

export default defineConfig({
  root,
  base: './',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // The explorer (GraphiQL and its React, served at /graphql) is a page of its own, loaded only there.
    rollupOptions: {
      input: { main: `${root}index.html`, explorer: `${root}explorer.html` },
      // GraphiQL's Radix parts start with "use client" (a React Server Components marker): meaningless in a plain bundle.
      onwarn(warning, warn) {
        if (warning.code !== 'MODULE_LEVEL_DIRECTIVE') warn(warning);
      },
    },
    // The dashboard's own chunk is ~60 kB; the explorer page (GraphiQL, React, CodeMirror) is ~900 kB, loaded only at /graphql.
    chunkSizeWarningLimit: 1000,
  },
  server: {
    proxy: {
      '/graphql': { target: api, ws: true, changeOrigin: true },
      '/modules': { target: api, changeOrigin: true },
    },
  },
});
