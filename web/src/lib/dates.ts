// Calendar computations on plain `YYYY-MM-DD` strings, done in UTC arithmetic so that the
// browser's own zone never shifts a day: the dates are the viewer's local dates (the server
// cuts days, weeks and months in the profile zone), only the arithmetic is UTC.

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

export type Period = 'day' | 'week' | 'month' | 'year'

export interface DateRange {
  /** First day, inclusive. */
  start: IsoDate
  /** Last day, inclusive. */
  end: IsoDate
}

/** The day, the ISO week (Monday to Sunday), the calendar month or year that contains `date`. */
export function periodRange(period: Period, date: IsoDate): DateRange {
  if (period === 'day') return { start: date, end: date }
  if (period === 'week') {
    const weekday = (parseIsoDate(date).getUTCDay() + 6) % 7 // Monday = 0
    const start = addDays(date, -weekday)
    return { start, end: addDays(start, 6) }
  }
  if (period === 'year') return { start: `${date.slice(0, 4)}-01-01`, end: `${date.slice(0, 4)}-12-31` }
  const d = parseIsoDate(date)
  const start = toIsoDate(new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1)))
  return { start, end: toIsoDate(new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), daysInMonth(d)))) }
}

/** Move a date by one period (previous/next buttons). */
export function shiftPeriod(period: Period, date: IsoDate, steps: number): IsoDate {
  if (period === 'day') return addDays(date, steps)
  if (period === 'week') return addDays(date, 7 * steps)
  if (period === 'year') return addMonths(date, 12 * steps)
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
  if (period === 'year') return range.start.slice(0, 4)
  return `${dayMonthFormat.format(parseIsoDate(range.start))} – ${dayMonthFormat.format(parseIsoDate(range.end))} ${range.end.slice(0, 4)}`
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

const isoDayFormats = new Map<string, Intl.DateTimeFormat>()

/** Today's date in an IANA zone ("2026-03-29" in Bucharest while UTC is still the 28th). */
export function todayIn(zone: string, now: Date = new Date()): IsoDate {
  let format = isoDayFormats.get(zone)
  if (!format) {
    try {
      format = new Intl.DateTimeFormat('en-CA', { timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit' })
    } catch {
      return todayUtc(now)
    }
    isoDayFormats.set(zone, format)
  }
  return format.format(now)
}

/**
 * The local wall-clock parts of an ISO timestamp as the server wrote it with its offset
 * ("2026-03-29T04:00:00+03:00" → date 2026-03-29, time 04:00, offset +03:00): no conversion,
 * the server already put the hour in the viewer's zone.
 */
export function localParts(iso: string): { date: IsoDate; time: string; offset: string } {
  const match = /^(\d{4}-\d{2}-\d{2})(?:T(\d{2}:\d{2})(?::\d{2}(?:\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?$/.exec(iso)
  if (!match) return { date: iso.slice(0, 10), time: iso.slice(11, 16), offset: '' }
  const offset = match[3] === 'Z' ? '+00:00' : (match[3] ?? '')
  return { date: match[1], time: match[2] ?? '00:00', offset }
}

const momentFormats = new Map<string, Intl.DateTimeFormat>()

/** A moment shown in an IANA zone: "1 Dec, 14:05". */
export function formatMomentIn(iso: string | null | undefined, zone: string): string {
  if (!iso) return '—'
  const d = new Date(iso)
  if (Number.isNaN(d.getTime())) return '—'
  let format = momentFormats.get(zone)
  if (!format) {
    try {
      format = new Intl.DateTimeFormat('en-GB', { timeZone: zone, day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' })
    } catch {
      format = dateTimeFormat
    }
    momentFormats.set(zone, format)
  }
  return format.format(d)
}

/** "5 min ago", "3 h ago", "2 days ago" (seconds under a minute: "just now"). */
export function formatAgo(iso: string | null | undefined, now: Date = new Date()): string {
  if (!iso) return 'never'
  const seconds = Math.max(0, (now.getTime() - Date.parse(iso)) / 1000)
  if (Number.isNaN(seconds)) return 'never'
  if (seconds < 60) return 'just now'
  const minutes = Math.floor(seconds / 60)
  if (minutes < 60) return `${minutes} min ago`
  const hours = Math.floor(minutes / 60)
  if (hours < 48) return `${hours} h ago`
  return `${Math.floor(hours / 24)} days ago`
}

export function formatMonth(date: IsoDate): string {
  return monthFormat.format(parseIsoDate(`${date.slice(0, 7)}-01`))
}

export function formatDayMonth(date: IsoDate): string {
  return dayMonthFormat.format(parseIsoDate(date))
}
