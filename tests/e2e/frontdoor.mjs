// The front door in a real browser: the API docs page renders every service's operations
// with the network cut off from anything but the gateway, and the web app works under its
// Content-Security-Policy (no violation, its WebSocket allowed, no framing by others).
//
//   node tests/e2e/frontdoor.mjs <docs|csp>

import { ADMIN, BASE, captureFailure, launch, newPage, signIn, step, until } from './lib.mjs'

/** Only the gateway answers: every other request is cut off (and remembered). */
async function offline(page) {
  page.cut = []
  await page.context().route('**/*', (route) => {
    const url = route.request().url()
    if (url.startsWith(BASE) || url.startsWith('data:') || url.startsWith('blob:')) return route.continue()
    page.cut.push(url)
    return route.abort('internetdisconnected')
  })
  page.consoleErrors = []
  page.on('console', (message) => {
    if (message.type() === 'error') page.consoleErrors.push(message.text())
  })
}

function clean(page, what) {
  const problems = [...page.errors, ...page.consoleErrors, ...page.cut.map((u) => `outside: ${u}`)]
  if (problems.length) throw new Error(`${what}: ${problems.join(' | ')}`)
}

async function operationsShown(page) {
  return page.locator('.opblock').count()
}

const flows = {
  async docs(browser) {
    const services = await (await fetch(`${BASE}/api/docs/services.json`)).json()
    const page = await newPage(browser)
    await offline(page)
    await step('the docs page loads with the first service', async () => {
      await page.goto(`${BASE}/api/docs`)
      await until(async () => (await operationsShown(page)) > 0, { what: 'operations shown' })
    })
    for (const service of services) {
      await step(`${service.name}: every operation of its OpenAPI is shown`, async () => {
        const document = await (await fetch(BASE + service.url)).json()
        const expected = Object.values(document.paths).reduce((n, item) => n + Object.keys(item).length, 0)
        await page.locator('.topbar select').selectOption({ label: service.name })
        await until(
          async () => (await page.locator('.info .title').first().textContent())?.includes(document.info.title),
          { what: `${service.name} selected` },
        )
        await until(async () => (await operationsShown(page)) === expected, {
          what: `${expected} operations of ${service.name} (shown: ${await operationsShown(page)})`,
        })
      })
    }
    await step('each service keeps its own docs address', async () => {
      const users = services.find((s) => s.url.startsWith('/api/users/'))
      await page.goto(`${BASE}/api/users/docs`)
      await until(async () => (await page.locator('.topbar select').inputValue()) === users.url, {
        what: 'users selected at /api/users/docs',
      })
      await until(async () => (await operationsShown(page)) > 0, { what: 'users operations shown' })
    })
    await step('nothing came from outside the gateway, no error, no CSP violation', async () => {
      clean(page, 'docs page')
    })
  },

  async csp(browser) {
    const page = await newPage(browser)
    await offline(page)
    const sockets = []
    page.on('websocket', (socket) => sockets.push(socket))
    await step('the app is served with its security headers', async () => {
      const response = await page.goto(`${BASE}/`)
      const headers = response.headers()
      const csp = headers['content-security-policy'] ?? ''
      for (const directive of ["default-src 'self'", "frame-ancestors 'none'", "connect-src 'self'"]) {
        if (!csp.includes(directive)) throw new Error(`CSP lacks ${directive}: ${csp}`)
      }
      if (headers['x-content-type-options'] !== 'nosniff') throw new Error('no nosniff')
      if (headers['x-frame-options'] !== 'DENY') throw new Error('no X-Frame-Options')
      if (!headers['referrer-policy']) throw new Error('no Referrer-Policy')
    })
    await step('an admin signs in and walks the app; its WebSocket opens', async () => {
      await signIn(page, ADMIN.username, ADMIN.password)
      for (const path of ['/admin/users', '/admin/devices', '/admin/consumption', '/admin/inbox', '/profile']) {
        await page.goto(BASE + path)
        await page.locator('#main h1').first().waitFor()
      }
      await until(() => sockets.some((s) => !s.isClosed()), { what: 'an open WebSocket' })
    })
    await step('no CSP violation, no error, nothing from outside', async () => {
      clean(page, 'web app')
    })
    await step('another page cannot frame the app', async () => {
      const framer = await newPage(browser)
      const loaded = framer.waitForEvent('framenavigated', { predicate: (f) => f !== framer.mainFrame() })
      await framer.setContent(`<iframe id="app" src="${BASE}/login"></iframe>`)
      const frame = await loaded
      await frame.waitForLoadState('load')
      // A refused frame shows the browser's own error page, never the app.
      if ((await frame.locator('#root').count()) > 0) {
        throw new Error(`the app rendered inside another page's frame (${frame.url()})`)
      }
    })
  },
}

async function main() {
  const name = process.argv[2]
  if (!flows[name]) {
    console.error(`usage: node frontdoor.mjs <${Object.keys(flows).join('|')}>`)
    process.exit(2)
  }
  console.log(`frontdoor ${name}`)
  const browser = await launch()
  try {
    await flows[name](browser)
  } catch (error) {
    await captureFailure(`frontdoor-${name}`)
    console.error(error)
    process.exitCode = 1
  } finally {
    await browser.close()
  }
}

await main()
