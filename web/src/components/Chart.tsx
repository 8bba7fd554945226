import { useState, type KeyboardEvent, type MouseEvent } from 'react'
import { useElementWidth } from '../hooks/useElementWidth'
import { formatKwh, formatTick, labelEvery, niceScale } from '../lib/chart'

export type ChartKind = 'bar' | 'line'

export interface ChartProps {
  values: readonly number[]
  /** Axis label per bucket ("14", "Mon 3"). */
  labels: readonly string[]
  /** Shorter labels for when `labels` would collide ("3"). */
  shortLabels?: readonly string[]
  /** Full description per bucket for the tooltip ("14:00–15:00 UTC"). */
  titles: readonly string[]
  kind: ChartKind
  /** A dashed reference line (the device's hourly limit). */
  limit?: number | null
  ariaLabel: string
  emptyText?: string
  height?: number
  /** A bucket that just changed, briefly highlighted. */
  flashIndex?: number | null
  /** A second figure per bucket for the tooltip and the table (its cost), or null. */
  details?: readonly (string | null)[]
}

const M = { top: 14, right: 12, bottom: 28, left: 46 }

/** A hand-rolled SVG bar/line chart: small, bundled, keyboard- and screen-reader-usable. */
export function Chart({ values, labels: longLabels, shortLabels, titles, kind, limit, ariaLabel, emptyText, height = 260, flashIndex, details }: ChartProps) {
  const [wrapRef, width] = useElementWidth<HTMLDivElement>()
  const [active, setActive] = useState<number | null>(null)
  const n = values.length
  const maxValue = Math.max(0, ...values)
  const scale = niceScale(Math.max(maxValue, limit ? limit * 1.08 : 0))
  const plotW = Math.max(10, width - M.left - M.right)
  const plotH = Math.max(10, height - M.top - M.bottom)
  const band = plotW / Math.max(1, n)
  const x = (i: number) => M.left + band * i + band / 2
  const y = (v: number) => M.top + plotH - (v / scale.max) * plotH
  // About 6.5 px per character at the axis' 11 px font, plus some air between labels.
  const widthOf = (list: readonly string[]) => Math.max(22, ...list.map((l) => l.length * 6.5 + 10))
  const labels = shortLabels && labelEvery(n, plotW, widthOf(longLabels)) > 1 ? shortLabels : longLabels
  const every = labelEvery(n, plotW, widthOf(labels))
  const allZero = maxValue === 0

  const onMove = (event: MouseEvent<SVGSVGElement>) => {
    const box = event.currentTarget.getBoundingClientRect()
    const i = Math.floor((event.clientX - box.left - M.left) / band)
    setActive(i >= 0 && i < n ? i : null)
  }
  const onKey = (event: KeyboardEvent<HTMLDivElement>) => {
    const current = active ?? -1
    const moves: Record<string, number> = { ArrowLeft: current - 1, ArrowRight: current + 1, Home: 0, End: n - 1 }
    if (!(event.key in moves)) return
    event.preventDefault()
    setActive(Math.min(n - 1, Math.max(0, moves[event.key])))
  }

  const linePath = values.map((v, i) => `${i === 0 ? 'M' : 'L'}${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ')
  const areaPath = n > 0 ? `${linePath} L${x(n - 1).toFixed(1)},${y(0)} L${x(0).toFixed(1)},${y(0)} Z` : ''
  const tip = active !== null ? { left: Math.min(Math.max(x(active), 70), width - 70), top: y(values[active]) } : null

  return (
    <div
      className="chart"
      ref={wrapRef}
      tabIndex={0}
      role="group"
      aria-label={`${ariaLabel}. Use the arrow keys to read each value.`}
      onKeyDown={onKey}
      onBlur={() => setActive(null)}
    >
      <svg width={width} height={height} onMouseMove={onMove} onMouseLeave={() => setActive(null)} aria-hidden="true">
        {scale.ticks.map((t) => (
          <g key={t} className="chart-grid">
            <line x1={M.left} x2={M.left + plotW} y1={y(t)} y2={y(t)} />
            <text x={M.left - 8} y={y(t)} dy="0.32em" textAnchor="end">
              {formatTick(t, scale.step)}
            </text>
          </g>
        ))}
        {active !== null && <rect className="chart-hover" x={M.left + band * active} y={M.top} width={band} height={plotH} />}
        {kind === 'bar'
          ? values.map((v, i) => {
              const h = Math.max(0, y(0) - y(v))
              const w = Math.max(1, band * 0.68)
              const over = limit != null && v > limit
              return (
                <rect
                  key={i}
                  className={`chart-bar${over ? ' over' : ''}${i === active ? ' active' : ''}${i === flashIndex ? ' flash' : ''}`}
                  x={x(i) - w / 2}
                  y={y(0) - h}
                  width={w}
                  height={h}
                  rx={Math.min(3, w / 4)}
                />
              )
            })
          : n > 0 && (
              <g>
                <path className="chart-area" d={areaPath} />
                <path className="chart-line" d={linePath} />
                {values.map((v, i) => (
                  <circle
                    key={i}
                    className={`chart-dot${limit != null && v > limit ? ' over' : ''}${i === active ? ' active' : ''}${i === flashIndex ? ' flash' : ''}`}
                    cx={x(i)}
                    cy={y(v)}
                    r={i === active ? 4.5 : n > 40 ? 0 : 2.5}
                  />
                ))}
              </g>
            )}
        {limit != null && limit > 0 && (
          <g className="chart-limit">
            <line x1={M.left} x2={M.left + plotW} y1={y(limit)} y2={y(limit)} />
            <text x={M.left + plotW} y={y(limit) - 5} textAnchor="end">
              limit {formatKwh(limit, false)}
            </text>
          </g>
        )}
        <line className="chart-axis" x1={M.left} x2={M.left + plotW} y1={y(0)} y2={y(0)} />
        {labels.map((label, i) =>
          i % every === 0 ? (
            <text key={i} className="chart-xlabel" x={x(i)} y={height - 8} textAnchor="middle">
              {label}
            </text>
          ) : null,
        )}
      </svg>
      {allZero && emptyText && <p className="chart-empty">{emptyText}</p>}
      {tip && active !== null && (
        <div className="chart-tip" style={{ left: tip.left, top: tip.top }} role="status">
          <span>{titles[active]}</span>
          <strong>{formatKwh(values[active])}</strong>
          {details?.[active] && <span className="chart-tip-detail">{details[active]}</span>}
        </div>
      )}
      {/* A table ignores a 1px height: the visually hidden wrapper must be a block. */}
      <div className="sr-only">
      <table>
        <caption>{ariaLabel}</caption>
        <tbody>
          {values.map((v, i) => (
            <tr key={i}>
              <th scope="row">{titles[i]}</th>
              <td>{formatKwh(v)}</td>
              {details && <td>{details[i] ?? ''}</td>}
            </tr>
          ))}
        </tbody>
      </table>
      </div>
    </div>
  )
}
