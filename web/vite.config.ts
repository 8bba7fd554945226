import react from '@vitejs/plugin-react'
import { defineConfig } from 'vitest/config'

// `npm run dev` talks to a running stack (`ems up`) through its gateway.
const gateway = process.env.EMS_GATEWAY_URL ?? 'http://127.0.0.1:8080'

export default defineConfig({
  plugins: [react()],
  server: {
    proxy: {
      '/api': gateway,
      '/ws': { target: gateway, ws: true },
    },
  },
  build: {
    // Everything the app needs is in dist/: no fonts, icons or scripts from the internet.
    assetsInlineLimit: 0,
    sourcemap: false,
  },
  test: {
    environment: 'jsdom',
    setupFiles: ['./src/test/setup.ts'],
    include: ['src/**/*.test.{ts,tsx}'],
    restoreMocks: true,
    // Typing tests take seconds on a shared, busy machine; the default 5 s is too tight there.
    testTimeout: 20_000,
  },
})
