// Loading a period of consumption for one or several devices, summing them, and applying
// live `consumption.updated` messages to what is on screen.

import type { ApiClient } from '../api/client'
import { consumption } from '../api/endpoints'
import { ApiError } from '../api/errors'
import type { Bucket, HourValue } from '../api/types'
import { toCsv } from './csv'
import { daysOf, hoursOf, periodRange, todayUtc, type DateRange, type IsoDate, type Period } from './dates'
import { sumSeries } from './chart'

export interface SeriesData {
  period: Period
  range: DateRange
  /** Start of each bucket: the 24 UTC hours of a day, or the days of a week/month (ISO). */
  starts: string[]
  /** kWh per bucket, per device id. */
  perDevice: Record<string, number[]>
}

export async function loadSeries(
  api: ApiClient,
  deviceIds: readonly string[],
  period: Period,
  date: IsoDate,
  signal?: AbortSignal,
): Promise<SeriesData> {
  const range = periodRange(period, date)
  const starts = period === 'day' ? hoursOf(date) : daysOf(range).map((d) => `${d}T00:00:00.000Z`)
  const entries = await Promise.all(
    deviceIds.map(async (id) => {
      if (period === 'day') {
        const day = await consumption.day(api, id, date, signal)
        return [id, alignHours(day.hours, starts)] as const
      }
      return [id, alignDays(await loadDaily(api, id, range, signal), starts)] as const
    }),
  )
  return { period, range, starts, perDevice: Object.fromEntries(entries) }
}

/** Daily totals from the range endpoint, or (when that is missing) one day request each. */
async function loadDaily(api: ApiClient, id: string, range: DateRange, signal?: AbortSignal): Promise<Bucket[]> {
  try {
    return await consumption.daily(api, id, range.start, range.end, signal)
  } catch (error) {
    if (!(error instanceof ApiError) || (error.status !== 404 && error.status !== 405)) throw error
    const days = await Promise.all(daysOf(range).map((d) => consumption.day(api, id, d, signal)))
    return days.map((day) => ({ start: day.date, kwh: day.total_kwh }))
  }
}

/** Values in the order of `starts`, matched by instant (so "+00:00" and "Z" agree), 0 where missing. */
export function alignHours(hours: readonly HourValue[], starts: readonly string[]): number[] {
  const byTime = new Map<number, number>()
  for (const h of hours) byTime.set(Date.parse(h.hour), Number(h.kwh) || 0)
  return starts.map((s) => byTime.get(Date.parse(s)) ?? 0)
}

export function alignDays(buckets: readonly Bucket[], starts: readonly string[]): number[] {
  const byDay = new Map<string, number>()
  for (const b of buckets) {
    const day = b.start.length === 10 ? b.start : new Date(b.start).toISOString().slice(0, 10)
    byDay.set(day, (byDay.get(day) ?? 0) + (Number(b.kwh) || 0))
  }
  return starts.map((s) => byDay.get(s.slice(0, 10)) ?? 0)
}

export function totalSeries(data: SeriesData, deviceIds?: readonly string[]): number[] {
  const ids = deviceIds ?? Object.keys(data.perDevice)
  return sumSeries(
    ids.map((id) => data.perDevice[id] ?? []),
    data.starts.length,
  )
}

export interface ConsumptionUpdate {
  device_id: string
  hour: string
  kwh: number
}

/**
 * What a live update means for the data on screen: a new SeriesData when it could be
 * applied in place (day view: `kwh` is the hour's new total), `refetch` when a bucket it
 * feeds must be recomputed (week/month: a day's total), or null when it is not shown.
 */
export function applyUpdate(data: SeriesData, update: ConsumptionUpdate): SeriesData | 'refetch' | null {
  const values = data.perDevice[update.device_id]
  if (!values) return null
  const at = Date.parse(update.hour)
  if (Number.isNaN(at)) return null
  if (data.period === 'day') {
    const index = data.starts.findIndex((s) => Date.parse(s) === at)
    if (index < 0) return null
    if (values[index] === update.kwh) return data
    const next = [...values]
    next[index] = update.kwh
    return { ...data, perDevice: { ...data.perDevice, [update.device_id]: next } }
  }
  const day = new Date(at).toISOString().slice(0, 10)
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

export function isLivePeriod(range: DateRange, now: Date = new Date()): boolean {
  const today = todayUtc(now)
  return range.start <= today && today <= range.end
}

export function seriesCsv(data: SeriesData, deviceIds: readonly string[], nameOf: (id: string) => string): string {
  const header = [data.period === 'day' ? 'hour_utc' : 'day', ...deviceIds.map((id) => `${nameOf(id)} (kWh)`)]
  if (deviceIds.length > 1) header.push('total (kWh)')
  const total = totalSeries(data, deviceIds)
  const rows = data.starts.map((start, i) => {
    const label = data.period === 'day' ? start.replace('.000Z', 'Z') : start.slice(0, 10)
    const cells: (string | number)[] = [label, ...deviceIds.map((id) => round(data.perDevice[id]?.[i] ?? 0))]
    if (deviceIds.length > 1) cells.push(round(total[i]))
    return cells
  })
  return toCsv([header, ...rows])
}

function round(value: number): number {
  return Math.round(value * 1e6) / 1e6
}
