// Screenshots of every page, client and admin, at desktop and phone widths. Seeds a small
// demo world first (idempotent), then drives the app; an error in a page or its console fails
// the run. The pictures go to EMS_SCREENSHOTS_DIR, else to a new temporary folder: only
// `make screenshots` (EMS_SCREENSHOTS_DIR=docs/screenshots) rewrites the tracked ones.
//
//   EMS_E2E_URL=http://127.0.0.1:8080 EMS_E2E_ADMIN_USERNAME=... EMS_E2E_ADMIN_PASSWORD=... \
//   EMS_AMQP_URL=amqp://... node tests/e2e/screenshots.mjs

import { mkdir, mkdtemp } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { ADMIN, BASE, DESKTOP, PHONE, api, apiLogin, assertClean, launch, newPage, signIn, step, until } from './lib.mjs'
import { AUTUMN_DST, PASSWORD, seedDemo } from './seed.mjs'

const OUT = process.env.EMS_SCREENSHOTS_DIR
  ? path.resolve(process.env.EMS_SCREENSHOTS_DIR)
  : await mkdtemp(path.join(os.tmpdir(), 'ems-screenshots-'))

async function seedChat(world) {
  // `world` was seeded just before; only its ids are used here.
  const ana = await apiLogin('ana.popescu', PASSWORD)
  const history = await api('GET', '/api/support/history', { token: ana.access_token, expect: 200 })
  if (history.data.total > 0) return
  const say = (token, text, mode) => api('POST', '/api/support/messages', { token, body: { text, mode }, expect: 200 })
  await say(ana.access_token, 'Hello!', 'bot')
  await say(ana.access_token, 'How do I see my consumption for last week?', 'bot')
  await say(ana.access_token, 'My heat pump used more than usual last night. Could someone check it?', 'admin')
  // A fresh admin token: the seeding before may have outlived a short-lived one.
  const admin = await apiLogin(ADMIN.username, ADMIN.password)
  await api('POST', '/api/support/admin/reply', {
    token: admin.access_token,
    body: { user_id: world.ana.id, text: 'Hi Ana, I can see a peak around 19:00. It looks like the defrost cycle; I will keep an eye on it.' },
    expect: 201,
  })
  await say(ana.access_token, 'Thank you, that helps!', 'admin')
  const mihai = await apiLogin('mihai.ionescu', PASSWORD)
  await say(mihai.access_token, 'Can I get a second meter for the workshop?', 'admin')
}

async function settle(page) {
  await page.waitForFunction(() => !document.querySelector('.loading, [aria-busy="true"]'), null, { timeout: 15_000 })
  // Toasts of alerts the seeding raised would cover the page: the pictures are of the page.
  for (const dismiss of await page.getByRole('button', { name: 'Dismiss notification' }).all()) await dismiss.click().catch(() => {})
  await page.mouse.move(0, 0)
  // Let transitions (bars growing, toasts sliding) finish.
  await page.waitForFunction(() => document.getAnimations().every((a) => a.playState !== 'running' || a.effect?.getTiming().iterations === Infinity))
}

async function shot(page, name, { fullPage = true } = {}) {
  await settle(page)
  assertClean(page, { console: true })
  const width = page.viewportSize().width < 600 ? 'phone' : 'desktop'
  const file = path.join(OUT, `${name}-${width}.png`)
  await page.screenshot({ path: file, fullPage })
  console.log(`       ${file}`)
}

async function visit(page, route, heading) {
  await page.goto(BASE + route)
  if (heading) await page.getByRole('heading', { name: heading, exact: true }).first().waitFor()
}

async function openMenuIfPhone(page) {
  if (page.viewportSize().width < 600) await page.getByRole('button', { name: 'Menu' }).click()
}

