// Axis scaling and the figures under the chart. Pure functions so they can be tested.

export interface Scale {
  max: number
  step: number
  ticks: number[]
}

/**
 * A "nice" axis from 0 to at least `maxValue` with about `targetTicks` steps of 1, 2, 2.5 or
 * 5 times a power of ten. An all-zero series still gets a usable axis (0 to 1).
 */
export function niceScale(maxValue: number, targetTicks = 4): Scale {
  const top = Number.isFinite(maxValue) && maxValue > 0 ? maxValue : 1
  const rough = top / targetTicks
  const power = 10 ** Math.floor(Math.log10(rough))
  const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= rough) ?? 10 * power
  const count = Math.ceil(top / step - 1e-9)
  const ticks = Array.from({ length: count + 1 }, (_, i) => round(i * step))
  return { max: round(count * step), step, ticks }
}

function round(value: number): number {
  return Math.round(value * 1e9) / 1e9
}

export interface Summary {
  total: number
  /** Mean over the buckets that count (elapsed ones), or null when none does. */
  average: number | null
  /** The largest bucket, or null when every bucket is zero. */
  peak: { index: number; value: number } | null
}

/**
 * Total, average and peak of a series. `countedBuckets` limits the average to the first n
 * buckets — today's future hours are not yet zero consumption, they simply have not happened.
 */
export function summarize(values: readonly number[], countedBuckets = values.length): Summary {
  const total = values.reduce((sum, v) => sum + v, 0)
  const counted = Math.max(0, Math.min(countedBuckets, values.length))
  let peak: Summary['peak'] = null
  values.forEach((value, index) => {
    if (value > 0 && (peak === null || value > peak.value)) peak = { index, value }
  })
  return { total, average: counted > 0 ? total / counted : null, peak }
}

/** Element-wise sum of several equally long series (the "all my devices" view). */
export function sumSeries(series: readonly (readonly number[])[], length: number): number[] {
  const total = Array.from({ length }, () => 0)
  for (const values of series) {
    for (let i = 0; i < length; i++) total[i] += values[i] ?? 0
  }
  return total
}

/** kWh with a precision that suits its size: 0.042, 1.25, 12.5, 1,250. */
export function formatKwh(value: number, unit = true): string {
  const abs = Math.abs(value)
  const digits = abs === 0 ? 0 : abs < 1 ? 3 : abs < 10 ? 2 : abs < 100 ? 1 : 0
  const text = value.toLocaleString('en-GB', {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  })
  return unit ? `${text} kWh` : text
}

/** Axis labels: short, and no more digits than the step needs. */
export function formatTick(value: number, step: number): string {
  const digits = Math.min(3, (String(Number(step.toFixed(6))).split('.')[1] ?? '').length)
  return value.toLocaleString('en-GB', { minimumFractionDigits: digits, maximumFractionDigits: digits })
}

/** Which of n category labels to print so that they do not collide in `width` pixels. */
export function labelEvery(count: number, width: number, minLabelPx = 28): number {
  if (count <= 0) return 1
  const fits = Math.max(1, Math.floor(width / minLabelPx))
  for (const every of [1, 2, 3, 4, 6, 8, 12, 24]) {
    if (Math.ceil(count / every) <= fits) return every
  }
  return Math.ceil(count / fits)
}
