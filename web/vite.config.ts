import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));
// In `vite dev` the API runs separately (npm start, port 4000); the server serves web/dist in production.
const api = process.env.SPINDLE_API ?? 'http://localhost:4000';

export default defineConfig({
  root,
  base: './',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022', chunkSizeWarningLimit: 300 },
  server: {
    proxy: {
      '/graphql': { target: api, ws: true, changeOrigin: true },
      '/modules': { target: api, changeOrigin: true },
    },
  },
});
