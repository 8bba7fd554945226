import { useEffect, useMemo, useRef, useState, type ReactNode } from 'react'
import { useSearchParams } from 'react-router-dom'
import { consumption, type Selection } from '../api/endpoints'
import { ApiError, describeError } from '../api/errors'
import type { Comparison, Device, MonthToDate } from '../api/types'
import { useApi } from '../auth/AuthProvider'
import { useAsync } from '../hooks/useAsync'
import { formatKwh, summarize } from '../lib/chart'
import { downloadBlob, downloadText } from '../lib/csv'
import { sumComparisons, sumMonthToDate, trend } from '../lib/compare'
import {
  applyUpdate,
  bucketLabel,
  bucketOf,
  elapsedBuckets,
  hourTitle,
  isLivePeriod,
  loadSeries,
  seriesCsv,
  totalCosts,
  totalSeries,
  type ConsumptionUpdate,
} from '../lib/consumption'
import {
  formatDay,
  formatDayMonth,
  formatMonth,
  formatPeriod,
  formatShortDay,
  isIsoDate,
  localParts,
  periodRange,
  shiftPeriod,
  todayIn,
  addDays,
  type Period,
} from '../lib/dates'
import { formatChange, formatMoney } from '../lib/money'
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
  { value: 'year', label: 'Year' },
] as const
const YEAR_BUCKETS = [
  { value: 'month', label: 'Months' },
  { value: 'week', label: 'Weeks' },
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
  timeZone,
  allLabel = 'All my devices',
  allAreMine = true,
  noDevices,
}: {
  devices: readonly Device[]
  /** The zone days and hours are cut in: the viewer's profile zone (an admin: the client's). */
  timeZone: string
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
  const today = todayIn(timeZone)

  useEffect(() => names.remember(devices), [devices, names])

  const defaultDevice = devices.length === 1 ? devices[0].id : 'all'
  const requested = params.get('device')
  const deviceParam = requested && (requested === 'all' || devices.some((d) => d.id === requested)) ? requested : defaultDevice
  const period = (['day', 'week', 'month', 'year'].includes(params.get('period') ?? '') ? params.get('period') : 'day') as Period
  const yearBucket = params.get('bucket') === 'week' ? 'week' : 'month'
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
  const series = useAsync(
    (signal) => loadSeries(api, deviceIds, period, date, { tz: timeZone, yearBucket }, signal),
    [api, idsKey, period, date, timeZone, yearBucket],
  )
  // One answer for one device or all of the caller's own; an admin's "all of a client's" adds
  // the client's devices up.
  const selections = useMemo<Selection[]>(
    () => (deviceParam === 'all' && allAreMine ? [{ tz: timeZone }] : deviceIds.map((deviceId) => ({ deviceId, tz: timeZone }))),
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [deviceParam, allAreMine, idsKey, timeZone],
  )
  const comparePeriod = period === 'year' ? null : period
  const comparison = useAsync(
    async (signal) =>
      comparePeriod ? sumComparisons(await Promise.all(selections.map((s) => consumption.compare(api, comparePeriod, date, s, signal)))) : null,
    [api, selections, comparePeriod, date],
  )
  const monthSoFar = useAsync(
    async (signal) => sumMonthToDate(await Promise.all(selections.map((s) => consumption.monthToDate(api, s, signal)))),
    [api, selections],
  )
  const reloadFigures = () => {
    series.reload()
    comparison.reload()
    monthSoFar.reload()
  }
  useResync(reloadFigures)

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
    // The figures beside the chart (costs, comparison, month so far) follow shortly.
    if (refetchTimer.current) clearTimeout(refetchTimer.current)
    // A priced day view asks again too: an hour's cost comes from the server's tariff.
    const priced = Object.values(data.totals).some((t) => t.currency)
    refetchTimer.current = setTimeout(() => {
      if (result === 'refetch' || priced) series.reload()
      comparison.reload()
      monthSoFar.reload()
    }, 800)
    if (result === 'refetch') return
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
  const costs = data ? totalCosts(data, deviceIds) : null
  const currency = costs?.total.currency ?? null
  const summary = summarize(values, data ? elapsedBuckets(data) : 0)
  const single = deviceParam === 'all' ? null : devices.find((d) => d.id === deviceParam) ?? null
  const limit = period === 'day' && single ? single.max_hourly_kwh : null
  const overHours = limit ? values.filter((v) => v > limit).length : 0
  const bucket = bucketOf(period, yearBucket)
  const labels = data ? data.starts.map((s) => (period === 'week' ? formatShortDay(localParts(s).date) : bucketLabel(bucket, s))) : []
  const titles = data ? bucketTitles(bucket, data.starts) : []
  const details = costs && currency ? costs.perBucket.map((c) => (c === null ? null : formatMoney(c, currency))) : undefined
  const nextStart = periodRange(period, shiftPeriod(period, date, 1)).start
  const live = isLivePeriod(periodRange(period, date), today)
  const selectionName = single ? single.name : allLabel
  const zoneName = data?.timeZone ?? timeZone
  const bucketWord = { hour: 'hour', day: 'day', week: 'week', month: 'month' }[bucket]

  const downloadCsv = async () => {
    if (!data) return
    const range = periodRange(period, date)
    const filename = `consumption-${slug(selectionName)}-${range.start}${range.end !== range.start ? `_${range.end}` : ''}.csv`
    if (single || allAreMine) {
      try {
        downloadBlob(filename, await consumption.csv(api, range.start, range.end, bucket, { deviceId: single?.id, tz: timeZone }))
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
            {period === 'year' && <Segmented label="Buckets" value={yearBucket} options={YEAR_BUCKETS} onChange={(v) => update({ bucket: v })} />}
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
              {selectionName} · kWh{currency ? ` and cost (${currency})` : ''} per {bucketWord} · <span data-testid="chart-zone">{zoneName}</span>
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
            <dt>Cost</dt>
            <dd data-testid="stat-cost" title={costs && !currency ? 'No tariff on these devices, or tariffs in different currencies' : undefined}>
              {costs ? formatMoney(costs.total.cost, currency) : '—'}
            </dd>
          </div>
          <div>
            <dt>Average</dt>
            <dd>
              {data && summary.average !== null ? formatKwh(summary.average) : '—'}
              <small> / {bucketWord}</small>
            </dd>
          </div>
          <div>
            <dt>Peak</dt>
            <dd>
              {data && summary.peak ? (
                <>
                  {formatKwh(summary.peak.value)}
                  <small> {peakWhen(bucket, data.starts[summary.peak.index])}</small>
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
            shortLabels={period === 'week' ? data.starts.map((s) => bucketLabel('day', s)) : undefined}
            titles={titles}
            kind={kind}
            limit={limit}
            flashIndex={flash}
            details={details}
            ariaLabel={`${selectionName}, ${formatPeriod(period, date)}: total ${formatKwh(summary.total)}`}
            emptyText={period === 'day' ? 'No readings for this day yet.' : 'No readings in this period yet.'}
          />
        )}
        {data && period === 'day' && data.starts.length !== 24 && (
          <p className="muted chart-note" data-testid="dst-note">
            This day had {data.starts.length} hours in {zoneName}: the clocks changed.
          </p>
        )}
      </section>

      <div className="figure-cards">
        {comparePeriod && <CompareCard state={comparison} period={comparePeriod} />}
        <MonthSoFarCard state={monthSoFar} />
      </div>
    </div>
  )
}

const PERIOD_WORDS = { day: ['day', 'yesterday'], week: ['week', 'last week'], month: ['month', 'last month'] } as const

/** This period against the one before and the same period a year before, from /compare. */
function CompareCard({ state, period }: { state: { data?: Comparison | null; error: unknown; reload: () => void }; period: 'day' | 'week' | 'month' }) {
  const data = state.data
  return (
    <section className="card compare-card" aria-labelledby="compare-title" aria-busy={!data && !state.error}>
      <h2 id="compare-title" className="card-title">
        Compared with before
      </h2>
      {state.error ? (
        <ErrorState error={state.error} onRetry={state.reload} title="Couldn't load the comparison" />
      ) : !data ? (
        <Loading inline label="Comparing…" />
      ) : (
        <>
          <p className="muted">
            This {PERIOD_WORDS[period][0]} ({periodSpan(data.current.start, data.current.end)}): <strong>{formatKwh(data.current.kwh)}</strong>
            {data.current.cost != null && <> · {formatMoney(data.current.cost, data.currency)}</>}
            {data.partial && <> · so far, against the same stretch of time before</>}
          </p>
          <dl className="compare-rows">
            <CompareRow testId="compare-previous" label={`Previous ${PERIOD_WORDS[period][0]}`} figures={data.previous} pct={data.change_vs_previous_pct} currency={data.currency} />
            <CompareRow testId="compare-year" label="A year before" figures={data.year_before} pct={data.change_vs_year_before_pct} currency={data.currency} />
          </dl>
        </>
      )}
    </section>
  )
}

function CompareRow({ testId, label, figures, pct, currency }: { testId: string; label: string; figures: Comparison['previous']; pct: number | null; currency?: string | null }) {
  return (
    <div data-testid={testId}>
      <dt>
        {label} <span className="muted">({periodSpan(figures.start, figures.end)})</span>
      </dt>
      <dd>
        <span data-testid={`${testId}-kwh`}>{formatKwh(figures.kwh)}</span>
        {figures.cost != null && <span className="muted"> · {formatMoney(figures.cost, currency)}</span>}
        <span className={`change change-${trend(pct)}`} data-testid={`${testId}-pct`} title={pct === null ? 'Nothing to compare with: that period used 0 kWh' : undefined}>
          {formatChange(pct)}
        </span>
      </dd>
    </div>
  )
}

/** "3 Mar" or "3 Mar – 9 Mar" from local dates with an exclusive end. */
function periodSpan(start: string, endExclusive: string): string {
  const first = localParts(start).date
  const last = addDays(localParts(endExclusive).date, -1)
  return last <= first ? formatDayMonth(first) : `${formatDayMonth(first)} – ${formatDayMonth(last)}`
}

/** The month so far and where it is heading, from /month-to-date. */
function MonthSoFarCard({ state }: { state: { data?: MonthToDate; error: unknown; reload: () => void } }) {
  const data = state.data
  return (
    <section className="card month-card" aria-labelledby="month-title" aria-busy={!data && !state.error}>
      <h2 id="month-title" className="card-title">
        {data ? `${formatMonth(`${data.month}-01`)} so far` : 'This month so far'}
      </h2>
      {state.error ? (
        <ErrorState error={state.error} onRetry={state.reload} title="Couldn't load this month" />
      ) : !data ? (
        <Loading inline label="Loading this month…" />
      ) : (
        <dl className="stats stats-compact">
          <div>
            <dt>Used</dt>
            <dd data-testid="mtd-kwh">{formatKwh(data.kwh)}</dd>
          </div>
          <div>
            <dt>Cost</dt>
            <dd data-testid="mtd-cost">{formatMoney(data.cost, data.currency)}</dd>
          </div>
          <div>
            <dt>Projected</dt>
            <dd data-testid="mtd-projected">
              {formatKwh(data.projected_kwh)}
              {data.projected_cost != null && <small> · {formatMoney(data.projected_cost, data.currency)}</small>}
            </dd>
          </div>
          <div>
            <dt>Month gone</dt>
            <dd>
              <span className="progress" role="progressbar" aria-label="Share of the month gone" aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.round(data.elapsed_fraction * 100)}>
                <span style={{ width: `${Math.min(100, data.elapsed_fraction * 100)}%` }} />
              </span>
              <small> {Math.round(data.elapsed_fraction * 100)}%</small>
            </dd>
          </div>
        </dl>
      )}
    </section>
  )
}

function peakWhen(bucket: string, start: string): string {
  const { date, time } = localParts(start)
  if (bucket === 'hour') return `at ${time}`
  if (bucket === 'month') return `in ${formatMonth(date)}`
  if (bucket === 'week') return `in the week of ${formatDayMonth(date)}`
  return `on ${formatDayMonth(date)}`
}

function bucketTitles(bucket: string, starts: readonly string[]): string[] {
  if (bucket === 'hour') return starts.map((_, i) => hourTitle(starts, i))
  if (bucket === 'month') return starts.map((s) => formatMonth(localParts(s).date))
  if (bucket === 'week') return starts.map((s) => `Week of ${formatDay(localParts(s).date)}`)
  return starts.map((s) => formatDay(localParts(s).date))
}

function slug(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'devices'
}
