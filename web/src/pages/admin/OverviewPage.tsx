import { useEffect, useState } from 'react'
import { Link } from 'react-router-dom'
import { consumption } from '../../api/endpoints'
import type { Overview } from '../../api/types'
import { useApi } from '../../auth/AuthProvider'
import { PageHeader } from '../../components/Layout'
import { EmptyState, ErrorState, Loading } from '../../components/States'
import { useAsync } from '../../hooks/useAsync'
import { formatKwh } from '../../lib/chart'
import { formatAgo, formatMomentIn } from '../../lib/dates'
import { formatMoney } from '../../lib/money'
import { useRealtimeMessage } from '../../realtime/RealtimeProvider'

/** How often the overview asks again by itself. */
export const OVERVIEW_REFRESH_MS = 10_000

/** The admins' landing page: the fleet today, what needs attention now, refreshed by itself. */
export function OverviewPage() {
  const api = useApi()
  const overview = useAsync((signal) => consumption.overview(api, signal), [api])
  const [updatedAt, setUpdatedAt] = useState<Date | null>(null)
  useEffect(() => {
    if (overview.data) setUpdatedAt(new Date())
  }, [overview.data])
  useEffect(() => {
    const timer = setInterval(overview.reload, OVERVIEW_REFRESH_MS)
    return () => clearInterval(timer)
  }, [overview.reload])
  // Something happened across the fleet: no need to wait for the next refresh.
  useRealtimeMessage('notify.digest', overview.reload)

  const data = overview.data
  return (
    <>
      <PageHeader
        title="Overview"
        description={
          <>
            The fleet today{data ? ` (${data.time_zone})` : ''}, and what needs attention now.{' '}
            <span className="muted" data-testid="overview-updated" aria-live="off">
              {updatedAt ? `Updated ${updatedAt.toLocaleTimeString('en-GB')}, every ${OVERVIEW_REFRESH_MS / 1000} s.` : ''}
            </span>
          </>
        }
      />
      {overview.error && !data ? (
        <div className="card">
          <ErrorState error={overview.error} onRetry={overview.reload} title="Couldn't load the overview" />
        </div>
      ) : !data ? (
        <Loading label="Loading the overview…" />
      ) : (
        <OverviewBody data={data} />
      )}
    </>
  )
}

function OverviewBody({ data }: { data: Overview }) {
  const zone = data.time_zone
  return (
    <>
      <section className="card" aria-label="Today across the fleet">
        <dl className="stats overview-stats">
          <div>
            <dt>Used today</dt>
            <dd data-testid="overview-today-kwh">{formatKwh(data.today_kwh)}</dd>
          </div>
          <div>
            <dt>Cost today</dt>
            <dd data-testid="overview-today-cost">
              {data.today_costs.length === 0 ? '—' : data.today_costs.map((c) => formatMoney(c.amount, c.currency)).join(' + ')}
            </dd>
          </div>
          <div>
            <dt>Readings now</dt>
            <dd data-testid="overview-rate">
              {data.readings_per_second.toLocaleString('en-GB', { maximumFractionDigits: 1 })}
              <small> / s</small>
            </dd>
          </div>
          <div>
            <dt>Alerts today</dt>
            <dd data-testid="overview-alerts">
              <Link to="/alerts">{data.alerts_today}</Link>
            </dd>
          </div>
          <div>
            <dt>Devices</dt>
            <dd>{data.devices_total}</dd>
          </div>
          <div>
            <dt>Silent meters</dt>
            <dd className={data.silent_meters.length > 0 ? 'over' : undefined}>{data.silent_meters.length}</dd>
          </div>
        </dl>
      </section>

      <div className="overview-grid">
        <section className="card" aria-labelledby="top-title">
          <h2 id="top-title" className="card-title">
            Top consumers today
          </h2>
          {data.top_consumers.length === 0 ? (
            <EmptyState icon="chart" title="Nothing used yet today" />
          ) : (
            <ol className="rank-list" data-testid="top-consumers">
              {data.top_consumers.map((d) => (
                <li key={d.device_id}>
                  <span className="rank-name">
                    {d.owner_id ? <Link to={`/admin/consumption?user=${d.owner_id}&device=${d.device_id}`}>{d.name}</Link> : d.name}
                  </span>
                  <span className="rank-figures">
                    <strong>{formatKwh(d.kwh)}</strong>
                    {d.cost !== null && <span className="muted"> · {formatMoney(d.cost, d.currency)}</span>}
                  </span>
                </li>
              ))}
            </ol>
          )}
        </section>

        <section className="card" aria-labelledby="over-title">
          <h2 id="over-title" className="card-title">
            Over the limit this hour
          </h2>
          {data.over_limit_this_hour.length === 0 ? (
            <p className="muted">No device is over its hourly limit.</p>
          ) : (
            <ul className="rank-list" data-testid="over-limit">
              {data.over_limit_this_hour.map((d) => (
                <li key={d.device_id}>
                  <span className="rank-name">{d.name}</span>
                  <span className="rank-figures">
                    <strong className="warn">{formatKwh(d.kwh)}</strong>
                    <span className="muted"> / {formatKwh(d.limit_kwh)}</span>
                  </span>
                </li>
              ))}
            </ul>
          )}
        </section>

        <section className="card" aria-labelledby="silent-title">
          <h2 id="silent-title" className="card-title">
            Silent meters
          </h2>
          {data.silent_meters.length === 0 ? (
            <p className="muted">Every meter with a silence window is sending.</p>
          ) : (
            <ul className="rank-list" data-testid="silent-meters">
              {data.silent_meters.map((d) => (
                <li key={d.device_id}>
                  <span className="rank-name">
                    {d.name} <span className="tag tag-warn">Silent</span>
                  </span>
                  <span className="rank-figures muted" title={d.last_seen_at ? formatMomentIn(d.last_seen_at, zone) : undefined}>
                    last reading {formatAgo(d.last_seen_at)}
                  </span>
                </li>
              ))}
            </ul>
          )}
        </section>
      </div>
    </>
  )
}
