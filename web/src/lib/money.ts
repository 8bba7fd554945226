// Money as the server sends it (a JSON number rounded to 4 decimals, with its currency) and
// as people read it: Intl's currency formatting, two decimals.

const formatters = new Map<string, Intl.NumberFormat>()

/** "RON 12.34", "€0.23"; null (no tariff) is shown as nothing known: "—". */
export function formatMoney(amount: number | null | undefined, currency: string | null | undefined): string {
  if (amount === null || amount === undefined || !currency) return '—'
  let format = formatters.get(currency)
  if (!format) {
    try {
      format = new Intl.NumberFormat('en-GB', { style: 'currency', currency, minimumFractionDigits: 2, maximumFractionDigits: 2 })
    } catch {
      // Not an ISO 4217 code Intl knows: the number, then the code.
      format = new Intl.NumberFormat('en-GB', { minimumFractionDigits: 2, maximumFractionDigits: 2 })
      return `${format.format(amount)} ${currency}`
    }
    formatters.set(currency, format)
  }
  return format.format(amount)
}

export interface Priced {
  /** Left out or null: not priced (no tariff). */
  cost?: number | null
  currency?: string | null
}

export interface PricedTotal {
  cost: number | null
  currency: string | null
}

/**
 * The cost of several devices together, by the server's rule: devices without a tariff add
 * no cost; none priced → null; different currencies → null (no sum across currencies).
 */
export function sumCosts(parts: readonly Priced[]): PricedTotal {
  const priced = parts.filter((p) => typeof p.cost === 'number' && p.currency)
  if (priced.length === 0) return { cost: null, currency: null }
  const currencies = new Set(priced.map((p) => p.currency))
  if (currencies.size > 1) return { cost: null, currency: null }
  const cost = priced.reduce((sum, p) => sum + (p.cost as number), 0)
  return { cost: Math.round(cost * 1e4) / 1e4, currency: priced[0].currency as string }
}

/** "+12.5%", "−3.0%", "0.0%"; null (nothing to compare with) → "n/a". */
export function formatChange(pct: number | null | undefined): string {
  if (pct === null || pct === undefined || !Number.isFinite(pct)) return 'n/a'
  const rounded = Math.round(pct * 10) / 10
  const text = Math.abs(rounded).toLocaleString('en-GB', { minimumFractionDigits: 1, maximumFractionDigits: 1 })
  return rounded > 0 ? `+${text}%` : rounded < 0 ? `−${text}%` : `${text}%`
}

/** The percentage change from `base` to `value`, null when the base is 0 (as the server does). */
export function percentChange(value: number, base: number): number | null {
  if (base === 0) return null
  return Math.round(((value - base) / base) * 100 * 100) / 100
}
