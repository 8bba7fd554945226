import { useEffect, useMemo, useRef, useState, type ReactNode } from 'react'
import { useSearchParams } from 'react-router-dom'
import { consumption } from '../api/endpoints'
import { ApiError, describeError } from '../api/errors'
import type { Device } from '../api/types'
import { useApi } from '../auth/AuthProvider'
import { useAsync } from '../hooks/useAsync'
import { formatKwh, summarize } from '../lib/chart'
import { downloadBlob, downloadText } from '../lib/csv'
import {
  applyUpdate,
  elapsedBuckets,
  isLivePeriod,
  loadSeries,
  seriesCsv,
  totalSeries,
  type ConsumptionUpdate,
} from '../lib/consumption'
import {
  formatDay,
  formatPeriod,
  formatShortDay,
  isIsoDate,
  periodRange,
  shiftPeriod,
  todayUtc,
  type Period,
} from '../lib/dates'
import { useDeviceNames } from '../realtime/DeviceNames'
import { useRealtime, useRealtimeMessage, useResync } from '../realtime/RealtimeProvider'
import { Chart, type ChartKind } from './Chart'
import { Icon } from './Icon'
import { Segmented } from './Segmented'
import { ErrorState, Loading } from './States'
import { useToast } from './Toasts'

const PERIODS = [
  { value: 'day', label: 'Day' },
  { value: 'week', label: 'Week' },
  { value: 'month', label: 'Month' },
] as const
const KINDS = [
  { value: 'bar', label: 'Bars' },
  { value: 'line', label: 'Line' },
] as const

/**
 * The consumption explorer shared by clients (their devices) and admins (one client's): the
 * selection lives in the URL so that reloads, links and the back button keep it.
 */
