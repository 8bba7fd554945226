// Demo data for screenshots and flows: clients, devices, a week of realistic readings, alerts
// and a support conversation — all through the public API and the broker, as a user would.

import { ADMIN, api, apiLogin, publishReadings, until } from './lib.mjs'

export const PASSWORD = 'e2e-pass-1234'

/** The user with this username, created (with these fields) if missing. */
export async function ensureUser(adminToken, { username, role = 'CLIENT', full_name = null, email = null, password = PASSWORD }) {
  const found = await api('GET', `/api/users?q=${encodeURIComponent(username)}&size=100`, { token: adminToken, expect: 200 })
  const existing = found.data.items.find((u) => u.username === username)
  if (existing) return existing
  return (await api('POST', '/api/users', { token: adminToken, body: { username, password, role, full_name, email }, expect: 201 })).data
}

/** The device with this name, created (and assigned) if missing. */
export async function ensureDevice(adminToken, { name, description = null, address = null, max_hourly_kwh, owner_id = null, ...more }) {
  const found = await api('GET', `/api/devices?q=${encodeURIComponent(name)}&size=100`, { token: adminToken, expect: 200 })
  const existing = found.data.items.find((d) => d.name === name)
  if (existing) return existing
  return (await api('POST', '/api/devices', { token: adminToken, body: { name, description, address, max_hourly_kwh, owner_id, ...more }, expect: 201 })).data
}

/** The tariff with this name, created if missing. */
export async function ensureTariff(adminToken, { name, currency = 'RON', price_per_kwh, bands = [] }) {
  const found = await api('GET', `/api/tariffs?q=${encodeURIComponent(name)}&size=100`, { token: adminToken, expect: 200 })
  const existing = found.data.items.find((t) => t.name === name)
  if (existing) return existing
  return (await api('POST', '/api/tariffs', { token: adminToken, body: { name, currency, price_per_kwh, bands }, expect: 201 })).data
}

/** Wait until monitoring knows the device (its copy comes from `device.created`). */
export async function monitoringKnows(adminToken, deviceId) {
  const today = new Date().toISOString().slice(0, 10)
  await until(async () => (await api('GET', `/api/consumption/day?device_id=${deviceId}&date=${today}`, { token: adminToken })).status === 200, {
    timeout: 20_000,
    what: `monitoring knows device ${deviceId}`,
  })
}

/**
 * kWh used in one 10-minute interval: low at night, morning and evening peaks, some noise;
 * `scale` is roughly the evening peak's kWh per hour divided by 0.3.
 */
export function intervalKwh(at, scale, seed) {
  const h = at.getUTCHours() + at.getUTCMinutes() / 60
  const weekend = [0, 6].includes(at.getUTCDay()) ? 1.15 : 1
  const morning = Math.exp(-((h - 7.5) ** 2) / 2.5)
  const evening = 1.6 * Math.exp(-((h - 19) ** 2) / 4)
  const noise = 0.85 + 0.3 * pseudoRandom(at.getTime() / 600_000 + seed)
  return Math.round((scale / 6) * (0.05 + 0.12 * morning + 0.16 * evening) * weekend * noise * 1e4) / 1e4
}

function pseudoRandom(x) {
  const s = Math.sin(x * 12.9898) * 43758.5453
  return s - Math.floor(s)
}

/** Readings every 10 minutes from `days` ago (midnight UTC) until now. */
export function readingsFor(deviceId, { days, scale, seed = 0, until: end = new Date() }) {
  const start = new Date(Date.UTC(end.getUTCFullYear(), end.getUTCMonth(), end.getUTCDate() - days))
  const readings = []
  for (let t = start.getTime(); t <= end.getTime(); t += 600_000) {
    const at = new Date(t)
    readings.push({ device_id: deviceId, timestamp: at.toISOString(), measurement_value: intervalKwh(at, scale, seed) })
  }
  return readings
}

/** The last Sunday of October before today: the EU's autumn daylight-saving day (25 hours). */
export const AUTUMN_DST = (() => {
  const now = new Date()
  for (let year = now.getUTCFullYear(); ; year--) {
    const last = new Date(Date.UTC(year, 9, 31))
    last.setUTCDate(31 - last.getUTCDay())
    if (last.getTime() < now.getTime() - 86_400_000) return last.toISOString().slice(0, 10)
  }
})()

