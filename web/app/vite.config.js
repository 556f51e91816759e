import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// `scripts/dev.sh` serves the app at http://127.0.0.1:8080 (`vite preview` of the build); the
// page connects to the node named by `?rpc=` (default ws://127.0.0.1:9944).
export default defineConfig({
  plugins: [react()],
  server: { host: '127.0.0.1', port: 8080, strictPort: true },
  preview: { host: '127.0.0.1', port: 8080, strictPort: true },
  build: { outDir: 'dist', chunkSizeWarningLimit: 4096 },
});
