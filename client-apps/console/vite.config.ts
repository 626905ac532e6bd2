import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// `npm run dev` proxies the API to a running server (STIGMER_HTTP, default the local one).
const env = (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env;
const api = env?.STIGMER_HTTP ?? "http://127.0.0.1:8080";

export default defineConfig({
  plugins: [react()],
  build: { outDir: "dist", emptyOutDir: true, sourcemap: false },
  server: {
    proxy: {
      "/ai.stigmer.": api,
      "/console/": api,
    },
  },
});
