// Loading a period of consumption for one or several devices, summing them (kWh and cost),
// and applying live `consumption.updated` messages to what is on screen. Buckets are the
// server's: local hours/days/weeks/months of the viewer's zone, each start with its offset,
// so a daylight-saving day has the 23 or 25 hours it had.

import type { ApiClient } from '../api/client'
import { consumption, type RangeBucket } from '../api/endpoints'
import { toCsv } from './csv'
import { sumSeries } from './chart'
import { localParts, periodRange, todayIn, type DateRange, type IsoDate, type Period } from './dates'
import { sumCosts, type PricedTotal } from './money'

export interface SeriesData {
  period: Period
  bucket: RangeBucket
  range: DateRange
  /** The zone the server cut the buckets in (null from a server that does not say). */
  timeZone: string | null
  /** Start of each bucket as the server wrote it: local ISO with its UTC offset. */
  starts: string[]
  /** kWh per bucket, per device id. */
  perDevice: Record<string, number[]>
  /** Cost per bucket, per device id (null: no tariff). */
  costPerDevice: Record<string, (number | null)[]>
  /** The server's period total per device (cost and its currency). */
  totals: Record<string, PricedTotal>
}

/** The bucket of a period's chart: hours of a day, days of a week or month, months (or weeks) of a year. */
export function bucketOf(period: Period, yearBucket: 'week' | 'month' = 'month'): RangeBucket {
  return period === 'day' ? 'hour' : period === 'year' ? yearBucket : 'day'
}

interface DeviceSeries {
  starts: string[]
  kwh: number[]
  cost: (number | null)[]
  total: PricedTotal
  timeZone: string | null
}

export async function loadSeries(
  api: ApiClient,
  deviceIds: readonly string[],
  period: Period,
  date: IsoDate,
  { tz, yearBucket }: { tz?: string; yearBucket?: 'week' | 'month' } = {},
  signal?: AbortSignal,
): Promise<SeriesData> {
  const range = periodRange(period, date)
  const bucket = bucketOf(period, yearBucket)
  const loaded = await Promise.all(
    deviceIds.map(async (deviceId): Promise<DeviceSeries> => {
      if (period === 'day') {
        const day = await consumption.day(api, date, { deviceId, tz }, signal)
        return {
          starts: day.hours.map((h) => h.hour),
          kwh: day.hours.map((h) => Number(h.kwh) || 0),
          cost: day.hours.map((h) => h.cost ?? null),
          total: { cost: day.total_cost ?? null, currency: day.currency ?? null },
          timeZone: day.time_zone ?? null,
        }
      }
      const result = await consumption.range(api, range.start, range.end, bucket, { deviceId, tz }, signal)
      return {
        starts: result.points.map((p) => p.start),
        kwh: result.points.map((p) => Number(p.kwh) || 0),
        cost: result.points.map((p) => p.cost ?? null),
        total: { cost: result.total_cost ?? null, currency: result.currency ?? null },
        timeZone: result.time_zone ?? null,
      }
    }),
  )
  // Every device is read in the same zone: the first one's buckets are everyone's.
  const starts = loaded[0]?.starts ?? []
  const perDevice: SeriesData['perDevice'] = {}
  const costPerDevice: SeriesData['costPerDevice'] = {}
  const totals: SeriesData['totals'] = {}
  deviceIds.forEach((id, i) => {
    const own = loaded[i]
    perDevice[id] = align(own.starts, own.kwh, starts, 0)
    costPerDevice[id] = align(own.starts, own.cost, starts, null)
    totals[id] = own.total
  })
  return { period, bucket, range, timeZone: loaded[0]?.timeZone ?? null, starts, perDevice, costPerDevice, totals }
}

/** Values in the order of `starts`, matched by instant (so "+00:00" and "Z" agree). */
function align<T>(own: readonly string[], values: readonly T[], starts: readonly string[], missing: T): T[] {
  const byTime = new Map<number, T>()
  own.forEach((s, i) => byTime.set(Date.parse(s), values[i]))
  return starts.map((s) => (byTime.has(Date.parse(s)) ? (byTime.get(Date.parse(s)) as T) : missing))
}

export function totalSeries(data: SeriesData, deviceIds?: readonly string[]): number[] {
  const ids = deviceIds ?? Object.keys(data.perDevice)
  return sumSeries(
    ids.map((id) => data.perDevice[id] ?? []),
    data.starts.length,
  )
}

