import { describe, expect, it } from 'vitest'
import { ApiClient } from '../api/client'
import { MemorySessionStore } from '../api/session'
import { json, scriptedFetch } from '../test/fakes'
import { applyUpdate, bucketLabel, elapsedBuckets, hourTitle, loadSeries, seriesCsv, totalCosts, totalSeries, type SeriesData } from './consumption'
import { hoursOf } from './dates'
import { AUTUMN_BUCHAREST, SPRING_BUCHAREST } from '../test/zones'

function day(deviceId: string | null, date: string, hours: readonly string[], kwh: (i: number) => number, price: number | null, currency: string | null = 'RON') {
  const list = hours.map((hour, i) => ({ hour, kwh: kwh(i), cost: price === null ? null : Math.round(kwh(i) * price * 1e4) / 1e4 }))
  const total = list.reduce((a, h) => a + h.kwh, 0)
  return {
    device_id: deviceId,
    date,
    time_zone: 'Europe/Bucharest',
    unit: 'kWh',
    currency: price === null ? null : currency,
    hours: list,
    total_kwh: total,
    total_cost: price === null ? null : Math.round(total * price * 1e4) / 1e4,
  }
}

function api(routes: Parameters<typeof scriptedFetch>[0]) {
  const session = { accessToken: 'A', refreshToken: 'R', expiresAt: Date.now() + 600_000, user: { id: 'u', username: 'u', role: 'CLIENT' as const } }
  const fake = scriptedFetch(routes)
  return { api: new ApiClient({ store: new MemorySessionStore(session), fetch: fake.fetch, lock: (_, t) => t() }), calls: fake.calls }
}

const param = (url: string, name: string) => new URL(url, 'http://x').searchParams.get(name)

describe('loading a period', () => {
  it('keeps the 23 hours of a spring daylight-saving day as the server cut them, with costs', async () => {
    const { api: client, calls } = api({
      'GET /api/consumption/day': (call) =>
        json(200, param(call.url, 'device_id') === 'd1' ? day('d1', '2026-03-29', SPRING_BUCHAREST, (i) => (i === 3 ? 2 : 0.5), 0.8) : day('d2', '2026-03-29', SPRING_BUCHAREST, () => 0.25, null)),
    })
    const data = await loadSeries(client, ['d1', 'd2'], 'day', '2026-03-29', { tz: 'Europe/Bucharest' })
    expect(param(calls[0].url, 'tz')).toBe('Europe/Bucharest')
    expect(data.starts).toHaveLength(23)
    expect(data.timeZone).toBe('Europe/Bucharest')
    expect(data.starts.map((s) => bucketLabel('hour', s)).slice(0, 5)).toEqual(['00', '01', '02', '04', '05'])
    // The hour after 02:00 is 04:00: the tooltip says so.
    expect(hourTitle(data.starts, 2)).toBe('02:00–04:00 (UTC+02:00)')
    expect(totalSeries(data)[3]).toBe(2.25)
    // d2 has no tariff: its kWh count, its cost does not (and does not null d1's).
    const costs = totalCosts(data)
    expect(costs.perBucket[3]).toBe(1.6)
    expect(costs.total).toEqual({ cost: data.totals.d1.cost, currency: 'RON' })
  })

  it('tells the two 03:00 hours of an autumn day apart by their offsets', () => {
    expect(AUTUMN_BUCHAREST).toHaveLength(25)
    expect(hourTitle(AUTUMN_BUCHAREST, 3)).toBe('03:00–03:00 (UTC+03:00)')
    expect(hourTitle(AUTUMN_BUCHAREST, 4)).toBe('03:00–04:00 (UTC+02:00)')
    expect(hourTitle(AUTUMN_BUCHAREST, 24)).toBe('23:00–00:00 (UTC+02:00)')
  })

  it('shows no cost when the devices are priced in different currencies', async () => {
    const { api: client } = api({
      'GET /api/consumption/day': (call) =>
        json(200, param(call.url, 'device_id') === 'd1' ? day('d1', '2026-03-29', SPRING_BUCHAREST, () => 1, 0.8, 'RON') : day('d2', '2026-03-29', SPRING_BUCHAREST, () => 1, 0.2, 'EUR')),
    })
    const data = await loadSeries(client, ['d1', 'd2'], 'day', '2026-03-29')
    expect(totalCosts(data).total).toEqual({ cost: null, currency: null })
    expect(totalCosts(data).perBucket[0]).toBeNull()
  })

  it('asks the range for the buckets of a year, months or weeks', async () => {
    const { api: client, calls } = api({
      'GET /api/consumption/range': (call) =>
        json(200, {
          device_id: 'd1',
          bucket: param(call.url, 'bucket'),
          time_zone: 'Europe/Bucharest',
          currency: 'RON',
          points: [
            { start: '2026-01-01T00:00:00+02:00', kwh: 300, cost: 240 },
            { start: '2026-02-01T00:00:00+02:00', kwh: 250, cost: 200 },
          ],
          total_kwh: 550,
          total_cost: 440,
        }),
    })
    const data = await loadSeries(client, ['d1'], 'year', '2026-05-10', { yearBucket: 'month' })
    expect(new URL(calls[0].url, 'http://x').searchParams.toString()).toBe('device_id=d1&start=2026-01-01&end=2026-12-31&bucket=month')
    expect(data.starts.map((s) => bucketLabel('month', s))).toEqual(['Jan', 'Feb'])
    expect(totalCosts(data).total).toEqual({ cost: 440, currency: 'RON' })
    await loadSeries(client, ['d1'], 'week', '2026-11-25')
    expect(new URL(calls[1].url, 'http://x').searchParams.toString()).toBe('device_id=d1&start=2026-11-23&end=2026-11-29&bucket=day')
  })
})

