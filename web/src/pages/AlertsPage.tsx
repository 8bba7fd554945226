import { useEffect, useRef, useState } from 'react'
import { consumption } from '../api/endpoints'
import { useApi } from '../auth/AuthProvider'
import { Icon } from '../components/Icon'
import { PageHeader } from '../components/Layout'
import { Pager } from '../components/Pager'
import { EmptyState, ErrorState, Loading } from '../components/States'
import { useAsync } from '../hooks/useAsync'
import { alertTitle, isUnread } from '../lib/alerts'
import { formatKwh } from '../lib/chart'
import { formatDay, formatMoment, formatUtcHour } from '../lib/dates'
import { useAlerts } from '../realtime/AlertsProvider'
import { useDeviceNames } from '../realtime/DeviceNames'

const SIZE = 20

export function AlertsPage() {
  const api = useApi()
  const names = useDeviceNames()
  const { seenAt, markAllSeen, liveVersion } = useAlerts()
  const [page, setPage] = useState(1)
  const list = useAsync((signal) => consumption.alerts(api, { page, size: SIZE }, signal), [api, page])
  // What counted as new when the page opened stays highlighted while the list is read.
  const seenOnOpen = useRef(seenAt)

  useEffect(() => {
    if (liveVersion > 0 && page === 1) list.reload()
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [liveVersion])
  useEffect(() => {
    if (list.data) markAllSeen()
  }, [list.data, markAllSeen])
  useEffect(() => {
    for (const alert of list.data?.items ?? []) if (!alert.device_name) void names.resolve(alert.device_id)
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [list.data])

  return (
    <>
      <PageHeader title="Alerts" description="Hours in which a meter went over its limit." />
      <section className="card">
        {list.error ? (
          <ErrorState error={list.error} onRetry={list.reload} title="Couldn't load alerts" />
        ) : !list.data ? (
          <Loading label="Loading alerts…" />
        ) : list.data.items.length === 0 ? (
          <EmptyState icon="bell" title="No alerts">
            When a meter uses more in an hour than its limit allows, you will see it here and get a
            notification straight away.
          </EmptyState>
        ) : (
          <>
            <ul className="alert-list">
              {list.data.items.map((alert) => {
                const fresh = isUnread(alert, seenOnOpen.current)
                return (
                  <li key={alert.id} className={`alert-row${fresh ? ' unread' : ''}`}>
                    <span className="alert-icon" aria-hidden="true">
                      <Icon name="alert" />
                    </span>
                    <div className="alert-main">
                      <p className="alert-title">
                        <strong>{alert.device_name ?? names.name(alert.device_id)}</strong> · {alertTitle(alert)}
                        {fresh && <span className="tag tag-accent">New</span>}
                      </p>
                      <p className="muted">
                        {formatDay(alert.hour.slice(0, 10))}, {formatUtcHour(alert.hour)} UTC hour · raised {formatMoment(alert.created_at)}
                      </p>
                    </div>
                    <p className="alert-figures">
                      {alert.kwh !== null && alert.limit_kwh !== null ? (
                        <>
                          <strong>{formatKwh(alert.kwh)}</strong>
                          <span className="muted">limit {formatKwh(alert.limit_kwh)}</span>
                        </>
                      ) : (
                        <span className="muted">{alert.message}</span>
                      )}
                    </p>
                  </li>
                )
              })}
            </ul>
            <Pager page={page} size={SIZE} total={list.data.total} onPage={setPage} noun="alerts" />
          </>
        )}
      </section>
    </>
  )
}
