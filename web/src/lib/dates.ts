// Consumption is bucketed by UTC hour on the server, so every calendar computation here is
// done in UTC on plain `YYYY-MM-DD` strings: the browser's own time zone never shifts a day.

export type IsoDate = string

const DAY_MS = 86_400_000

export function parseIsoDate(date: IsoDate): Date {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date)
  if (!match) throw new Error(`not a date: ${date}`)
  return new Date(Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3])))
}

export function isIsoDate(value: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value)) return false
  return toIsoDate(parseIsoDate(value)) === value
}

export function toIsoDate(date: Date): IsoDate {
  return date.toISOString().slice(0, 10)
}

export function todayUtc(now: Date = new Date()): IsoDate {
  return toIsoDate(now)
}

export function addDays(date: IsoDate, days: number): IsoDate {
  return toIsoDate(new Date(parseIsoDate(date).getTime() + days * DAY_MS))
}

/** The same day of another month, clamped to that month's length (31 Jan + 1 → 28/29 Feb). */
export function addMonths(date: IsoDate, months: number): IsoDate {
  const d = parseIsoDate(date)
  const first = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + months, 1))
  const length = daysInMonth(first)
  first.setUTCDate(Math.min(d.getUTCDate(), length))
  return toIsoDate(first)
}

function daysInMonth(anyDayOfMonth: Date): number {
  return new Date(
    Date.UTC(anyDayOfMonth.getUTCFullYear(), anyDayOfMonth.getUTCMonth() + 1, 0),
  ).getUTCDate()
}

export type Period = 'day' | 'week' | 'month'

export interface DateRange {
  /** First day, inclusive. */
  start: IsoDate
  /** Last day, inclusive. */
  end: IsoDate
}

/** The day, the ISO week (Monday to Sunday) or the calendar month that contains `date`. */
export function periodRange(period: Period, date: IsoDate): DateRange {
  if (period === 'day') return { start: date, end: date }
  if (period === 'week') {
    const weekday = (parseIsoDate(date).getUTCDay() + 6) % 7 // Monday = 0
    const start = addDays(date, -weekday)
    return { start, end: addDays(start, 6) }
  }
  const d = parseIsoDate(date)
  const start = toIsoDate(new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1)))
  return { start, end: toIsoDate(new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), daysInMonth(d)))) }
}

/** Move a date by one period (previous/next buttons). */
export function shiftPeriod(period: Period, date: IsoDate, steps: number): IsoDate {
  if (period === 'day') return addDays(date, steps)
  if (period === 'week') return addDays(date, 7 * steps)
  return addMonths(date, steps)
}

export function daysOf(range: DateRange): IsoDate[] {
  const days: IsoDate[] = []
  for (let d = range.start; d <= range.end; d = addDays(d, 1)) days.push(d)
  return days
}

/** Start of each UTC hour of a day, as ISO timestamps. */
export function hoursOf(date: IsoDate): string[] {
  const start = parseIsoDate(date).getTime()
  return Array.from({ length: 24 }, (_, h) => new Date(start + h * 3_600_000).toISOString())
}

const dayFormat = new Intl.DateTimeFormat('en-GB', {
  weekday: 'short',
  day: 'numeric',
  month: 'short',
  year: 'numeric',
  timeZone: 'UTC',
})
const shortDayFormat = new Intl.DateTimeFormat('en-GB', {
  weekday: 'short',
  day: 'numeric',
  timeZone: 'UTC',
})
const monthFormat = new Intl.DateTimeFormat('en-GB', { month: 'long', year: 'numeric', timeZone: 'UTC' })
const dayMonthFormat = new Intl.DateTimeFormat('en-GB', { day: 'numeric', month: 'short', timeZone: 'UTC' })

export function formatDay(date: IsoDate): string {
  return dayFormat.format(parseIsoDate(date))
}

export function formatShortDay(date: IsoDate): string {
  return shortDayFormat.format(parseIsoDate(date))
}

export function formatPeriod(period: Period, date: IsoDate): string {
  const range = periodRange(period, date)
  if (period === 'day') return formatDay(date)
  if (period === 'month') return monthFormat.format(parseIsoDate(range.start))
  return `${dayMonthFormat.format(parseIsoDate(range.start))} – ${dayMonthFormat.format(parseIsoDate(range.end))} ${range.end.slice(0, 4)}`
}

/** Hour of an ISO timestamp in UTC, as "14:00". */
export function formatUtcHour(iso: string): string {
  return `${new Date(iso).toISOString().slice(11, 13)}:00`
}

const dateTimeFormat = new Intl.DateTimeFormat('en-GB', {
  day: 'numeric',
  month: 'short',
  hour: '2-digit',
  minute: '2-digit',
})
const timeFormat = new Intl.DateTimeFormat('en-GB', { hour: '2-digit', minute: '2-digit' })

/** A moment in the viewer's own time zone (chat and alert times). */
export function formatMoment(iso: string, now: Date = new Date()): string {
  const d = new Date(iso)
  if (Number.isNaN(d.getTime())) return ''
  const sameDay = d.toDateString() === now.toDateString()
  return sameDay ? timeFormat.format(d) : dateTimeFormat.format(d)
}