/** Cost per bucket of several devices together, and of the period, with the currency. */
export function totalCosts(data: SeriesData, deviceIds?: readonly string[]): { perBucket: (number | null)[]; total: PricedTotal } {
  const ids = deviceIds ?? Object.keys(data.perDevice)
  const currencyOf = (id: string) => data.totals[id]?.currency ?? null
  const perBucket = data.starts.map((_, i) => sumCosts(ids.map((id) => ({ cost: data.costPerDevice[id]?.[i] ?? null, currency: currencyOf(id) }))).cost)
  const total = sumCosts(ids.map((id) => data.totals[id] ?? { cost: null, currency: null }))
  return { perBucket, total }
}

export interface ConsumptionUpdate {
  device_id: string
  hour: string
  kwh: number
}

/**
 * What a live update means for the data on screen: a new SeriesData when it could be
 * applied in place (day view: `kwh` is the hour's new total), `refetch` when a bucket it
 * feeds must be recomputed (week/month/year), or null when it is not shown.
 */
export function applyUpdate(data: SeriesData, update: ConsumptionUpdate): SeriesData | 'refetch' | null {
  const values = data.perDevice[update.device_id]
  if (!values) return null
  const at = Date.parse(update.hour)
  if (Number.isNaN(at) || data.starts.length === 0) return null
  if (data.period === 'day') {
    const index = data.starts.findIndex((s) => Date.parse(s) === at)
    if (index < 0) return null
    if (values[index] === update.kwh) return data
    const next = [...values]
    next[index] = update.kwh
    return { ...data, perDevice: { ...data.perDevice, [update.device_id]: next } }
  }
  const day = todayIn(data.timeZone ?? 'UTC', new Date(at))
  return day >= data.range.start && day <= data.range.end ? 'refetch' : null
}

/**
 * How many buckets have started by `now` — the average counts only those: today's later
 * hours have not happened yet, and a future day has no consumption to average.
 */
export function elapsedBuckets(data: Pick<SeriesData, 'starts'>, now: Date = new Date()): number {
  const t = now.getTime()
  return data.starts.filter((s) => Date.parse(s) <= t).length
}

export function isLivePeriod(range: DateRange, today: IsoDate): boolean {
  return range.start <= today && today <= range.end
}

/** The chart's CSV when the server cannot export the selection (an admin's "all of a client's"). */
export function seriesCsv(data: SeriesData, deviceIds: readonly string[], nameOf: (id: string) => string): string {
  const header = ['start', ...deviceIds.map((id) => `${nameOf(id)} (kWh)`)]
  if (deviceIds.length > 1) header.push('total (kWh)')
  const total = totalSeries(data, deviceIds)
  const costs = totalCosts(data, deviceIds)
  if (costs.total.currency) header.push(`cost (${costs.total.currency})`)
  const rows = data.starts.map((start, i) => {
    const cells: (string | number)[] = [start, ...deviceIds.map((id) => round(data.perDevice[id]?.[i] ?? 0))]
    if (deviceIds.length > 1) cells.push(round(total[i]))
    if (costs.total.currency) cells.push(costs.perBucket[i] ?? '')
    return cells
  })
  return toCsv([header, ...rows])
}

function round(value: number): number {
  return Math.round(value * 1e6) / 1e6
}

/** Axis label and tooltip title of each bucket, from its local start as the server wrote it. */
export function bucketLabel(bucket: RangeBucket, start: string): string {
  const { date, time } = localParts(start)
  if (bucket === 'hour') return time.slice(0, 2)
  if (bucket === 'month') return MONTHS[Number(date.slice(5, 7)) - 1] ?? date
  if (bucket === 'week') return `${Number(date.slice(8, 10))} ${MONTHS[Number(date.slice(5, 7)) - 1]}`
  return String(Number(date.slice(8, 10)))
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']

/**
 * "02:00–03:00 (UTC+02:00)": the local hour with its offset, so the two 03:00 hours of an
 * autumn daylight-saving day can be told apart; the end is the next bucket's start.
 */
export function hourTitle(starts: readonly string[], index: number): string {
  const { time, offset } = localParts(starts[index])
  const next = starts[index + 1]
  const end = next ? localParts(next).time : `${String((Number(time.slice(0, 2)) + 1) % 24).padStart(2, '0')}:00`
  return `${time}–${end}${offset ? ` (UTC${offset})` : ''}`
}
