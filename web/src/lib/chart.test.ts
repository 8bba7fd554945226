import { describe, expect, it } from 'vitest'
import { formatKwh, formatTick, labelEvery, niceScale, sumSeries, summarize } from './chart'

describe('niceScale', () => {
  it('rounds the top up to a nice step', () => {
    expect(niceScale(3.7)).toEqual({ max: 4, step: 1, ticks: [0, 1, 2, 3, 4] })
    expect(niceScale(0.42)).toEqual({ max: 0.6, step: 0.2, ticks: [0, 0.2, 0.4, 0.6] })
    expect(niceScale(130)).toEqual({ max: 150, step: 50, ticks: [0, 50, 100, 150] })
  })

  it('covers the maximum with evenly spaced ticks from zero', () => {
    for (const max of [0.013, 0.42, 1, 2.5, 7.9, 13, 99, 101, 1234.5, 98765]) {
      const s = niceScale(max)
      expect(s.max).toBeGreaterThanOrEqual(max)
      expect(s.ticks[0]).toBe(0)
      expect(s.ticks[s.ticks.length - 1]).toBe(s.max)
      expect(s.ticks.length).toBeGreaterThanOrEqual(3)
      expect(s.ticks.length).toBeLessThanOrEqual(7)
      // The axis never wastes more than half of its height.
      expect(s.max).toBeLessThan(max * 2.01)
      for (let i = 1; i < s.ticks.length; i++) expect(s.ticks[i] - s.ticks[i - 1]).toBeCloseTo(s.step, 9)
    }
  })

  it('gives an all-zero or broken series a usable axis', () => {
    expect(niceScale(0).max).toBe(1)
    expect(niceScale(Number.NaN).max).toBe(1)
    expect(niceScale(-3).max).toBe(1)
  })

  it('has no floating point noise in tick values', () => {
    expect(niceScale(0.7).ticks).toEqual([0, 0.2, 0.4, 0.6, 0.8])
  })
})

describe('summarize', () => {
  it('gives total, average and peak', () => {
    expect(summarize([1, 3, 2, 0])).toEqual({ total: 6, average: 1.5, peak: { index: 1, value: 3 } })
  })

  it('averages only over the buckets that have started', () => {
    const today = [1, 2, 3, ...Array.from({ length: 21 }, () => 0)]
    expect(summarize(today, 3).average).toBe(2)
  })

  it('has no peak and no average when there is nothing to count', () => {
    expect(summarize([0, 0, 0])).toEqual({ total: 0, average: 0, peak: null })
    expect(summarize([0, 0], 0).average).toBeNull()
  })

  it('takes the first of equal peaks', () => {
    expect(summarize([2, 5, 5]).peak).toEqual({ index: 1, value: 5 })
  })
})

describe('sumSeries', () => {
  it('adds devices hour by hour, treating missing values as zero', () => {
    expect(sumSeries([[1, 2, 3], [0.5, 0.5], []], 3)).toEqual([1.5, 2.5, 3])
  })

  it('gives zeros for no devices', () => {
    expect(sumSeries([], 2)).toEqual([0, 0])
  })
})

describe('formatting', () => {
  it('shows kWh with a precision that fits the size', () => {
    expect(formatKwh(0)).toBe('0 kWh')
    expect(formatKwh(0.0423)).toBe('0.042 kWh')
    expect(formatKwh(1.256)).toBe('1.26 kWh')
    expect(formatKwh(12.34)).toBe('12.3 kWh')
    expect(formatKwh(1250.4)).toBe('1,250 kWh')
  })

  it('labels ticks with the digits the step needs', () => {
    expect(formatTick(2, 1)).toBe('2')
    expect(formatTick(0.4, 0.2)).toBe('0.4')
    expect(formatTick(0.25, 0.25)).toBe('0.25')
    expect(formatTick(7.5, 2.5)).toBe('7.5')
    expect(formatTick(10, 2.5)).toBe('10.0')
  })

  it('thins category labels on narrow charts', () => {
    expect(labelEvery(24, 900)).toBe(1)
    expect(labelEvery(24, 400)).toBe(2)
    expect(labelEvery(24, 280)).toBe(3)
    expect(labelEvery(31, 300)).toBe(4)
  })
})
