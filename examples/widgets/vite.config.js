import { defineConfig } from 'vite';

// Where the dev server (and `vite preview`) forwards the API, the token endpoint and the realtime socket.
const kith = process.env.KITH_URL || 'http://127.0.0.1:8000';

const proxy = {
  '/api': { target: kith, changeOrigin: true },
  '/oauth': { target: kith, changeOrigin: true },
  '/ws': { target: kith, changeOrigin: true, ws: true },
};

export default defineConfig({
  server: { proxy },
  preview: { proxy },
  build: { chunkSizeWarningLimit: 10_000 },
});
