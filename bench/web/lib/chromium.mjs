// Debian's Chromium, and the flags every launch of it here needs: they keep
// it off the closed network (TOOLCHAIN.md). Playwright launches it with these
// (it adds its own headless flag); Lighthouse's launcher with a few more.

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export const BROWSER_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