async function clientPages(browser, viewport, world) {
  const page = await newPage(browser, viewport)
  await visit(page, '/login', 'Sign in')
  await shot(page, 'login')
  await visit(page, '/register', 'Create your account')
  await shot(page, 'register')
  await signIn(page, 'ana.popescu', PASSWORD)
  const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10)
  await visit(page, `/consumption?date=${yesterday}`, 'Consumption')
  await until(() => page.locator('.chart-bar').count(), { what: 'bars' })
  await shot(page, 'client-consumption-day')
  await visit(page, `/consumption?device=${world.kitchen.id}&date=${yesterday}&chart=line`, 'Consumption')
  await until(() => page.locator('.chart-line').count(), { what: 'line' })
  await shot(page, 'client-consumption-line')
  await visit(page, '/consumption?period=week', 'Consumption')
  await page.getByTestId('compare-previous-pct').waitFor()
  await shot(page, 'client-consumption-week')
  await visit(page, '/consumption?period=month', 'Consumption')
  await page.getByTestId('mtd-projected').waitFor()
  await shot(page, 'client-consumption-month')
  await visit(page, '/consumption?period=year', 'Consumption')
  await until(async () => (await page.locator('.chart-bar').count()) >= 12, { what: 'twelve months' })
  await shot(page, 'client-consumption-year')
  // The autumn daylight-saving day in Ana's Bucharest: 25 hours, 03:00 twice.
  await visit(page, `/consumption?device=${world.kitchen.id}&date=${AUTUMN_DST}`, 'Consumption')
  await until(async () => (await page.locator('.chart-bar').count()) === 25, { what: '25 bars' })
  await page.getByTestId('dst-note').waitFor()
  await shot(page, 'client-consumption-dst')
  await visit(page, '/devices', 'My devices')
  // The garden pump went quiet a minute after its readings.
  await page.getByTestId(`device-${world.gardenPump.id}`).getByTestId('silent-badge').waitFor({ timeout: 150_000 })
  await shot(page, 'client-devices')
  await visit(page, '/alerts', 'Alerts')
  await page.locator('.alert-row[data-kind="silent"]').first().waitFor({ timeout: 30_000 })
  await shot(page, 'client-alerts')
  await visit(page, '/support', 'Support')
  await page.locator('.msg').first().waitFor()
  await shot(page, 'client-support', { fullPage: false })
  // The profile of Ana (in Bucharest) in a browser that runs in London: it offers that zone.
  const zoned = await newPage(browser, viewport, { timezoneId: 'Europe/London' })
  await signIn(zoned, 'ana.popescu', PASSWORD)
  await visit(zoned, '/profile', 'Profile')
  await zoned.getByRole('button', { name: 'Use this browser’s zone (Europe/London)' }).waitFor()
  await shot(zoned, 'client-profile')
  assertClean(zoned, { console: true })
  await zoned.context().close()
  if (viewport.width < 600) {
    await visit(page, '/consumption', 'Consumption')
    await openMenuIfPhone(page)
    await shot(page, 'client-menu', { fullPage: false })
  }
  assertClean(page, { console: true })
  await page.context().close()
  return page
}

async function adminPages(browser, viewport, world) {
  const page = await newPage(browser, viewport)
  await signIn(page, ADMIN.username, ADMIN.password)
  await visit(page, '/admin/overview', 'Overview')
  await page.getByTestId('top-consumers').waitFor()
  await shot(page, 'admin-overview')
  await visit(page, '/admin/users', 'Users')
  await shot(page, 'admin-users')
  await page.getByRole('button', { name: 'New user' }).click()
  await page.getByRole('dialog').waitFor()
  await page.getByRole('dialog').getByRole('button', { name: 'Create user' }).click()
  await page.getByText('Username is required.').waitFor()
  await page.getByRole('dialog').getByLabel('Time zone').fill('Europe/Bucharest')
  await shot(page, 'admin-user-dialog', { fullPage: false })
  await page.keyboard.press('Escape')
  await visit(page, '/admin/devices', 'Devices')
  await shot(page, 'admin-devices')
  await page.getByRole('button', { name: 'Edit Kitchen meter' }).click()
  await page.getByRole('dialog').waitFor()
  await page.getByRole('dialog').getByRole('option', { name: /Day & night/ }).waitFor({ state: 'attached' })
  await shot(page, 'admin-device-dialog', { fullPage: false })
  await page.keyboard.press('Escape')
  await visit(page, '/admin/tariffs', 'Tariffs')
  await page.getByText('Three-rate').waitFor()
  await until(async () => !(await page.getByTestId('tariff-devices').allTextContents()).includes('…'), { what: 'device counts' })
  await shot(page, 'admin-tariffs')
  await page.getByRole('button', { name: 'Edit Three-rate' }).click()
  await page.getByRole('dialog').getByLabel('Band 3 From').waitFor()
  await shot(page, 'admin-tariff-dialog', { fullPage: false })
  await page.keyboard.press('Escape')
  await visit(page, `/admin/consumption?user=${world.ana.id}`, 'Consumption')
  await until(() => page.locator('.chart-bar').count(), { what: 'bars' })
  await shot(page, 'admin-consumption')
  await visit(page, '/admin/inbox')
  await page.locator('.conv').first().waitFor()
  await shot(page, 'admin-inbox', { fullPage: false })
  await visit(page, `/admin/inbox/${world.ana.id}`)
  await page.locator('.msg').first().waitFor()
  await shot(page, 'admin-inbox-thread', { fullPage: false })
  await visit(page, '/alerts', 'Alerts')
  await page.locator('.alert-row').first().waitFor()
  // One acknowledged, so the picture shows both states.
  if ((await page.getByTestId('acknowledged').count()) === 0) {
    await page.getByRole('button', { name: /^Acknowledge:/ }).first().click()
    await page.getByTestId('acknowledged').first().waitFor()
  }
  await shot(page, 'admin-alerts')
  assertClean(page, { console: true })
  await page.context().close()
}

async function main() {
  await mkdir(OUT, { recursive: true })
  console.log(`screenshots into ${OUT}`)
  const world = await step('seed the demo world', seedDemo)
  await step('seed support conversations', () => seedChat(world))
  const browser = await launch()
  try {
    for (const viewport of [DESKTOP, PHONE]) {
      const label = viewport === DESKTOP ? 'desktop' : 'phone'
      await step(`client pages (${label})`, () => clientPages(browser, viewport, world))
      await step(`admin pages (${label})`, () => adminPages(browser, viewport, world))
    }
  } finally {
    await browser.close()
  }
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
