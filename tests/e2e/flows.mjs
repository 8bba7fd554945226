// End-to-end flows of SPEC §5 in Debian's Chromium, through the gateway of a running stack.
// One flow per run: `node tests/e2e/flows.mjs <flow>`; exit code 0 when it passed.
//
//   EMS_E2E_URL, EMS_E2E_ADMIN_USERNAME, EMS_E2E_ADMIN_PASSWORD: the stack and its admin
//   EMS_AMQP_URL: the broker the stack uses, with the meter's login (readings are published there)
//   EMS_E2E_TOKEN_TTL: the stack's access-token lifetime in seconds (the expiry flow waits it out)

import { ADMIN, BASE, DESKTOP, PHONE, api, apiLogin, assertClean, captureFailure, clearOfBoundary, launch, monthIn, newPage, publishReadings, signIn, step, uniqueName, until, utcDay, utcHour } from './lib.mjs'
import { mkdir, readFile } from 'node:fs/promises'
import path from 'node:path'
import { PASSWORD, monitoringKnows } from './seed.mjs'

const TOKEN_TTL_S = Number(process.env.EMS_E2E_TOKEN_TTL ?? 30)

/** Mark the document so that a reload (which would pass "updates" off as live) is detected. */
async function markDocument(page) {
  await page.evaluate(() => {
    window.__emsNoReload = true
  })
}

async function assertNoReload(page) {
  if (!(await page.evaluate(() => window.__emsNoReload === true))) throw new Error('the page was reloaded')
}

/** A client (in `timeZone`) with a device assigned at creation (so its whole history is theirs). */
async function clientWithDevice(adminToken, { prefix, timeZone = 'UTC', tariff = null, silenceMinutes = 30, limit = 5 }) {
  const username = uniqueName(prefix)
  const user = (await api('POST', '/api/users', { token: adminToken, body: { username, password: PASSWORD, role: 'CLIENT', time_zone: timeZone }, expect: 201 })).data
  let tariffId = null
  if (tariff) {
    tariffId = (await api('POST', '/api/tariffs', { token: adminToken, body: { name: uniqueName('Tariff '), currency: 'RON', ...tariff }, expect: 201 })).data.id
  }
  const body = { name: uniqueName('Meter '), max_hourly_kwh: limit, owner_id: user.id, tariff_id: tariffId, silence_minutes: silenceMinutes }
  // The devices service learns of the new user from `user.created`: until then, "unknown owner".
  const device = await until(
    async () => {
      const created = await api('POST', '/api/devices', { token: adminToken, body })
      if (created.status === 201) return created.data
      if (created.data?.error?.code !== 'unknown_owner') throw new Error(`POST /api/devices: ${created.status} ${JSON.stringify(created.data)}`)
      return null
    },
    { timeout: 10_000, what: 'the devices service knows the new user' },
  )
  await monitoringKnows(adminToken, device.id)
  // Access tokens live 30 s here: a fresh one for every call.
  const token = async () => (await apiLogin(username, PASSWORD)).access_token
  return { client: { ...user, username, token }, device }
}

/** Text as compared: the non-breaking spaces of number formatting as plain ones. */
function norm(text) {
  return (text ?? '').replace(/\s+/g, ' ').trim()
}

/** kWh as the app writes it (lib/chart formatKwh). */
function kwhText(value) {
  const abs = Math.abs(value)
  const digits = abs === 0 ? 0 : abs < 1 ? 3 : abs < 10 ? 2 : abs < 100 ? 1 : 0
  return `${value.toLocaleString('en-GB', { minimumFractionDigits: digits, maximumFractionDigits: digits })} kWh`
}

/** A % change as the app writes it (lib/money formatChange). */
function changeText(pct) {
  if (pct === null || pct === undefined) return 'n/a'
  const rounded = Math.round(pct * 10) / 10
  const text = Math.abs(rounded).toLocaleString('en-GB', { minimumFractionDigits: 1, maximumFractionDigits: 1 })
  return rounded > 0 ? `+${text}%` : rounded < 0 ? `−${text}%` : `${text}%`
}

/** A picture of the page for a person to look at (EMS_E2E_ARTIFACTS). */
async function saveShot(page, name) {
  const dir = process.env.EMS_E2E_ARTIFACTS ?? '/tmp/ems-e2e-artifacts'
  await mkdir(dir, { recursive: true })
  await page.screenshot({ path: path.join(dir, `${name}.png`), fullPage: true })
}

async function statTotal(page) {
  return (await page.getByTestId('stat-total').textContent())?.trim()
}

