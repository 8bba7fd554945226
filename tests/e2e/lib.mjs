// Shared helpers of the browser tests: the browser, the API beside it, and polling.
// playwright-core comes from web/node_modules (the web app's own dev dependency).

import { createRequire } from 'node:module'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import path from 'node:path'

const here = path.dirname(fileURLToPath(import.meta.url))
export const REPO = path.resolve(here, '..', '..')
const require = createRequire(path.join(REPO, 'web', 'package.json'))
const { chromium } = require('playwright-core')

export const BASE = (process.env.EMS_E2E_URL ?? 'http://127.0.0.1:8080').replace(/\/$/, '')
export const ADMIN = {
  username: process.env.EMS_E2E_ADMIN_USERNAME ?? 'admin',
  password: process.env.EMS_E2E_ADMIN_PASSWORD ?? '',
}
export const DESKTOP = { width: 1366, height: 860 }
export const PHONE = { width: 390, height: 844 }

export async function launch() {
  return chromium.launch({
    executablePath: process.env.EMS_E2E_CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    env: { ...process.env, LANG: 'en_GB.UTF-8', LANGUAGE: 'en_GB' },
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
      // Date inputs follow the browser's language, not the page's.
      '--lang=en-GB',
    ],
  })
}

/** A fresh browser context (its own storage: one person, in `timezoneId`) with the page's errors collected. */
export async function newPage(browser, viewport = DESKTOP, { timezoneId = 'UTC' } = {}) {
  const context = await browser.newContext({
    viewport,
    deviceScaleFactor: viewport.width < 600 ? 2 : 1,
    isMobile: viewport.width < 600,
    hasTouch: viewport.width < 600,
    locale: 'en-GB',
    // The browser's own zone: the profile offers it.
    timezoneId,
  })
  const page = await context.newPage()
  page.errors = []
  page.on('pageerror', (error) => page.errors.push(String(error)))
  // What the app or the browser logged as an error (a failed request shows here too).
  page.consoleErrors = []
  page.on('console', (message) => {
    if (message.type() === 'error') page.consoleErrors.push(`${message.text()} (${message.location().url})`)
  })
  // Nothing may come from the internet: every request must stay on the gateway.
  page.outside = []
  page.on('request', (request) => {
    const url = request.url()
    if (!url.startsWith(BASE) && !url.startsWith('data:') && !url.startsWith('blob:')) page.outside.push(url)
  })
  page.setDefaultTimeout(15_000)
  openPages.push(page)
  return page
}

const openPages = []

/**
 * Nothing broke in the page, and nothing was fetched from outside the gateway; with
 * `console`, nothing was logged as an error either (flows that provoke a 401 leave it off).
 */
export function assertClean(page, { console: consoleToo = false } = {}) {
  if (page.errors.length) throw new Error(`errors in the page: ${page.errors.join('; ')}`)
  if (consoleToo && page.consoleErrors.length) throw new Error(`errors in the console: ${page.consoleErrors.join('; ')}`)
  if (page.outside.length) throw new Error(`requests outside the gateway: ${page.outside.join(', ')}`)
}

/** Screenshots of every page still open, for a failed run (EMS_E2E_ARTIFACTS or /tmp). */
export async function captureFailure(label) {
  const dir = process.env.EMS_E2E_ARTIFACTS ?? path.join('/tmp', 'ems-e2e-artifacts')
  const { mkdir } = await import('node:fs/promises')
  await mkdir(dir, { recursive: true })
  for (const [i, page] of openPages.entries()) {
    if (page.isClosed()) continue
    const file = path.join(dir, `${label}-${i}.png`)
    try {
      await page.screenshot({ path: file, fullPage: true, timeout: 5000 })
      console.log(`  screenshot of page ${i} (${page.url()}): ${file}`)
    } catch {
      // The browser may be gone already.
    }
  }
}

/** Poll until `probe()` returns something truthy (never a bare sleep). */
export async function until(probe, { timeout = 15_000, interval = 150, what = 'condition' } = {}) {
  const deadline = Date.now() + timeout
  let last
  for (;;) {
    try {
      const value = await probe()
      if (value) return value
      last = value
    } catch (error) {
      last = error
    }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeout} ms (last: ${last})`)
    await new Promise((resolve) => setTimeout(resolve, interval))
  }
}

/**
 * Returns once `period(now)` and `period(now + marginMs)` are the same period (at once, but
 * for the last `marginMs` of one): for a flow whose readings must still be in the server's
 * "this hour", "today" or "this month" when it answers, up to `marginMs` later.
 */
export async function clearOfBoundary(period, marginMs) {
  while (period(new Date()) !== period(new Date(Date.now() + marginMs))) await new Promise((resolve) => setTimeout(resolve, 500))
}

/** Periods for `clearOfBoundary`: the UTC hour (every whole-hour zone's midnight ends one)... */
export const utcHour = (at) => at.toISOString().slice(0, 13)
/** ...the UTC day... */
export const utcDay = (at) => at.toISOString().slice(0, 10)
/** ...and the month in a zone. */
export const monthIn = (zone) => (at) => new Intl.DateTimeFormat('en-CA', { timeZone: zone, year: 'numeric', month: '2-digit' }).format(at)

/** The REST API through the gateway, as a script would use it. */
export async function api(method, urlPath, { token, body, expect: expected } = {}) {
  const response = await fetch(BASE + urlPath, {
    method,
    headers: {
      ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
      ...(token ? { Authorization: `Bearer ${token}` } : {}),
    },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  })
  const text = await response.text()
  const data = text ? JSON.parse(text) : null
  if (expected !== undefined && response.status !== expected) {
    throw new Error(`${method} ${urlPath}: ${response.status} ${text}`)
  }
  return { status: response.status, data }
}

export async function apiLogin(username, password) {
  return (await api('POST', '/api/auth/login', { body: { username, password }, expect: 200 })).data
}

/** Sign in through the login form and wait for the signed-in layout. */
export async function signIn(page, username, password) {
  await page.goto(BASE + '/login')
  await page.getByLabel('Username').fill(username)
  await page.getByLabel('Password').fill(password)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.locator('#main h1').first().waitFor()
  await until(() => page.evaluate(() => !location.pathname.startsWith('/login')), { what: 'leave the login page' })
}

/**
 * Publish readings to `ems.data` with a plain AMQP client (the seeds' format), through the
 * project's Python environment: `[{device_id, timestamp, measurement_value}]`.
 */
export async function publishReadings(readings) {
  await run('uv', ['run', '--quiet', 'python', path.join(here, 'publish_readings.py')], JSON.stringify(readings))
}

function run(command, args, input) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: REPO, stdio: ['pipe', 'pipe', 'pipe'], env: process.env })
    let output = ''
    child.stdout.on('data', (d) => (output += d))
    child.stderr.on('data', (d) => (output += d))
    child.on('error', reject)
    child.on('close', (code) => (code === 0 ? resolve(output) : reject(new Error(`${command} ${args.join(' ')} exited ${code}: ${output}`))))
    child.stdin.end(input)
  })
}

export function uniqueName(prefix) {
  return `${prefix}${Date.now().toString(36)}${Math.floor(Math.random() * 1e4)}`
}

/** Steps with names, so a failure says which step broke. */
export async function step(name, body) {
  const started = Date.now()
  try {
    const result = await body()
    console.log(`  ok   ${name} (${Date.now() - started} ms)`)
    return result
  } catch (error) {
    console.log(`  FAIL ${name} (${Date.now() - started} ms)`)
    throw error
  }
}