describe('live updates', () => {
  const base: SeriesData = {
    period: 'day',
    bucket: 'hour',
    range: { start: '2026-11-25', end: '2026-11-25' },
    timeZone: 'UTC',
    starts: hoursOf('2026-11-25'),
    perDevice: { d1: Array.from({ length: 24 }, () => 0), d2: Array.from({ length: 24 }, () => 1) },
    costPerDevice: { d1: [], d2: [] },
    totals: {},
  }

  it('sets the hour to its new total in a day view, whatever the offset notation', () => {
    const next = applyUpdate(base, { device_id: 'd1', hour: '2026-11-25T14:00:00+00:00', kwh: 1.75 })
    expect(next).not.toBe('refetch')
    const data = next as SeriesData
    expect(data.perDevice.d1[14]).toBe(1.75)
    expect(totalSeries(data)[14]).toBe(2.75)
    expect(base.perDevice.d1[14]).toBe(0) // the old state is untouched
  })

  it('finds a UTC hour among local ones', () => {
    const local: SeriesData = { ...base, timeZone: 'Europe/Bucharest', starts: SPRING_BUCHAREST, perDevice: { d1: SPRING_BUCHAREST.map(() => 0) } }
    // 01:00 UTC is 04:00 in Bucharest that day.
    const next = applyUpdate(local, { device_id: 'd1', hour: '2026-03-29T01:00:00Z', kwh: 3 }) as SeriesData
    expect(next.perDevice.d1[3]).toBe(3)
  })

  it('ignores devices and hours that are not on screen', () => {
    expect(applyUpdate(base, { device_id: 'd3', hour: '2026-11-25T14:00:00Z', kwh: 1 })).toBeNull()
    expect(applyUpdate(base, { device_id: 'd1', hour: '2026-11-26T00:00:00Z', kwh: 1 })).toBeNull()
  })

  it("asks for a refetch when a week's day changes, in the view's zone", () => {
    const week: SeriesData = { ...base, period: 'week', bucket: 'day', timeZone: 'Europe/Bucharest', range: { start: '2026-11-23', end: '2026-11-29' } }
    expect(applyUpdate(week, { device_id: 'd1', hour: '2026-11-29T21:00:00Z', kwh: 1 })).toBe('refetch')
    // 22:00 UTC on the 29th is already the 30th in Bucharest: next week.
    expect(applyUpdate(week, { device_id: 'd1', hour: '2026-11-29T22:00:00Z', kwh: 1 })).toBeNull()
  })

  it('counts only the hours that have begun for the average', () => {
    expect(elapsedBuckets(base, new Date('2026-11-25T10:30:00Z'))).toBe(11)
    expect(elapsedBuckets(base, new Date('2026-11-24T10:30:00Z'))).toBe(0)
    expect(elapsedBuckets(base, new Date('2026-12-01T00:00:00Z'))).toBe(24)
  })
})

describe('CSV', () => {
  it('has one column per device, a total and the cost', () => {
    const data: SeriesData = {
      period: 'day',
      bucket: 'hour',
      range: { start: '2026-03-29', end: '2026-03-29' },
      timeZone: 'Europe/Bucharest',
      starts: SPRING_BUCHAREST.slice(2, 4),
      perDevice: { d1: [0.1, 0.2], d2: [1, 2] },
      costPerDevice: { d1: [0.08, 0.16], d2: [null, null] },
      totals: { d1: { cost: 0.24, currency: 'RON' }, d2: { cost: null, currency: null } },
    }
    const csv = seriesCsv(data, ['d1', 'd2'], (id) => (id === 'd1' ? 'Kitchen, main' : 'Garage'))
    expect(csv.split('\r\n')).toEqual([
      'start,"Kitchen, main (kWh)",Garage (kWh),total (kWh),cost (RON)',
      '2026-03-29T02:00:00+02:00,0.1,1,1.1,0.08',
      '2026-03-29T04:00:00+03:00,0.2,2,2.2,0.16',
      '',
    ])
  })
})
