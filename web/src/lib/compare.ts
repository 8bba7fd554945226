// Comparisons and the month so far, as the server computes them. One call answers for one
// device or for all of the caller's; an admin looking at one client's devices adds the
// per-device answers up here, by the same rules (costs per currency, % from the sums).

import type { Comparison, MonthToDate, PeriodFigures } from '../api/types'
import { percentChange, sumCosts } from './money'

function sumFigures(parts: readonly PeriodFigures[], currencies: readonly (string | null | undefined)[]): PeriodFigures {
  const cost = sumCosts(parts.map((p, i) => ({ cost: p.cost, currency: currencies[i] }))).cost
  const kwh = Math.round(parts.reduce((sum, p) => sum + p.kwh, 0) * 1e6) / 1e6
  return { start: parts[0].start, end: parts[0].end, kwh, cost }
}

/** Several devices' comparisons of the same period as one. */
export function sumComparisons(parts: readonly Comparison[]): Comparison {
  if (parts.length === 1) return parts[0]
  const currencies = parts.map((p) => p.currency)
  const current = sumFigures(parts.map((p) => p.current), currencies)
  const previous = sumFigures(parts.map((p) => p.previous), currencies)
  const yearBefore = sumFigures(parts.map((p) => p.year_before), currencies)
  return {
    ...parts[0],
    currency: sumCosts(parts.map((p) => ({ cost: p.current.cost, currency: p.currency }))).currency,
    current,
    previous,
    year_before: yearBefore,
    change_vs_previous_pct: percentChange(current.kwh, previous.kwh),
    change_vs_year_before_pct: percentChange(current.kwh, yearBefore.kwh),
  }
}

/** Several devices' month so far as one (the elapsed fraction is the month's, the same for all). */
export function sumMonthToDate(parts: readonly MonthToDate[]): MonthToDate {
  if (parts.length === 1) return parts[0]
  const so = sumCosts(parts.map((p) => ({ cost: p.cost, currency: p.currency })))
  const projected = sumCosts(parts.map((p) => ({ cost: p.projected_cost, currency: p.currency })))
  const kwh = (pick: (p: MonthToDate) => number) => Math.round(parts.reduce((sum, p) => sum + pick(p), 0) * 1e6) / 1e6
  return {
    ...parts[0],
    kwh: kwh((p) => p.kwh),
    projected_kwh: kwh((p) => p.projected_kwh),
    cost: so.cost,
    projected_cost: projected.cost,
    currency: so.currency,
  }
}

/** Which way a change went, for colour: using more is "up". */
export function trend(pct: number | null): 'up' | 'down' | 'flat' | 'none' {
  if (pct === null) return 'none'
  return pct > 0.05 ? 'up' : pct < -0.05 ? 'down' : 'flat'
}
