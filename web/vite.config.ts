import { defineConfig } from "vitest/config";
import { svelte } from "@sveltejs/vite-plugin-svelte";

// The bundle is committed (web/dist/) and embedded into kezd under fixed names, so its file
// names carry no content hash and the build is one script and one stylesheet: kezd lists
// exactly these files, and CI rebuilds them and compares bytes.
export default defineConfig({
  plugins: [svelte()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    cssCodeSplit: false,
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    rollupOptions: {
      output: {
        entryFileNames: "assets/app.js",
        assetFileNames: "assets/[name][extname]",
        inlineDynamicImports: true,
      },
    },
  },
  test: { include: ["src/**/*.test.ts"] },
});