export function ConsumptionView({
  devices,
  allLabel = 'All my devices',
  allAreMine = true,
  noDevices,
}: {
  devices: readonly Device[]
  allLabel?: string
  /** "All" is every device the caller may see (a client), so the server can export it whole. */
  allAreMine?: boolean
  noDevices: ReactNode
}) {
  const api = useApi()
  const toast = useToast()
  const names = useDeviceNames()
  const { status } = useRealtime()
  const [params, setParams] = useSearchParams()
  const today = todayUtc()

  useEffect(() => names.remember(devices), [devices, names])

  const defaultDevice = devices.length === 1 ? devices[0].id : 'all'
  const requested = params.get('device')
  const deviceParam = requested && (requested === 'all' || devices.some((d) => d.id === requested)) ? requested : defaultDevice
  const period = (['day', 'week', 'month'].includes(params.get('period') ?? '') ? params.get('period') : 'day') as Period
  const date = isIsoDate(params.get('date') ?? '') ? (params.get('date') as string) : today
  const kind = (params.get('chart') === 'line' ? 'line' : 'bar') as ChartKind

  const update = (changes: Record<string, string>) =>
    setParams(
      (current) => {
        const next = new URLSearchParams(current)
        for (const [k, v] of Object.entries(changes)) next.set(k, v)
        return next
      },
      { replace: true },
    )

  const deviceIds = useMemo(
    () => (deviceParam === 'all' ? devices.map((d) => d.id) : [deviceParam]),
    [deviceParam, devices],
  )
  const idsKey = deviceIds.join(',')
  const series = useAsync((signal) => loadSeries(api, deviceIds, period, date, signal), [api, idsKey, period, date])
  useResync(series.reload)

  // Live: a day view is patched in place; a week or month refetches (debounced) because an
  // update carries an hour's total, not the change to the day's.
  const refetchTimer = useRef<ReturnType<typeof setTimeout> | null>(null)
  const [flash, setFlash] = useState<number | null>(null)
  useRealtimeMessage('consumption.updated', (message) => {
    const data = series.data
    if (!data || typeof message.device_id !== 'string' || typeof message.hour !== 'string') return
    const change = { device_id: message.device_id, hour: message.hour, kwh: Number(message.kwh) } as ConsumptionUpdate
    const result = applyUpdate(data, change)
    if (result === null) return
    if (result === 'refetch') {
      if (refetchTimer.current) clearTimeout(refetchTimer.current)
      refetchTimer.current = setTimeout(series.reload, 800)
      return
    }
    // Several updates can arrive before React renders again: each patches the latest data,
    // not this render's, or the last one would undo the others.
    series.setData((current) => {
      const latest = current ? applyUpdate(current, change) : null
      return latest && latest !== 'refetch' ? latest : (current ?? result)
    })
    const index = result.starts.findIndex((s) => Date.parse(s) === Date.parse(message.hour as string))
    setFlash(index)
  })
  useEffect(() => {
    if (flash === null) return
    const timer = setTimeout(() => setFlash(null), 1200)
    return () => clearTimeout(timer)
  }, [flash])
  useEffect(() => () => {
    if (refetchTimer.current) clearTimeout(refetchTimer.current)
  }, [])

  if (devices.length === 0) return <>{noDevices}</>

  const data = series.data
  const values = data ? totalSeries(data, deviceIds) : []
  const summary = summarize(values, data ? elapsedBuckets(data) : 0)
  const single = deviceParam === 'all' ? null : devices.find((d) => d.id === deviceParam) ?? null
  const limit = period === 'day' && single ? single.max_hourly_kwh : null
  const overHours = limit ? values.filter((v) => v > limit).length : 0
  const labels = data ? bucketLabels(period, data.starts) : []
  const titles = data ? bucketTitles(period, data.starts) : []
  const nextStart = periodRange(period, shiftPeriod(period, date, 1)).start
  const live = isLivePeriod(periodRange(period, date))
  const selectionName = single ? single.name : allLabel

  const downloadCsv = async () => {
    if (!data) return
    const range = periodRange(period, date)
    const filename = `consumption-${slug(selectionName)}-${range.start}${range.end !== range.start ? `_${range.end}` : ''}.csv`
    if (single || allAreMine) {
      try {
        const bucket = period === 'day' ? 'hour' : 'day'
        downloadBlob(filename, await consumption.csv(api, single?.id, range.start, range.end, bucket))
        return
      } catch (error) {
        if (error instanceof ApiError && ![404, 405, 501].includes(error.status)) {
          toast({ tone: 'error', title: 'Download failed', body: describeError(error) })
          return
        }
      }
    }
    downloadText(filename, seriesCsv(data, deviceIds, (id) => names.name(id)))
  }

  return (
    <div className="consumption">
      <div className="card toolbar" role="toolbar" aria-label="Consumption view">
        <div className="toolbar-row">
          <label className="inline-field">
            <span>Device</span>
            <select value={deviceParam} onChange={(e) => update({ device: e.target.value })}>
              {devices.length > 1 && <option value="all">{allLabel}</option>}
              {devices.map((d) => (
                <option key={d.id} value={d.id}>
                  {d.name}
                </option>
              ))}
            </select>
          </label>
          <div className="toolbar-group">
            <Segmented label="Period" value={period} options={PERIODS} onChange={(v) => update({ period: v })} />
            <Segmented label="Chart type" value={kind} options={KINDS} onChange={(v) => update({ chart: v })} />
          </div>
        </div>
        <div className="toolbar-row">
          <div className="date-nav">
            <button type="button" className="btn btn-icon" onClick={() => update({ date: shiftPeriod(period, date, -1) })} aria-label={`Previous ${period}`}>
              <Icon name="left" />
            </button>
            <label className="sr-only" htmlFor="consumption-date">
              Date
            </label>
            <input
              id="consumption-date"
              type="date"
              value={date}
              max={today}
              onChange={(e) => isIsoDate(e.target.value) && update({ date: e.target.value })}
            />
            <button
              type="button"
              className="btn btn-icon"
              onClick={() => update({ date: shiftPeriod(period, date, 1) })}
              disabled={nextStart > today}
              aria-label={`Next ${period}`}
            >
              <Icon name="right" />
            </button>
            <button type="button" className="btn btn-sm" onClick={() => update({ date: today })} disabled={date === today}>
              Today
            </button>
          </div>
        </div>
      </div>

      <section className="card chart-card" aria-labelledby="chart-title" aria-busy={series.loading}>
        <header className="card-header">
          <div>
            <h2 id="chart-title">{formatPeriod(period, date)}</h2>
            <p className="muted">
              {selectionName} · {period === 'day' ? 'kWh per hour (UTC)' : 'kWh per day'}
            </p>
          </div>
          <div className="card-header-actions">
            {live && (
              <span className={`live-pill ${status === 'open' ? 'on' : 'off'}`} title={status === 'open' ? 'Updates as readings arrive' : 'Reconnecting to live updates'}>
                <span className="dot" aria-hidden="true" /> {status === 'open' ? 'Live' : 'Reconnecting…'}
              </span>
            )}
            <button type="button" className="btn btn-sm" onClick={() => void downloadCsv()} disabled={!data} aria-label="Download CSV">
              <Icon name="download" /> CSV
            </button>
          </div>
        </header>

        <dl className="stats">
          <div>
            <dt>Total</dt>
            <dd data-testid="stat-total">{data ? formatKwh(summary.total) : '—'}</dd>
          </div>
          <div>
            <dt>Average</dt>
            <dd>
              {data && summary.average !== null ? formatKwh(summary.average) : '—'}
              <small> / {period === 'day' ? 'hour' : 'day'}</small>
            </dd>
          </div>
          <div>
            <dt>Peak</dt>
            <dd>
              {data && summary.peak ? (
                <>
                  {formatKwh(summary.peak.value)}
                  <small> {period === 'day' ? `at ${labels[summary.peak.index]}:00` : `on ${formatShortDay(data.starts[summary.peak.index].slice(0, 10))}`}</small>
                </>
              ) : (
                '—'
              )}
            </dd>
          </div>
          {limit !== null && (
            <div>
              <dt>Limit</dt>
              <dd className={overHours > 0 ? 'over' : undefined}>
                {formatKwh(limit)}
                <small> / hour{overHours > 0 ? ` · exceeded ${overHours}×` : ''}</small>
              </dd>
            </div>
          )}
        </dl>

        {series.error ? (
          <ErrorState error={series.error} onRetry={series.reload} title="Couldn't load consumption" />
        ) : !data ? (
          <Loading label="Loading consumption…" />
        ) : (
          <Chart
            values={values}
            labels={labels}
            shortLabels={period === 'week' ? data.starts.map((s) => String(Number(s.slice(8, 10)))) : undefined}
            titles={titles}
            kind={kind}
            limit={limit}
            flashIndex={flash}
            ariaLabel={`${selectionName}, ${formatPeriod(period, date)}: total ${formatKwh(summary.total)}`}
            emptyText={period === 'day' ? 'No readings for this day yet.' : 'No readings in this period yet.'}
          />
        )}
      </section>
    </div>
  )
}

function bucketLabels(period: Period, starts: readonly string[]): string[] {
  if (period === 'day') return starts.map((s) => s.slice(11, 13))
  if (period === 'week') return starts.map((s) => formatShortDay(s.slice(0, 10)))
  return starts.map((s) => String(Number(s.slice(8, 10))))
}

function bucketTitles(period: Period, starts: readonly string[]): string[] {
  if (period === 'day') {
    return starts.map((s) => {
      const h = Number(s.slice(11, 13))
      return `${pad(h)}:00–${pad((h + 1) % 24)}:00 UTC`
    })
  }
  return starts.map((s) => formatDay(s.slice(0, 10)))
}

function pad(n: number): string {
  return String(n).padStart(2, '0')
}

function slug(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'devices'
}
