import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

/** The Manager's build: `src/web` → `dist/web`, served by the Fastify app (src/server/app.ts). */
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  plugins: [react()],
  build: {
    outDir: fileURLToPath(new URL('../../dist/web', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    reportCompressedSize: false,
  },
  server: {
    // `npm run dev:web` next to `npm start`: the API stays on the Relais process.
    proxy: { '/api': 'http://127.0.0.1:8080', '/cgi-bin': 'http://127.0.0.1:8080' },
  },
});
