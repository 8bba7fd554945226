import { describe, expect, it } from 'vitest'
import { sumComparisons, sumMonthToDate } from './compare'
import { formatChange, formatMoney, percentChange, sumCosts } from './money'
import type { Comparison, MonthToDate } from '../api/types'

describe('money', () => {
  it('formats a cost with its currency, and nothing known as a dash', () => {
    expect(formatMoney(12.3456, 'RON')).toBe('RON\u00a012.35')
    expect(formatMoney(0.231, 'EUR')).toBe('€0.23')
    expect(formatMoney(null, 'RON')).toBe('—')
    expect(formatMoney(3, null)).toBe('—')
  })

  it('adds costs only within one currency; devices without a tariff add none', () => {
    expect(sumCosts([{ cost: 1.5, currency: 'RON' }, { cost: null, currency: null }, { cost: 2.25, currency: 'RON' }])).toEqual({ cost: 3.75, currency: 'RON' })
    expect(sumCosts([{ cost: null, currency: null }])).toEqual({ cost: null, currency: null })
    expect(sumCosts([{ cost: 1, currency: 'RON' }, { cost: 1, currency: 'EUR' }])).toEqual({ cost: null, currency: null })
  })

  it('shows a change with its sign, and none when there was nothing before', () => {
    expect(formatChange(12.345)).toBe('+12.3%')
    expect(formatChange(-3)).toBe('−3.0%')
    expect(formatChange(null)).toBe('n/a')
    expect(percentChange(15, 10)).toBe(50)
    expect(percentChange(15, 0)).toBeNull()
  })
})

const figures = (kwh: number, cost: number | null) => ({ start: '2026-11-01', end: '2026-11-08', kwh, cost })

describe('several devices as one', () => {
  it("adds an admin's per-device comparisons and recomputes the change from the sums", () => {
    const one: Comparison = {
      device_id: 'd1',
      period: 'week',
      partial: false,
      time_zone: 'Europe/Bucharest',
      currency: 'RON',
      current: figures(10, 8),
      previous: figures(5, 4),
      year_before: figures(0, 0),
      change_vs_previous_pct: 100,
      change_vs_year_before_pct: null,
    }
    const two: Comparison = { ...one, currency: null, current: figures(2, null), previous: figures(5, null), year_before: figures(4, null), change_vs_previous_pct: -60, change_vs_year_before_pct: -50 }
    const sum = sumComparisons([one, two])
    expect(sum.current).toEqual(figures(12, 8))
    expect(sum.currency).toBe('RON')
    expect(sum.change_vs_previous_pct).toBe(20)
    expect(sum.change_vs_year_before_pct).toBe(200)
  })

  it('adds the month so far and its projection', () => {
    const month = (kwh: number, cost: number | null, currency: string | null): MonthToDate => ({
      device_id: 'd1',
      time_zone: 'UTC',
      month: '2026-12',
      kwh,
      cost,
      currency,
      projected_kwh: kwh * 10,
      projected_cost: cost === null ? null : cost * 10,
      elapsed_fraction: 0.1,
    })
    const sum = sumMonthToDate([month(1, 0.5, 'RON'), month(2, null, null)])
    expect(sum).toMatchObject({ kwh: 3, projected_kwh: 30, cost: 0.5, projected_cost: 5, currency: 'RON', elapsed_fraction: 0.1 })
  })
})