const flows = {
  /** Self-registration makes a client who lands on their (empty) consumption page; sign out and in again. */
  async 'register-and-login'(browser) {
    const page = await newPage(browser, PHONE)
    const username = uniqueName('reg')
    await step('register through the form', async () => {
      await page.goto(BASE + '/register')
      await page.getByLabel('Username').fill(username)
      await page.getByLabel('Full name').fill('Registered Person')
      await page.getByLabel('Email').fill(`${username}@example.com`)
      await page.getByLabel('Password', { exact: true }).fill(PASSWORD)
      await page.getByLabel('Repeat password').fill(PASSWORD)
      await page.getByRole('button', { name: 'Create account' }).click()
      await page.getByRole('heading', { name: 'Consumption' }).waitFor()
      await page.getByText('No meters on your account yet').waitFor()
    })
    await step('the new account is a client with its profile', async () => {
      await page.goto(BASE + '/profile')
      await until(async () => (await page.getByLabel('Full name').inputValue()) === 'Registered Person', { what: 'profile name' })
      const token = await page.evaluate(() => JSON.parse(localStorage.getItem('ems.session')).accessToken)
      const me = await api('GET', '/api/users/me', { token, expect: 200 })
      if (me.data.role !== 'CLIENT') throw new Error(`registered as ${me.data.role}`)
    })
    await step('sign out, then sign in again', async () => {
      await page.getByRole('button', { name: 'Menu' }).click()
      await page.getByRole('button', { name: 'Sign out' }).click()
      await page.getByRole('heading', { name: 'Sign in' }).waitFor()
      await page.goto(BASE + '/devices')
      await page.getByRole('heading', { name: 'Sign in' }).waitFor()
      await signIn(page, username, PASSWORD)
      // Back to where the sign-in sent us from.
      await page.getByRole('heading', { name: 'My devices' }).waitFor()
    })
    await step('a wrong password is refused with a message', async () => {
      const other = await newPage(browser, DESKTOP)
      await other.goto(BASE + '/login')
      await other.getByLabel('Username').fill(username)
      await other.getByLabel('Password').fill('not-the-password')
      await other.getByRole('button', { name: 'Sign in' }).click()
      await other.getByRole('alert').filter({ hasText: /invalid|incorrect|wrong/i }).waitFor()
      assertClean(other)
    })
    assertClean(page)
  },

  /**
   * An admin creates a client and a device in the UI and assigns it; readings published on
   * the broker show up in the client's chart without a reload; going over the limit raises
   * a toast and an unread alert.
   */
  async 'admin-device-live-chart-alert'(browser) {
    const adminPage = await newPage(browser, DESKTOP)
    const clientName = uniqueName('cli')
    const deviceName = uniqueName('Meter ')
    await signIn(adminPage, ADMIN.username, ADMIN.password)

    await step('admin creates a client in the users table', async () => {
      await adminPage.goto(BASE + '/admin/users')
      await adminPage.getByRole('button', { name: 'New user' }).click()
      const dialog = adminPage.getByRole('dialog')
      await dialog.getByLabel('Username').fill(clientName)
      await dialog.getByLabel('Initial password').fill(PASSWORD)
      await dialog.getByLabel('Role').selectOption('CLIENT')
      await dialog.getByLabel('Full name').fill('Live Chart Client')
      await dialog.getByRole('button', { name: 'Create user' }).click()
      await dialog.waitFor({ state: 'hidden' })
      await adminPage.getByPlaceholder('Search by username, name or email').fill(clientName)
      await adminPage.getByRole('cell', { name: clientName, exact: true }).waitFor()
    })

    await step('admin creates a device and assigns it to the client', async () => {
      await adminPage.goto(BASE + '/admin/devices')
      await adminPage.getByRole('button', { name: 'New device' }).click()
      const dialog = adminPage.getByRole('dialog')
      await dialog.getByLabel('Name').fill(deviceName)
      await dialog.getByLabel('Hourly limit (kWh)').fill('1')
      await dialog.getByRole('button', { name: 'Create device' }).click()
      await dialog.waitFor({ state: 'hidden' })
      await adminPage.getByPlaceholder('Search by name, address or meter id').fill(deviceName)
      await adminPage.getByRole('button', { name: `Assign ${deviceName}` }).click()
      const assign = adminPage.getByRole('dialog')
      await assign.getByPlaceholder('Search clients by name, username or email').fill(clientName)
      await assign.getByRole('button', { name: new RegExp(clientName) }).click()
      await assign.getByRole('button', { name: 'Assign', exact: true }).click()
      await assign.waitFor({ state: 'hidden' })
      await adminPage.getByRole('row', { name: new RegExp(deviceName) }).getByText(clientName).waitFor()
    })

    // The client's chart (and later the admin's) is of today in UTC, the profile zone, and
    // the readings go into this UTC hour: both must still be the same day when they show.
    // Waited out before the admin's token is taken: it lives 30 s here (EMS_E2E_TOKEN_TTL).
    await clearOfBoundary(utcDay, 120_000)
    const admin = await apiLogin(ADMIN.username, ADMIN.password)
    const device = (await api('GET', `/api/devices?q=${encodeURIComponent(deviceName)}`, { token: admin.access_token, expect: 200 })).data.items[0]

    const clientPage = await newPage(browser, DESKTOP)
    await step('the client sees the device and an empty chart for today', async () => {
      await signIn(clientPage, clientName, PASSWORD)
      await clientPage.getByRole('combobox').filter({ hasText: deviceName }).waitFor()
      await until(async () => (await statTotal(clientPage)) === '0 kWh', { what: 'an empty day' })
      await until(() => clientPage.getByText('Live', { exact: true }).isVisible(), { what: 'the live connection' })
      await markDocument(clientPage)
    })

    const hourStart = new Date()
    hourStart.setUTCMinutes(0, 0, 0)
    const at = (minutes) => new Date(hourStart.getTime() + minutes * 60_000).toISOString()

    await step('readings for the device appear in the chart without a reload', async () => {
      await monitoringKnows(admin.access_token, device.id)
      await publishReadings([
        { device_id: device.id, timestamp: at(1), measurement_value: 0.25 },
        { device_id: device.id, timestamp: at(2), measurement_value: 0.25 },
      ])
      await until(async () => (await statTotal(clientPage)) === '0.500 kWh', { timeout: 20_000, what: 'the chart shows 0.5 kWh' })
      await assertNoReload(clientPage)
    })

    await step('going over the hourly limit shows a toast and an unread alert', async () => {
      await publishReadings([{ device_id: device.id, timestamp: at(3), measurement_value: 0.75 }])
      const toast = clientPage.locator('.toast-alert')
      await toast.waitFor({ timeout: 20_000 })
      const text = await toast.textContent()
      if (!text.includes('Hourly limit exceeded') || !text.includes(deviceName)) throw new Error(`toast says: ${text}`)
      await until(async () => (await statTotal(clientPage)) === '1.25 kWh', { what: 'the chart shows 1.25 kWh' })
      await clientPage.getByRole('link', { name: /Alerts/ }).filter({ hasText: '1' }).first().waitFor()
      await assertNoReload(clientPage)
    })

    await step("the CSV download holds the day's figures", async () => {
      const [download] = await Promise.all([clientPage.waitForEvent('download'), clientPage.getByRole('button', { name: 'Download CSV' }).click()])
      const csv = await readFile(await download.path(), 'utf8')
      if (!csv.includes('kwh') || !csv.includes('1.25')) throw new Error(`CSV: ${csv.slice(0, 300)}`)
    })

    await step('the alert is in the alert list, and the admin sees the client consumption', async () => {
      await clientPage.getByRole('link', { name: /Alerts/ }).first().click()
      await clientPage.locator('.alert-row').filter({ hasText: deviceName }).waitFor()
      await adminPage.goto(`${BASE}/admin/consumption?user=${device.owner_id}`)
      await until(async () => (await statTotal(adminPage)) === '1.25 kWh', { what: "the admin's view of the client" })
    })
    assertClean(adminPage)
    assertClean(clientPage)
  },

  /** The bot answers a client; in human mode the admin answers from the inbox and the client sees it live. */
  async 'support-chat'(browser) {
    const admin = await apiLogin(ADMIN.username, ADMIN.password)
    const clientName = uniqueName('chat')
    await api('POST', '/api/auth/register', { body: { username: clientName, password: PASSWORD }, expect: 201 })
    const clientPage = await newPage(browser, PHONE)
    await signIn(clientPage, clientName, PASSWORD)

    await step('the bot answers the client', async () => {
      await clientPage.goto(BASE + '/support')
      await clientPage.getByRole('button', { name: 'Assistant' }).click()
      await clientPage.getByLabel('Message', { exact: true }).fill('Hello, how do I change my password?')
      await clientPage.keyboard.press('Enter')
      await clientPage.locator('.msg[data-sender="user"]').filter({ hasText: 'change my password' }).waitFor()
      await clientPage.locator('.msg[data-sender="bot"], .msg[data-sender="ai"]').first().waitFor()
      await markDocument(clientPage)
    })

    await step('a message to human support reaches the admin inbox live', async () => {
      const adminPage = await newPage(browser, DESKTOP)
      await signIn(adminPage, ADMIN.username, ADMIN.password)
      await adminPage.goto(BASE + '/admin/inbox')
      await adminPage.getByRole('heading', { name: 'Support inbox' }).waitFor()
      await clientPage.getByRole('button', { name: 'Human support' }).click()
      await clientPage.getByLabel('Message', { exact: true }).fill('Can a person look at my bill?')
      await clientPage.getByRole('button', { name: 'Send message' }).click()
      const row = adminPage.locator('.conv').filter({ hasText: clientName })
      await row.filter({ hasText: 'Can a person look at my bill?' }).waitFor({ timeout: 20_000 })
      await row.locator('.badge').waitFor()
      // The client has the app open: the inbox shows them online.
      await row.locator('.presence.on').waitFor({ timeout: 10_000 })
      await row.click()
      await adminPage.locator('.msg[data-sender="user"]').filter({ hasText: 'look at my bill' }).waitFor()
      return adminPage
    }).then(async (adminPage) => {
      await step('the client sees the admin typing, then the reply, live', async () => {
        await adminPage.getByLabel('Message', { exact: true }).pressSequentially('Sure, ', { delay: 30 })
        await clientPage.getByText('Support team is typing…').waitFor({ timeout: 10_000 })
        await adminPage.getByLabel('Message', { exact: true }).pressSequentially('I am looking at it now.', { delay: 5 })
        await adminPage.keyboard.press('Enter')
        await clientPage.locator('.msg[data-sender="admin"]').filter({ hasText: 'I am looking at it now.' }).waitFor({ timeout: 20_000 })
        await assertNoReload(clientPage)
      })
      await step('the history survives a reload', async () => {
        await clientPage.reload()
        await clientPage.locator('.msg[data-sender="admin"]').filter({ hasText: 'I am looking at it now.' }).waitFor()
        await clientPage.locator('.msg[data-sender="bot"], .msg[data-sender="ai"]').first().waitFor()
      })
      const history = await api('GET', `/api/support/history?user_id=${(await api('GET', `/api/users?q=${clientName}`, { token: admin.access_token })).data.items[0].id}`, { token: admin.access_token, expect: 200 })
      if (history.data.total < 4) throw new Error(`history has ${history.data.total} messages`)
      assertClean(adminPage)
    })
    assertClean(clientPage)
  },

  /**
   * A client edits their profile and changes their password (a wrong current password is
   * shown on its field); an admin changes a role and a device limit, and deletes both after
   * confirming.
   */
  async 'profile-and-management'(browser) {
    const clientName = uniqueName('prof')
    await api('POST', '/api/auth/register', { body: { username: clientName, password: PASSWORD }, expect: 201 })
    const page = await newPage(browser, DESKTOP)
    await signIn(page, clientName, PASSWORD)
    const newPassword = 'changed-pass-5678'

    await step('the client edits name and email', async () => {
      await page.goto(BASE + '/profile')
      await page.getByLabel('Full name').fill('Profile Person')
      await page.getByLabel('Email').fill(`${clientName}@example.com`)
      await page.getByRole('button', { name: 'Save changes' }).click()
      await page.locator('.toast-success').filter({ hasText: 'Profile saved' }).waitFor()
      await page.reload()
      await until(async () => (await page.getByLabel('Full name').inputValue()) === 'Profile Person', { what: 'saved name' })
    })

    await step('a wrong current password is shown on its field; the right one changes it', async () => {
      await page.getByLabel('Current password').fill('not-my-password')
      await page.getByLabel('New password', { exact: true }).fill(newPassword)
      await page.getByLabel('Repeat new password').fill(newPassword)
      await page.getByRole('button', { name: 'Change password' }).click()
      await page.locator('#password-old_password-error').filter({ hasText: /wrong/i }).waitFor()
      await page.getByLabel('Current password').fill(PASSWORD)
      await page.getByRole('button', { name: 'Change password' }).click()
      await page.locator('.toast-success').filter({ hasText: 'Password changed' }).waitFor()
      // This session goes on with the tokens the change returned.
      await page.getByRole('link', { name: 'My devices' }).click()
      await page.getByRole('heading', { name: 'My devices' }).waitFor()
      await apiLogin(clientName, newPassword)
    })

    const adminPage = await newPage(browser, DESKTOP)
    await signIn(adminPage, ADMIN.username, ADMIN.password)
    await step("the server's refusal of a taken username is shown on the field", async () => {
      await adminPage.goto(BASE + '/admin/users')
      await adminPage.getByRole('button', { name: 'New user' }).click()
      const dialog = adminPage.getByRole('dialog')
      await dialog.getByLabel('Username').fill(clientName)
      await dialog.getByLabel('Initial password').fill(PASSWORD)
      await dialog.getByRole('button', { name: 'Create user' }).click()
      await dialog.locator('#user-username-error').filter({ hasText: /already taken/ }).waitFor()
      await dialog.getByRole('button', { name: 'Cancel' }).click()
      await dialog.waitFor({ state: 'hidden' })
    })

    await step('the admin edits the user and finds them by email', async () => {
      await adminPage.getByPlaceholder('Search by username, name or email').fill(`${clientName}@example`)
      await adminPage.getByRole('button', { name: `Edit ${clientName}` }).click()
      const dialog = adminPage.getByRole('dialog')
      await dialog.getByLabel('Email').fill('not an email')
      await dialog.getByRole('button', { name: 'Save changes' }).click()
      await dialog.getByText('Enter a valid email address.').waitFor()
      await dialog.getByLabel('Email').fill(`${clientName}@example.org`)
      await dialog.getByLabel('Full name').fill('Renamed By Admin')
      await dialog.getByRole('button', { name: 'Save changes' }).click()
      await dialog.waitFor({ state: 'hidden' })
      await adminPage.getByPlaceholder('Search by username, name or email').fill(clientName)
      await adminPage.getByRole('cell', { name: 'Renamed By Admin' }).waitFor()
    })

    await step('the admin changes a device limit, then deletes the device after confirming', async () => {
      const deviceName = uniqueName('Limit ')
      const admin = await apiLogin(ADMIN.username, ADMIN.password)
      await api('POST', '/api/devices', { token: admin.access_token, body: { name: deviceName, max_hourly_kwh: 2 }, expect: 201 })
      await adminPage.goto(BASE + '/admin/devices')
      await adminPage.getByPlaceholder('Search by name, address or meter id').fill(deviceName)
      await adminPage.getByRole('button', { name: `Edit ${deviceName}` }).click()
      const dialog = adminPage.getByRole('dialog')
      await dialog.getByLabel('Hourly limit (kWh)').fill('0')
      await dialog.getByRole('button', { name: 'Save changes' }).click()
      await dialog.getByText('Hourly limit must be greater than 0.').waitFor()
      await dialog.getByLabel('Hourly limit (kWh)').fill('3.5')
      await dialog.getByRole('button', { name: 'Save changes' }).click()
      await dialog.waitFor({ state: 'hidden' })
      await adminPage.getByRole('row', { name: new RegExp(deviceName) }).getByText('3.50 kWh').waitFor()
      await adminPage.getByRole('button', { name: `Delete ${deviceName}` }).click()
      await adminPage.getByRole('dialog').getByRole('button', { name: 'Delete device' }).click()
      await adminPage.getByText(`No device matches “${deviceName}”`).waitFor()
    })

    await step('the admin deletes the user after confirming; their session ends', async () => {
      await adminPage.goto(BASE + '/admin/users')
      await adminPage.getByPlaceholder('Search by username, name or email').fill(clientName)
      await adminPage.getByRole('button', { name: `Delete ${clientName}` }).click()
      const confirm = adminPage.getByRole('dialog')
      await confirm.getByText('This cannot be undone.').waitFor()
      await confirm.getByRole('button', { name: 'Delete user' }).click()
      await adminPage.getByText(`No user matches “${clientName}”`).waitFor()
      // The deleted client's open app is sent to the sign-in page (socket closed with 4403).
      await page.getByTestId('session-notice').waitFor({ timeout: 20_000 })
    })
    assertClean(page)
    assertClean(adminPage)
  },

  /**
   * An admin creates a tariff whose night band wraps midnight and gives it to a device with
   * the meter id its readings carry; a client in Bucharest sets their time zone in the
   * profile (searched, then the browser's own) and finds it there after a reload.
   */
  async 'tariff-meter-and-time-zone'(browser) {
    const adminPage = await newPage(browser, DESKTOP)
    await signIn(adminPage, ADMIN.username, ADMIN.password)
    const tariffName = uniqueName('Night saver ')
    const meterId = uniqueName('m')
    const admin = await apiLogin(ADMIN.username, ADMIN.password)
    const deviceName = uniqueName('Boiler ')
    const device = (await api('POST', '/api/devices', { token: admin.access_token, body: { name: deviceName, max_hourly_kwh: 2 }, expect: 201 })).data

    await step('the admin creates a tariff with a band from 22:00 to 06:00', async () => {
      await adminPage.getByRole('link', { name: 'Tariffs', exact: true }).click()
      await adminPage.getByRole('heading', { name: 'Tariffs', exact: true }).waitFor()
      await adminPage.getByRole('button', { name: 'New tariff' }).click()
      const dialog = adminPage.getByRole('dialog')
      await dialog.getByLabel('Name').fill(tariffName)
      await dialog.getByLabel('Currency').fill('RON')
      await dialog.getByLabel(/Price per kWh \(RON\)/).fill('0.8')
      await dialog.getByRole('button', { name: 'Add band' }).click()
      await dialog.getByLabel('Band 1 From').fill('22:00')
      await dialog.getByLabel('Band 1 To').fill('06:00')
      await dialog.getByLabel('Band 1 Price per kWh').fill('0.35')
      await dialog.getByText('Runs past midnight, to 06:00 the next day.').waitFor()
      // A second band inside the first is refused by the server, on the bands.
      await dialog.getByRole('button', { name: 'Add band' }).click()
      await dialog.getByLabel('Band 2 From').fill('05:00')
      await dialog.getByLabel('Band 2 To').fill('07:00')
      await dialog.getByLabel('Band 2 Price per kWh').fill('0.5')
      await dialog.getByRole('button', { name: 'Create tariff' }).click()
      await dialog.locator('#tariff-bands-error').filter({ hasText: 'Band 2 (05:00-07:00) overlaps band 1 (22:00-06:00).' }).waitFor()
      await dialog.getByRole('button', { name: 'Remove band 2' }).click()
      await dialog.getByRole('button', { name: 'Create tariff' }).click()
      await dialog.waitFor({ state: 'hidden' })
      await adminPage.getByPlaceholder('Search by name or currency').fill(tariffName)
      await adminPage.getByRole('row', { name: new RegExp(tariffName) }).getByText('22:00–06:00 · 0.35 RON').waitFor()
    })

    await step('the admin gives the tariff and a meter id to a device', async () => {
      await adminPage.getByRole('link', { name: 'Devices', exact: true }).click()
      await adminPage.getByPlaceholder('Search by name, address or meter id').fill(deviceName)
      await adminPage.getByRole('button', { name: `Edit ${deviceName}` }).click()
      const dialog = adminPage.getByRole('dialog')
      await dialog.getByLabel(/Tariff/).selectOption({ label: `${tariffName} · 0.8 RON` })
      await dialog.getByLabel(/Meter id/).fill(meterId)
      await dialog.getByRole('button', { name: 'Save changes' }).click()
      await dialog.waitFor({ state: 'hidden' })
      const row = adminPage.getByRole('row', { name: new RegExp(deviceName) })
      await row.getByText(`Meter ${meterId}`).waitFor()
      await row.getByText(tariffName).waitFor()
      const saved = (await api('GET', `/api/devices/${device.id}`, { token: admin.access_token, expect: 200 })).data
      const tariff = (await api('GET', `/api/tariffs?q=${encodeURIComponent(tariffName)}`, { token: admin.access_token, expect: 200 })).data.items[0]
      if (saved.meter_id !== meterId || saved.tariff_id !== tariff.id) throw new Error(`device saved as ${JSON.stringify(saved)}`)
      if (JSON.stringify(tariff.bands) !== JSON.stringify([{ start: '22:00', end: '06:00', price_per_kwh: 0.35 }])) {
        throw new Error(`tariff saved as ${JSON.stringify(tariff)}`)
      }
      // The device is found by the id its meter sends.
      await adminPage.getByPlaceholder('Search by name, address or meter id').fill(meterId)
      await adminPage.getByRole('row', { name: new RegExp(deviceName) }).waitFor()
    })

    const clientName = uniqueName('tz')
    await api('POST', '/api/users', { token: admin.access_token, body: { username: clientName, password: PASSWORD, role: 'CLIENT' }, expect: 201 })
    const page = await newPage(browser, PHONE, { timezoneId: 'Europe/Bucharest' })
    await signIn(page, clientName, PASSWORD)
    const shown = () => page.getByTestId('time-zone').textContent()

    await step('the client picks a zone by searching, saves it, and sees it after a reload', async () => {
      await page.goto(BASE + '/profile')
      await until(async () => (await shown()) === 'UTC', { what: 'the profile in UTC' })
      await page.getByLabel('Another zone').fill('new york')
      await page.getByRole('list', { name: 'Time zones' }).getByRole('button', { name: /America\/New_York/ }).click()
      await page.getByRole('button', { name: 'Save time zone' }).click()
      await page.locator('.toast-success').filter({ hasText: 'Time zone saved' }).waitFor()
      await page.reload()
      await until(async () => (await shown()) === 'America/New_York', { what: 'New York after the reload' })
    })

    await step("the client takes the browser's own zone instead", async () => {
      await page.getByRole('button', { name: 'Use this browser’s zone (Europe/Bucharest)' }).click()
      await page.getByRole('button', { name: 'Save time zone' }).click()
      await page.locator('.toast-success').filter({ hasText: 'Time zone saved' }).waitFor()
      await page.reload()
      await until(async () => (await shown()) === 'Europe/Bucharest', { what: 'Bucharest after the reload' })
      await page.getByRole('button', { name: /Use this browser’s zone/ }).waitFor({ state: 'detached' })
      const token = await page.evaluate(() => JSON.parse(localStorage.getItem('ems.session')).accessToken)
      const me = await api('GET', '/api/users/me', { token, expect: 200 })
      if (me.data.time_zone !== 'Europe/Bucharest') throw new Error(`profile holds ${me.data.time_zone}`)
    })
    assertClean(page, { console: true })
    // The overlapping band was refused on purpose: the browser logs that 422.
    assertClean(adminPage)
  },

  /**
   * A client in Bucharest whose meter has a tariff with a night band: the spring
   * daylight-saving day shows its 23 local hours (and the autumn one its 25), each priced by
   * the band its local hour falls in; the comparison with the day before and the year before
   * shows the API's figures; the month so far is the API's.
   */
  async 'bucharest-dst-cost-compare'(browser) {
    const admin = await apiLogin(ADMIN.username, ADMIN.password)
    const { client, device } = await clientWithDevice(admin.access_token, {
      prefix: 'buc',
      timeZone: 'Europe/Bucharest',
      tariff: { price_per_kwh: 1, bands: [{ start: '22:00', end: '06:00', price_per_kwh: 0.5 }] },
    })
    const hourly = (startUtc, hours, kwh) =>
      Array.from({ length: hours }, (_, i) => ({ device_id: device.id, timestamp: new Date(Date.parse(startUtc) + i * 3_600_000 + 1_800_000).toISOString(), measurement_value: kwh }))
    await step('readings of the daylight-saving days, the day before and a year before', async () => {
      // The month so far is checked a minute or two later: not in the last minutes of a
      // Bucharest month.
      await clearOfBoundary(monthIn('Europe/Bucharest'), 120_000)
      await publishReadings([
        // 29 March 2026 in Bucharest: 00:00 local is 22:00 UTC the day before; 23 hours.
        ...hourly('2026-03-28T22:00:00Z', 23, 1),
        // The day before: 24 hours of 0.5 kWh.
        ...hourly('2026-03-27T22:00:00Z', 24, 0.5),
        // 29 March 2025 (a plain day then): 24 hours of 0.25 kWh.
        ...hourly('2025-03-28T22:00:00Z', 24, 0.25),
        // 25 October 2026: 03:00 comes twice; 25 hours.
        ...hourly('2026-10-24T21:00:00Z', 25, 0.4),
        // This month, so that there is a month so far (now: a minute ago is last month in the
        // first minute of a Bucharest month).
        { device_id: device.id, timestamp: new Date().toISOString(), measurement_value: 2 },
      ])
    })
    const token = client.token
    const day = await step('the API prices the day by the band of each local hour', async () =>
      until(
        async () => {
          const { data } = await api('GET', `/api/consumption/day?date=2026-03-29&device_id=${device.id}`, { token: await token(), expect: 200 })
          if (data.total_kwh === 23 && data.total_cost === 19.5) return data
          throw new Error(`${data.hours.length} hours, ${data.total_kwh} kWh, ${data.total_cost} ${data.currency}`)
        },
        { timeout: 30_000, what: 'the day priced: 7 night hours at 0.5, 16 day hours at 1' },
      ),
    )
    if (day.hours.length !== 23 || day.time_zone !== 'Europe/Bucharest' || day.currency !== 'RON') throw new Error(`day: ${JSON.stringify(day).slice(0, 300)}`)

    const page = await newPage(browser, DESKTOP, { timezoneId: 'Europe/Bucharest' })
    await signIn(page, client.username, PASSWORD)
    await step('the chart shows 23 local hours, 03:00 skipped, with the cost of each', async () => {
      await page.goto(`${BASE}/consumption?device=${device.id}&date=2026-03-29`)
      await until(async () => (await page.locator('.chart-bar').count()) === 23, { what: '23 bars' })
      await until(async () => (await statTotal(page)) === '23.0 kWh', { what: 'the total' })
      await until(async () => norm(await page.getByTestId('stat-cost').textContent()) === 'RON 19.50', { what: 'the cost' })
      await page.getByTestId('dst-note').filter({ hasText: 'This day had 23 hours in Europe/Bucharest' }).waitFor()
      const axis = await page.locator('.chart-xlabel').allTextContents()
      if (axis.includes('03')) throw new Error(`the axis shows 03: ${axis}`)
      const rows = (await page.locator('.sr-only table tr').allTextContents()).map(norm)
      if (rows.length !== 23) throw new Error(`${rows.length} rows`)
      if (rows[2] !== '02:00–04:00 (UTC+02:00)1.00 kWhRON 0.50') throw new Error(`row 2: ${rows[2]}`)
      if (rows[12] !== '13:00–14:00 (UTC+03:00)1.00 kWhRON 1.00') throw new Error(`row 12: ${rows[12]}`)
      // The tooltip of a bar: its local hour, kWh and cost.
      const bar = page.locator('.chart-bar').nth(21)
      await bar.hover({ force: true })
      const tip = norm(await page.locator('.chart-tip').textContent())
      if (tip !== '22:00–23:00 (UTC+03:00)1.00 kWhRON 0.50') throw new Error(`tooltip: ${tip}`)
      await saveShot(page, 'bucharest-dst-spring')
    })

    await step("the comparison shows the API's figures", async () => {
      const { data: compare } = await api('GET', `/api/consumption/compare?period=day&date=2026-03-29&device_id=${device.id}`, { token: await token(), expect: 200 })
      if (compare.previous.kwh !== 12 || compare.year_before.kwh !== 6) throw new Error(`compare: ${JSON.stringify(compare)}`)
      await until(async () => (await page.getByTestId('compare-previous-kwh').textContent()) === kwhText(compare.previous.kwh), { what: 'the previous day' })
      await until(async () => (await page.getByTestId('compare-previous-pct').textContent()) === changeText(compare.change_vs_previous_pct), { what: 'the change' })
      await until(async () => (await page.getByTestId('compare-year-kwh').textContent()) === kwhText(compare.year_before.kwh), { what: 'a year before' })
      await until(async () => (await page.getByTestId('compare-year-pct').textContent()) === changeText(compare.change_vs_year_before_pct), { what: 'the change on the year' })
      if (changeText(compare.change_vs_previous_pct) !== '+91.7%') throw new Error(`change ${compare.change_vs_previous_pct}`)
      // The week of that day, against the week before.
      await page.getByRole('button', { name: 'Week', exact: true }).click()
      const { data: week } = await api('GET', `/api/consumption/compare?period=week&date=2026-03-29&device_id=${device.id}`, { token: await token(), expect: 200 })
      await until(async () => (await page.getByTestId('compare-previous-kwh').textContent()) === kwhText(week.previous.kwh), { what: 'the week before' })
      await until(async () => (await page.getByTestId('compare-previous-pct').textContent()) === changeText(week.change_vs_previous_pct), { what: "the week's change" })
    })

    await step("the month so far is the API's", async () => {
      const { data: month } = await api('GET', `/api/consumption/month-to-date?device_id=${device.id}`, { token: await token(), expect: 200 })
      await until(async () => (await page.getByTestId('mtd-kwh').textContent()) === kwhText(month.kwh), { what: 'the month so far' })
      if (month.kwh < 2) throw new Error(`month so far: ${JSON.stringify(month)}`)
    })

    await step('the autumn daylight-saving day shows its 25 hours, 03:00 twice', async () => {
      await page.goto(`${BASE}/consumption?device=${device.id}&date=2026-10-25`)
      await until(async () => (await page.locator('.chart-bar').count()) === 25, { what: '25 bars' })
      await until(async () => (await statTotal(page)) === '10.0 kWh', { what: 'the total of 25 hours' })
      const rows = (await page.locator('.sr-only table tr').allTextContents()).map(norm)
      if (!rows[3].startsWith('03:00–03:00 (UTC+03:00)') || !rows[4].startsWith('03:00–04:00 (UTC+02:00)')) throw new Error(`rows: ${rows.slice(2, 6)}`)
      await saveShot(page, 'bucharest-dst-autumn')
    })
    assertClean(page, { console: true })
  },

  /**
   * A meter that stops sending goes silent: its owner gets a toast, the device shows a silent
   * badge, the alert list says so and the admin overview lists it; its next reading ends the
   * episode and says so.
   */
  async 'silent-meter-and-recovery'(browser) {
    const admin = await apiLogin(ADMIN.username, ADMIN.password)
    const { client, device } = await clientWithDevice(admin.access_token, { prefix: 'sil', silenceMinutes: 1 })
    await publishReadings([{ device_id: device.id, timestamp: new Date().toISOString(), measurement_value: 0.1 }])
    const page = await newPage(browser, DESKTOP)
    await signIn(page, client.username, PASSWORD)
    const adminPage = await newPage(browser, DESKTOP)
    await signIn(adminPage, ADMIN.username, ADMIN.password)
    const card = page.getByTestId(`device-${device.id}`)

    await step('the meter has sent: its last reading is shown, no badge', async () => {
      await page.goto(BASE + '/devices')
      await until(async () => /just now|min ago/.test((await card.getByTestId('last-seen').textContent()) ?? ''), { what: 'last reading' })
      if (await card.getByTestId('silent-badge').count()) throw new Error('silent already')
      await markDocument(page)
    })

    await step('after a minute without readings: a toast, a silent badge, the overview lists it', async () => {
      await page.locator('.toast-alert').filter({ hasText: 'Meter silent' }).waitFor({ timeout: 150_000 })
      await card.getByTestId('silent-badge').waitFor({ timeout: 10_000 })
      await assertNoReload(page)
      await until(async () => (await adminPage.getByTestId('silent-meters').textContent().catch(() => ''))?.includes(device.name), {
        timeout: 30_000,
        what: 'the overview lists the silent meter (refreshing by itself)',
      })
    })

    await step('the alert list shows the silent meter, unread', async () => {
      await page.getByRole('link', { name: /Alerts/ }).filter({ hasText: '1' }).first().waitFor()
      await page.getByRole('link', { name: /Alerts/ }).first().click()
      const row = page.locator('.alert-row[data-kind="silent"]').filter({ hasText: device.name })
      await row.filter({ hasText: 'New' }).waitFor()
      await row.locator('.tag-warn').filter({ hasText: 'Silent' }).waitFor()
      await markDocument(page)
    })

    await step('its next reading ends the episode: a toast, the alert says it is back', async () => {
      await publishReadings([{ device_id: device.id, timestamp: new Date().toISOString(), measurement_value: 0.1 }])
      await page.locator('.toast-alert').filter({ hasText: 'Meter back' }).waitFor({ timeout: 30_000 })
      const row = page.locator('.alert-row[data-kind="silent"]').filter({ hasText: device.name })
      await row.locator('.tag-ok').filter({ hasText: 'Back' }).waitFor({ timeout: 15_000 })
      await assertNoReload(page)
      await saveShot(page, 'silent-meter-back')
      await page.goto(BASE + '/devices')
      await until(async () => /just now|min ago/.test((await card.getByTestId('last-seen').textContent()) ?? ''), { what: 'last reading' })
      if (await card.getByTestId('silent-badge').count()) throw new Error('still silent')
      const { data: alerts } = await api('GET', `/api/consumption/alerts?kind=silent&device_id=${device.id}`, { token: await client.token(), expect: 200 })
      if (alerts.total !== 1 || !alerts.items[0].ended_at) throw new Error(`alerts: ${JSON.stringify(alerts)}`)
    })
    assertClean(page, { console: true })
    assertClean(adminPage, { console: true })
  },

  /**
   * The unread count is the server's: two tabs and a second browser agree, marking one read
   * in one tab lowers the badge everywhere without a reload, and so does "mark all read".
   */
  async 'unread-across-tabs'(browser) {
    const admin = await apiLogin(ADMIN.username, ADMIN.password)
    const { client, device } = await clientWithDevice(admin.access_token, { prefix: 'tabs', limit: 1 })
    const hour = new Date()
    hour.setUTCMinutes(0, 0, 0)
    // Two hours over the limit: two alerts.
    await publishReadings([
      { device_id: device.id, timestamp: new Date(hour.getTime() - 3_600_000 + 60_000).toISOString(), measurement_value: 2 },
      { device_id: device.id, timestamp: new Date(hour.getTime() + 60_000).toISOString(), measurement_value: 2 },
    ])
    await until(async () => (await api('GET', '/api/consumption/alerts/unread-count', { token: await client.token(), expect: 200 })).data.count === 2, {
      timeout: 20_000,
      what: 'two unread alerts',
    })
    const tabA = await newPage(browser, DESKTOP)
    await signIn(tabA, client.username, PASSWORD)
    const tabB = await tabA.context().newPage()
    tabB.errors = []
    tabB.consoleErrors = []
    tabB.outside = []
    tabB.on('pageerror', (error) => tabB.errors.push(String(error)))
    await tabB.goto(BASE + '/devices')
    const other = await newPage(browser, PHONE)
    await signIn(other, client.username, PASSWORD)
    const bell = (page) => page.locator('.topbar-bell')
    const bellSays = (page, count) =>
      until(async () => (await bell(page).getAttribute('aria-label')) === (count ? `Alerts, ${count} unread` : 'Alerts'), { timeout: 15_000, what: `${count} unread` })

    await step('every tab and browser shows 2 unread', async () => {
      for (const page of [tabA, tabB, other]) await bellSays(page, 2)
      await markDocument(tabB)
      await markDocument(other)
    })
    await step('marking one read in one tab lowers the count in the others, without a reload', async () => {
      await tabA.goto(BASE + '/alerts')
      await tabA.getByRole('button', { name: /^Mark read:/ }).first().click()
      for (const page of [tabA, tabB, other]) await bellSays(page, 1)
      await assertNoReload(tabB)
      await assertNoReload(other)
    })
    await step('"mark all read" in the other browser clears every badge', async () => {
      await other.goto(BASE + '/alerts')
      await other.getByRole('button', { name: 'Mark all read' }).click()
      for (const page of [tabA, tabB, other]) await bellSays(page, 0)
      await assertNoReload(tabB)
      await tabA.locator('.alert-row.unread').first().waitFor({ state: 'detached' })
      const { data } = await api('GET', '/api/consumption/alerts/unread-count', { token: await client.token(), expect: 200 })
      if (data.count !== 0) throw new Error(`server says ${data.count} unread`)
    })
    assertClean(tabA)
    assertClean(other)
  },

  /**
   * An admin lands on the overview: today's figures and top consumers follow the readings by
   * themselves, a device over its limit this hour is listed, and alerts arrive as one digest
   * toast, not one toast each.
   */
  async 'admin-overview'(browser) {
    const admin = await apiLogin(ADMIN.username, ADMIN.password)
    const { device } = await clientWithDevice(admin.access_token, { prefix: 'ovw', limit: 1 })
    const page = await newPage(browser, DESKTOP)
    await step('the admin lands on the overview', async () => {
      await signIn(page, ADMIN.username, ADMIN.password)
      await until(() => page.evaluate(() => location.pathname === '/admin/overview'), { what: 'the overview URL' })
      await page.getByRole('heading', { name: 'Overview', exact: true }).waitFor()
      await page.getByTestId('overview-today-kwh').waitFor()
      await markDocument(page)
    })
    await step('a big consumer appears on top and over its limit, without a reload', async () => {
      // "Over its limit this hour" and today's top are the server's clock's when the page
      // refreshes, up to 45 s later: not a reading of an hour about to end.
      await clearOfBoundary(utcHour, 60_000)
      await publishReadings([{ device_id: device.id, timestamp: new Date().toISOString(), measurement_value: 900 }])
      await until(async () => (await page.getByTestId('top-consumers').locator('li').first().textContent())?.includes(device.name), {
        timeout: 30_000,
        what: 'the device first among the top consumers',
      })
      await page.getByTestId('over-limit').filter({ hasText: device.name }).waitFor({ timeout: 15_000 })
      await assertNoReload(page)
    })
    await step("today's kWh and readings per second are the API's", async () => {
      await until(
        async () => {
          const { data } = await api('GET', '/api/consumption/overview', { token: (await apiLogin(ADMIN.username, ADMIN.password)).access_token, expect: 200 })
          return (await page.getByTestId('overview-today-kwh').textContent()) === kwhText(data.today_kwh)
        },
        { timeout: 30_000, what: "the overview's kWh equals the API's" },
      )
    })
    await step('the alert arrives as a digest toast, not a toast of its own', async () => {
      await page.locator('.toast-alert').filter({ hasText: /new alerts? across the fleet/ }).waitFor({ timeout: 90_000 })
      const toasts = await page.locator('.toast-alert').allTextContents()
      if (toasts.some((t) => t.includes('Hourly limit exceeded'))) throw new Error(`a toast per alert: ${toasts}`)
      await saveShot(page, 'admin-overview-live')
    })
    assertClean(page, { console: true })
  },

  /**
   * Tokens are refreshed silently while the session lasts; once the server ends it (the
   * refresh token is revoked) the next expiry logs the user out with a notice.
   */
  async 'session-expiry'(browser) {
    const clientName = uniqueName('exp')
    await api('POST', '/api/auth/register', { body: { username: clientName, password: PASSWORD }, expect: 201 })
    const page = await newPage(browser, DESKTOP)
    await signIn(page, clientName, PASSWORD)
    const session = () => page.evaluate(() => JSON.parse(localStorage.getItem('ems.session') ?? 'null'))
    const first = await session()

    await step('the access token is renewed silently before it expires', async () => {
      await until(async () => (await session())?.accessToken !== first.accessToken, {
        timeout: TOKEN_TTL_S * 1000 + 10_000,
        what: 'a rotated token',
      })
      // Past the first token's expiry, the app still works without a new sign-in.
      await until(() => Date.now() > first.expiresAt + 1000, { timeout: TOKEN_TTL_S * 1000 + 5000, interval: 250, what: 'the first token to expire' })
      await page.getByRole('link', { name: 'My devices' }).click()
      await page.getByRole('heading', { name: 'My devices' }).waitFor()
      await page.getByText('No meters on your account yet').waitFor()
      await until(() => page.getByText('Live updates on').isVisible(), { what: 'the socket is still up' })
    })

    await step('when the server ends the session, the app logs out at the next expiry', async () => {
      const current = await session()
      await api('POST', '/api/auth/logout', { body: { refresh_token: current.refreshToken }, expect: 204 })
      await page.getByTestId('session-notice').waitFor({ timeout: TOKEN_TTL_S * 1000 + 15_000 })
      const notice = await page.getByTestId('session-notice').textContent()
      if (!/expired/.test(notice)) throw new Error(`notice says: ${notice}`)
      await page.getByRole('heading', { name: 'Sign in' }).waitFor()
      if ((await session()) !== null) throw new Error('the session is still stored')
    })
    assertClean(page)
  },
}

async function main() {
  const name = process.argv[2]
  const flow = flows[name]
  if (!flow) {
    console.error(`usage: node flows.mjs <${Object.keys(flows).join('|')}>`)
    process.exit(2)
  }
  console.log(`flow ${name}`)
  const browser = await launch()
  try {
    await flow(browser)
  } catch (error) {
    await captureFailure(name)
    throw error
  } finally {
    await browser.close()
  }
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
