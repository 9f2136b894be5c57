// Builds the chat app into dist/, which the server's web-app module serves at / on the HTTP port.
// Everything the page needs ships in dist/ (no fonts, icons or scripts from elsewhere: the CSP forbids them).
import { defineConfig } from 'vite';

export default defineConfig({
  // Preact's automatic JSX runtime, without a plugin.
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  resolve: { alias: { react: 'preact/compat', 'react-dom': 'preact/compat' } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // Hashed file names under assets/ are cached for a year; index.html, sw.js and the manifest are revalidated.
    assetsDir: 'assets',
    sourcemap: false,
    chunkSizeWarningLimit: 600,
    // Emoji images (ui/chat/emoji-image.tsx) stay files, loaded one by one when shown, not inlined into the script.
    assetsInlineLimit: (file: string) => (file.includes('@twemoji') ? false : undefined),
  },
  // `npm run dev -w packages/web` against a Parley on localhost: the WebSocket goes to the server.
  server: { proxy: { '/xmpp-websocket': { target: 'ws://localhost:5280', ws: true } } },
});
