// Builds the web UI into the Python package (src/flowui/static), which ships inside the wheel.
// CSP `default-src 'self'`: no inline scripts or styles, no data: URLs (assetsInlineLimit 0),
// workers as separate same-origin files, no modulepreload polyfill injected inline.
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";
import { fileURLToPath } from "node:url";

export default defineConfig({
  plugins: [react()],
  base: "/",
  build: {
    outDir: fileURLToPath(new URL("../src/flowui/static", import.meta.url)),
    emptyOutDir: true,
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
    chunkSizeWarningLimit: 4000,
  },
  worker: { format: "es" },
  server: { proxy: { "/api": "http://127.0.0.1:8787" } },
});
