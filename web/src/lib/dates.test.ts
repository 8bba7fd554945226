import { describe, expect, it } from 'vitest'
import { addDays, addMonths, daysOf, formatPeriod, hoursOf, isIsoDate, periodRange, shiftPeriod, todayUtc } from './dates'

describe('dates (always UTC)', () => {
  it('moves across month and year ends and leap days', () => {
    expect(addDays('2024-02-28', 1)).toBe('2024-02-29')
    expect(addDays('2024-12-31', 1)).toBe('2025-01-01')
    expect(addDays('2025-03-01', -1)).toBe('2025-02-28')
  })

  it('clamps month steps to the shorter month', () => {
    expect(addMonths('2025-01-31', 1)).toBe('2025-02-28')
    expect(addMonths('2024-03-31', -1)).toBe('2024-02-29')
    expect(addMonths('2025-12-15', 1)).toBe('2026-01-15')
  })

  it('gives ISO weeks from Monday to Sunday', () => {
    expect(periodRange('week', '2026-11-25')).toEqual({ start: '2026-11-23', end: '2026-11-29' }) // a Wednesday
    expect(periodRange('week', '2026-11-29')).toEqual({ start: '2026-11-23', end: '2026-11-29' }) // a Sunday
    expect(periodRange('week', '2026-11-23')).toEqual({ start: '2026-11-23', end: '2026-11-29' }) // a Monday
  })

  it('gives whole calendar months', () => {
    expect(periodRange('month', '2024-02-10')).toEqual({ start: '2024-02-01', end: '2024-02-29' })
    expect(daysOf(periodRange('month', '2026-04-30'))).toHaveLength(30)
  })

  it('steps by the period shown', () => {
    expect(shiftPeriod('day', '2026-01-01', -1)).toBe('2025-12-31')
    expect(shiftPeriod('week', '2026-01-01', 1)).toBe('2026-01-08')
    expect(shiftPeriod('month', '2026-01-31', 1)).toBe('2026-02-28')
  })

  it('lists the 24 UTC hours of a day', () => {
    const hours = hoursOf('2026-03-29') // a DST change in Europe: still 24 UTC hours
    expect(hours).toHaveLength(24)
    expect(hours[0]).toBe('2026-03-29T00:00:00.000Z')
    expect(hours[23]).toBe('2026-03-29T23:00:00.000Z')
  })

  it('takes today in UTC, not in the local zone', () => {
    expect(todayUtc(new Date('2026-11-25T23:30:00-05:00'))).toBe('2026-11-26')
  })

  it('accepts only real dates', () => {
    expect(isIsoDate('2026-02-28')).toBe(true)
    expect(isIsoDate('2026-02-30')).toBe(false)
    expect(isIsoDate('26-2-3')).toBe(false)
  })

  it('names periods for headings', () => {
    expect(formatPeriod('day', '2026-11-25')).toBe('Wed, 25 Nov 2026')
    expect(formatPeriod('week', '2026-11-25')).toBe('23 Nov – 29 Nov 2026')
    expect(formatPeriod('month', '2026-11-25')).toBe('November 2026')
  })
})
