// Tariff bands as the admin edits them, and the server's complaints about them put back on
// the band and field they are about. The server does the real checks (overlaps included);
// these only catch what can be seen in one field.

import { ApiError, type ValidationIssue } from '../api/errors'
import type { TariffBand } from '../api/types'

/** One band in the editor: text as typed. */
export interface BandRow {
  key: string
  start: string
  end: string
  price: string
}

/** Errors by band and field: "0.start", "2.price_per_kwh", "1" (the band as a whole). */
export type BandErrors = Record<string, string>

const CLOCK = /^([01]\d|2[0-3]):[0-5]\d$/

let rowCount = 0
export function bandRow(band?: TariffBand): BandRow {
  rowCount += 1
  return {
    key: `band-${rowCount}`,
    start: band?.start ?? '',
    end: band?.end ?? '',
    price: band ? String(band.price_per_kwh) : '',
  }
}

export function checkBands(rows: readonly BandRow[]): BandErrors {
  const errors: BandErrors = {}
  rows.forEach((row, i) => {
    for (const field of ['start', 'end'] as const) {
      const value = row[field].trim()
      if (!CLOCK.test(value)) errors[`${i}.${field}`] = value ? 'Use HH:MM, from 00:00 to 23:59.' : 'Required.'
    }
    const price = row.price.trim()
    if (price === '' || !Number.isFinite(Number(price))) errors[`${i}.price_per_kwh`] = 'Enter a price.'
    else if (Number(price) < 0) errors[`${i}.price_per_kwh`] = 'A price cannot be negative.'
    if (!errors[`${i}.start`] && !errors[`${i}.end`] && row.start.trim() === row.end.trim()) {
      errors[`${i}`] = 'Start and end must differ.'
    }
  })
  return errors
}

export function toBands(rows: readonly BandRow[]): TariffBand[] {
  return rows.map((row) => ({ start: row.start.trim(), end: row.end.trim(), price_per_kwh: Number(row.price) }))
}

/** A band from 22:00 to 06:00 runs over midnight. */
export function wrapsMidnight(band: { start: string; end: string }): boolean {
  return CLOCK.test(band.start) && CLOCK.test(band.end) && band.start > band.end
}

/**
 * A 422's details split between the bands (`loc: ["body", "bands", i, field?]`), the band
 * list as a whole (`["body", "bands"]`: overlaps, too many) and everything else.
 */
export function splitBandErrors(error: ApiError): { bands: BandErrors; list: string | null; rest: ApiError } {
  const bands: BandErrors = {}
  let list: string | null = null
  const others: ValidationIssue[] = []
  const details = Array.isArray(error.details) ? (error.details as ValidationIssue[]) : []
  for (const issue of details) {
    const loc = (issue?.loc ?? []).filter((part) => part !== 'body')
    if (loc[0] !== 'bands' || typeof issue.msg !== 'string') {
      others.push(issue)
      continue
    }
    const message = tidy(issue.msg)
    if (loc.length === 1) list ??= message
    else {
      const key = loc.length === 2 ? String(loc[1]) : `${loc[1]}.${loc[2]}`
      bands[key] ??= message
    }
  }
  const rest = Array.isArray(error.details)
    ? new ApiError(error.status, error.code, error.message, others, error.retryAfter)
    : error
  return { bands, list, rest }
}

function tidy(message: string): string {
  const text = message.replace(/^Value error, /, '')
  const sentence = text.charAt(0).toUpperCase() + text.slice(1)
  return /[.!?]$/.test(sentence) ? sentence : `${sentence}.`
}

/** "0.35 RON" */
export function formatPrice(price: number, currency: string): string {
  return `${price.toLocaleString('en-GB', { maximumFractionDigits: 6 })} ${currency}`
}

/** "22:00–06:00" */
export function bandSpan(band: { start: string; end: string }): string {
  return `${band.start}–${band.end}`
}
