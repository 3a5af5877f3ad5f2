// Lighthouse (npm `lighthouse`, programmatic API) against Debian's Chromium,
// one fresh headless Chromium (chrome-launcher, its own temporary profile) per
// run. Mobile preset (Lighthouse's default: Moto G Power viewport, 4x CPU
// slowdown and slow 4G, simulated by Lantern from an unthrottled load), only
// the performance category.

import * as chromeLauncher from 'chrome-launcher';
import lighthouse from 'lighthouse';

import { BROWSER_ARGS, CHROMIUM } from './chromium.mjs';

export { CHROMIUM };

/** What chrome-launcher needs besides the common flags: headless, and a quiet profile. */
export const CHROMIUM_FLAGS = [
  '--headless=new',
  ...BROWSER_ARGS,
  '--disable-default-apps',
  '--disable-extensions',
  '--metrics-recording-only',
  '--no-default-browser-check',
];

/** One Lighthouse run of `url`: the figures we report, from the LHR. */
export async function lighthouseRun(url) {
  const chrome = await chromeLauncher.launch({ chromePath: CHROMIUM, chromeFlags: CHROMIUM_FLAGS, logLevel: 'silent' });
  try {
    const result = await lighthouse(url, {
      port: chrome.port,
      output: 'json',
      logLevel: 'error',
      onlyCategories: ['performance'],
    });
    const lhr = result.lhr;
    if (lhr.runtimeError) throw new Error(`Lighthouse: ${lhr.runtimeError.code} ${lhr.runtimeError.message}`);
    const audit = (id) => lhr.audits[id]?.numericValue ?? null;
    const requests = lhr.audits['network-requests']?.details?.items ?? [];
    return {
      score: lhr.categories.performance.score === null ? null : Math.round(lhr.categories.performance.score * 100),
      tbt_ms: audit('total-blocking-time'),
      lcp_ms: audit('largest-contentful-paint'),
      fcp_ms: audit('first-contentful-paint'),
      tti_ms: audit('interactive'),
      cls: audit('cumulative-layout-shift'),
      si_ms: audit('speed-index'),
      // Main-thread work of the page, observed (not simulated), and bytes.
      mainthread_ms: audit('mainthread-work-breakdown'),
      bootup_ms: audit('bootup-time'),
      total_bytes: audit('total-byte-weight'),
      requests: requests.length,
      warnings: lhr.runWarnings ?? [],
      lighthouse_version: lhr.lighthouseVersion,
      user_agent: lhr.environment?.hostUserAgent,
      form_factor: lhr.configSettings.formFactor,
      throttling_method: lhr.configSettings.throttlingMethod,
      benchmark_index: lhr.environment?.benchmarkIndex,
    };
  } finally {
    await chrome.kill();
  }
}