/** The demo world the screenshots show. Idempotent against a long-lived stack. */
export async function seedDemo() {
  const admin = await apiLogin(ADMIN.username, ADMIN.password)
  const token = admin.access_token
  const ana = await ensureUser(token, { username: 'ana.popescu', full_name: 'Ana Popescu', email: 'ana.popescu@example.com' })
  // Ana lives in Cluj: her days, hours and tariff bands are Romania's.
  if (ana.time_zone !== 'Europe/Bucharest') await api('PATCH', `/api/users/${ana.id}`, { token, body: { time_zone: 'Europe/Bucharest' }, expect: 200 })
  for (const [username, full_name] of [
    ['mihai.ionescu', 'Mihai Ionescu'],
    ['elena.dumitru', 'Elena Dumitru'],
    ['andrei.stan', 'Andrei Stan'],
    ['ioana.marin', 'Ioana Marin'],
  ]) {
    await ensureUser(token, { username, full_name, email: `${username}@example.com` })
  }
  await ensureUser(token, { username: 'support.lead', role: 'ADMIN', full_name: 'Support Lead', email: 'support@example.com' })
  const mihai = await ensureUser(token, { username: 'mihai.ionescu' })

  const dayNight = await ensureTariff(token, {
    name: 'Day & night',
    price_per_kwh: 1.12,
    bands: [{ start: '22:00', end: '06:00', price_per_kwh: 0.62 }],
  })
  await ensureTariff(token, {
    name: 'Three-rate',
    price_per_kwh: 0.98,
    bands: [
      { start: '07:00', end: '10:00', price_per_kwh: 1.35 },
      { start: '17:00', end: '21:00', price_per_kwh: 1.49 },
      { start: '23:00', end: '05:00', price_per_kwh: 0.55 },
    ],
  })
  await ensureTariff(token, { name: 'Flat business', currency: 'EUR', price_per_kwh: 0.231 })

  const kitchen = await ensureDevice(token, {
    name: 'Kitchen meter',
    description: 'Oven, fridge and dishwasher',
    address: 'Str. Lalelelor 12, Cluj-Napoca',
    max_hourly_kwh: 1.6,
    owner_id: ana.id,
    tariff_id: dayNight.id,
    meter_id: '7',
  })
  const heatPump = await ensureDevice(token, {
    name: 'Heat pump',
    description: 'Air-to-water, ground floor',
    address: 'Str. Lalelelor 12, Cluj-Napoca',
    max_hourly_kwh: 2.5,
    owner_id: ana.id,
  })
  const workshop = await ensureDevice(token, { name: 'Workshop', description: 'Garage tools', address: 'Calea Turzii 80, Cluj-Napoca', max_hourly_kwh: 4, owner_id: mihai.id })
  await ensureDevice(token, { name: 'Spare meter #7', description: 'In stock, not installed', max_hourly_kwh: 3 })
  // A meter that stops sending: a minute after its readings it is "silent".
  const gardenPump = await ensureDevice(token, {
    name: 'Garden pump',
    description: 'Irrigation, back garden',
    address: 'Str. Lalelelor 12, Cluj-Napoca',
    max_hourly_kwh: 1.2,
    owner_id: ana.id,
    tariff_id: dayNight.id,
    silence_minutes: 1,
  })

  for (const device of [kitchen, heatPump, workshop, gardenPump]) await monitoringKnows(token, device.id)
  // One clock reading for the readings' end and the last day they are checked to: read twice,
  // they could fall either side of a midnight, the last readings then outside the checked days.
  const end = new Date()
  const today = end.toISOString().slice(0, 10)
  const existing = await api('GET', `/api/consumption/day?device_id=${kitchen.id}&date=${today}`, { token })
  if (existing.data.total_kwh === 0) {
    // Back to the last autumn daylight-saving day at least (its 25 hours are a screenshot).
    const days = Math.max(40, Math.ceil((Date.now() - Date.parse(`${AUTUMN_DST}T00:00:00Z`)) / 86_400_000) + 2)
    const history = {
      [kitchen.id]: readingsFor(kitchen.id, { days, scale: 5.5, seed: 1, until: end }),
      [heatPump.id]: readingsFor(heatPump.id, { days, scale: 7, seed: 2, until: end }),
      [workshop.id]: readingsFor(workshop.id, { days: 3, scale: 8, seed: 3, until: end }),
      [gardenPump.id]: readingsFor(gardenPump.id, { days: 1, scale: 2, seed: 4, until: end }),
    }
    await publishReadings(Object.values(history).flat())
    // The pictures show the whole history: wait until monitoring has counted every reading.
    for (const [id, readings] of Object.entries(history)) {
      const expected = readings.reduce((sum, r) => sum + r.measurement_value, 0)
      const start = readings[0].timestamp.slice(0, 10)
      await until(
        async () => {
          const fresh = (await apiLogin(ADMIN.username, ADMIN.password)).access_token
          const url = `/api/consumption/range?device_id=${id}&start=${start}&end=${today}&bucket=day&tz=UTC`
          const { data } = await api('GET', url, { token: fresh, expect: 200 })
          return Math.abs(data.total_kwh - expected) < 1e-3
        },
        { timeout: 120_000, interval: 1000, what: `monitoring has every reading of ${id}` },
      )
    }
  }
  return { admin, ana, mihai, kitchen, heatPump, workshop, gardenPump }
}
