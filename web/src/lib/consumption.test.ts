import { describe, expect, it } from 'vitest'
import { ApiClient } from '../api/client'
import { MemorySessionStore } from '../api/session'
import { json, scriptedFetch } from '../test/fakes'
import { alignDays, alignHours, applyUpdate, elapsedBuckets, loadSeries, seriesCsv, totalSeries, type SeriesData } from './consumption'
import { hoursOf } from './dates'

function day(deviceId: string, date: string, values: Record<number, number>) {
  const hours = hoursOf(date).map((hour, h) => ({ hour: hour.replace('.000Z', '+00:00'), kwh: values[h] ?? 0 }))
  return { device_id: deviceId, date, unit: 'kWh', hours, total_kwh: Object.values(values).reduce((a, b) => a + b, 0) }
}

function api(routes: Parameters<typeof scriptedFetch>[0]) {
  const session = { accessToken: 'A', refreshToken: 'R', expiresAt: Date.now() + 600_000, user: { id: 'u', username: 'u', role: 'CLIENT' as const } }
  const fake = scriptedFetch(routes)
  return { api: new ApiClient({ store: new MemorySessionStore(session), fetch: fake.fetch, lock: (_, t) => t() }), calls: fake.calls }
}

describe('loading a period', () => {
  it('loads each device of a day and sums them for "all devices"', async () => {
    const { api: client } = api({
      'GET /api/consumption/day': (call) => {
        const id = new URL(call.url, 'http://x').searchParams.get('device_id')!
        return json(200, id === 'd1' ? day('d1', '2026-11-25', { 0: 1, 18: 2.5 }) : day('d2', '2026-11-25', { 18: 0.5 }))
      },
    })
    const data = await loadSeries(client, ['d1', 'd2'], 'day', '2026-11-25')
    expect(data.starts).toHaveLength(24)
    expect(data.perDevice.d1[18]).toBe(2.5)
    const total = totalSeries(data)
    expect(total[0]).toBe(1)
    expect(total[18]).toBe(3)
  })

  it('uses the range endpoint for a week, with daily buckets in order', async () => {
    const { api: client, calls } = api({
      'GET /api/consumption/range': () =>
        json(200, { device_id: 'd1', bucket: 'day', points: [{ start: '2026-11-24T00:00:00Z', kwh: 4 }, { start: '2026-11-23T00:00:00Z', kwh: 3 }] }),
    })
    const data = await loadSeries(client, ['d1'], 'week', '2026-11-25')
    expect(new URL(calls[0].url, 'http://x').searchParams.toString()).toBe('device_id=d1&start=2026-11-23&end=2026-11-29&bucket=day')
    expect(data.perDevice.d1).toEqual([3, 4, 0, 0, 0, 0, 0])
  })

  it('falls back to one day request per day when there is no range endpoint', async () => {
    const { api: client, calls } = api({
      'GET /api/consumption/range': () => json(404, { error: { code: 'not_found', message: 'No such resource.' } }),
      'GET /api/consumption/day': (call) => {
        const date = new URL(call.url, 'http://x').searchParams.get('date')!
        return json(200, day('d1', date, { 1: date === '2026-11-24' ? 2 : 1 }))
      },
    })
    const data = await loadSeries(client, ['d1'], 'week', '2026-11-25')
    expect(calls).toHaveLength(8)
    expect(data.perDevice.d1).toEqual([1, 2, 1, 1, 1, 1, 1])
  })
})

describe('aligning server data', () => {
  it('matches hours by instant whatever the offset notation', () => {
    const starts = hoursOf('2026-01-01')
    expect(alignHours([{ hour: '2026-01-01T05:00:00+00:00', kwh: 2 }, { hour: '2026-01-01T06:00:00Z', kwh: 1 }], starts).slice(4, 8)).toEqual([0, 2, 1, 0])
  })

  it('adds buckets of the same day', () => {
    expect(alignDays([{ start: '2026-01-02', kwh: 1 }, { start: '2026-01-02T12:00:00Z', kwh: 2 }], ['2026-01-01T00:00:00.000Z', '2026-01-02T00:00:00.000Z'])).toEqual([0, 3])
  })
})

describe('live updates', () => {
  const base: SeriesData = {
    period: 'day',
    range: { start: '2026-11-25', end: '2026-11-25' },
    starts: hoursOf('2026-11-25'),
    perDevice: { d1: Array.from({ length: 24 }, () => 0), d2: Array.from({ length: 24 }, () => 1) },
  }

  it('sets the hour to its new total in a day view', () => {
    const next = applyUpdate(base, { device_id: 'd1', hour: '2026-11-25T14:00:00+00:00', kwh: 1.75 })
    expect(next).not.toBe('refetch')
    const data = next as SeriesData
    expect(data.perDevice.d1[14]).toBe(1.75)
    expect(totalSeries(data)[14]).toBe(2.75)
    expect(base.perDevice.d1[14]).toBe(0) // the old state is untouched
  })

  it('ignores devices and hours that are not on screen', () => {
    expect(applyUpdate(base, { device_id: 'd3', hour: '2026-11-25T14:00:00Z', kwh: 1 })).toBeNull()
    expect(applyUpdate(base, { device_id: 'd1', hour: '2026-11-26T00:00:00Z', kwh: 1 })).toBeNull()
  })

  it('asks for a refetch when a week or month bucket changes', () => {
    const week: SeriesData = { ...base, period: 'week', range: { start: '2026-11-23', end: '2026-11-29' } }
    expect(applyUpdate(week, { device_id: 'd1', hour: '2026-11-29T23:00:00Z', kwh: 1 })).toBe('refetch')
    expect(applyUpdate(week, { device_id: 'd1', hour: '2026-11-30T00:00:00Z', kwh: 1 })).toBeNull()
  })

  it('counts only the hours that have begun for the average', () => {
    expect(elapsedBuckets(base, new Date('2026-11-25T10:30:00Z'))).toBe(11)
    expect(elapsedBuckets(base, new Date('2026-11-24T10:30:00Z'))).toBe(0)
    expect(elapsedBuckets(base, new Date('2026-12-01T00:00:00Z'))).toBe(24)
  })
})

describe('CSV', () => {
  it('has one column per device and a total', () => {
    const data: SeriesData = {
      period: 'day',
      range: { start: '2026-11-25', end: '2026-11-25' },
      starts: hoursOf('2026-11-25').slice(0, 2),
      perDevice: { d1: [0.1, 0.2], d2: [1, 2] },
    }
    const csv = seriesCsv(data, ['d1', 'd2'], (id) => (id === 'd1' ? 'Kitchen, main' : 'Garage'))
    expect(csv.split('\r\n')).toEqual([
      'hour_utc,"Kitchen, main (kWh)",Garage (kWh),total (kWh)',
      '2026-11-25T00:00:00Z,0.1,1,1.1',
      '2026-11-25T01:00:00Z,0.2,2,2.2',
      '',
    ])
  })
})
