import { useEffect, useState } from 'react'
import { alerts as alertsApi } from '../api/endpoints'
import { describeError } from '../api/errors'
import type { Alert, AlertKind } from '../api/types'
import { useApi, useUser } from '../auth/AuthProvider'
import { Icon } from '../components/Icon'
import { PageHeader } from '../components/Layout'
import { Pager } from '../components/Pager'
import { Segmented } from '../components/Segmented'
import { EmptyState, ErrorState, Loading } from '../components/States'
import { useToast } from '../components/Toasts'
import { useAsync } from '../hooks/useAsync'
import { useProfileZone } from '../hooks/useZone'
import { alertSentence, alertTitle, markedRead } from '../lib/alerts'
import { formatKwh } from '../lib/chart'
import { formatAgo, formatMomentIn } from '../lib/dates'
import { useAlerts } from '../realtime/AlertsProvider'
import { useDeviceNames } from '../realtime/DeviceNames'

const SIZE = 20
const SHOW = [
  { value: 'all', label: 'All' },
  { value: 'unread', label: 'Unread' },
] as const

export function AlertsPage() {
  const api = useApi()
  const me = useUser()
  const toast = useToast()
  const names = useDeviceNames()
  const zone = useProfileZone() ?? 'UTC'
  const { unread, markRead, markAllRead, liveVersion, lastRead } = useAlerts()
  const [page, setPage] = useState(1)
  const [show, setShow] = useState<'all' | 'unread'>('all')
  const [kind, setKind] = useState<AlertKind | ''>('')
  const list = useAsync(
    (signal) => alertsApi.list(api, { page, size: SIZE, unread: show === 'unread', kind: kind || undefined }, signal),
    [api, page, show, kind],
  )

  useEffect(() => {
    if (liveVersion > 0 && page === 1) list.reload()
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [liveVersion])
  // Marked read anywhere (this tab, another, another browser): the rows follow.
  useEffect(() => {
    if (lastRead.version === 0) return
    list.setData((current) => (current ? { ...current, items: markedRead(current.items, lastRead.ids) } : current))
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [lastRead])
  useEffect(() => {
    for (const alert of list.data?.items ?? []) if (!alert.device_name) void names.resolve(alert.device_id)
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [list.data])

  const act = (what: string, action: () => Promise<unknown>) =>
    void action().catch((error: unknown) => toast({ tone: 'error', title: `Couldn't ${what}`, body: describeError(error) }))
  const acknowledge = (alert: Alert) =>
    act('acknowledge the alert', async () => {
      const saved = await alertsApi.acknowledge(api, alert.id)
      list.setData((current) => current && { ...current, items: current.items.map((a) => (a.id === alert.id ? { ...a, ...saved } : a)) })
    })

  return (
    <>
      <PageHeader
        title="Alerts"
        description={me.role === 'ADMIN' ? 'Hours over a limit and meters gone silent, across the fleet.' : 'Hours in which a meter went over its limit, and meters that stopped sending.'}
        actions={
          <button type="button" className="btn" disabled={unread === 0} onClick={() => act('mark the alerts read', markAllRead)}>
            <Icon name="check" /> Mark all read
          </button>
        }
      />
      <div className="card toolbar" role="toolbar" aria-label="Alert filters">
        <div className="toolbar-row">
          <Segmented
            label="Show"
            value={show}
            options={SHOW}
            onChange={(v) => {
              setShow(v)
              setPage(1)
            }}
          />
          <label className="inline-field">
            <span>Kind</span>
            <select
              value={kind}
              onChange={(e) => {
                setKind(e.target.value as AlertKind | '')
                setPage(1)
              }}
            >
              <option value="">Every kind</option>
              <option value="hourly">Hour over the limit</option>
              <option value="reading">Reading over the threshold</option>
              <option value="silent">Silent meter</option>
            </select>
          </label>
          <span className="muted" data-testid="unread-count">
            {unread} unread
          </span>
        </div>
      </div>
      <section className="card">
        {list.error ? (
          <ErrorState error={list.error} onRetry={list.reload} title="Couldn't load alerts" />
        ) : !list.data ? (
          <Loading label="Loading alerts…" />
        ) : list.data.items.length === 0 ? (
          <EmptyState icon="bell" title={show === 'unread' ? 'Nothing unread' : 'No alerts'}>
            When a meter uses more in an hour than its limit allows, or stops sending readings, you will see it here and
            get a notification straight away.
          </EmptyState>
        ) : (
          <>
            <ul className="alert-list">
              {list.data.items.map((alert) => (
                <AlertRow
                  key={alert.id}
                  alert={alert}
                  zone={zone}
                  name={alert.device_name ?? names.name(alert.device_id)}
                  isAdmin={me.role === 'ADMIN'}
                  me={me.id}
                  onRead={() => act('mark the alert read', () => markRead(alert.id))}
                  onAcknowledge={() => acknowledge(alert)}
                />
              ))}
            </ul>
            <Pager page={page} size={SIZE} total={list.data.total} onPage={setPage} noun="alerts" />
          </>
        )}
      </section>
    </>
  )
}

function AlertRow({
  alert,
  zone,
  name,
  isAdmin,
  me,
  onRead,
  onAcknowledge,
}: {
  alert: Alert
  zone: string
  name: string
  isAdmin: boolean
  me: string
  onRead: () => void
  onAcknowledge: () => void
}) {
  const unread = alert.read === false
  const silent = alert.kind === 'silent'
  const back = silent && Boolean(alert.ended_at)
  return (
    <li className={`alert-row${unread ? ' unread' : ''}${silent ? ' alert-silent' : ''}${back ? ' alert-back' : ''}`} data-kind={alert.kind}>
      <span className="alert-icon" aria-hidden="true">
        <Icon name={silent ? 'gauge' : 'alert'} />
      </span>
      <div className="alert-main">
        <p className="alert-title">
          <strong>{name}</strong> · {alertTitle(alert)}
          {unread && <span className="tag tag-accent">New</span>}
          {silent && !back && <span className="tag tag-warn">Silent</span>}
          {back && <span className="tag tag-ok">Back</span>}
        </p>
        <p className="alert-text">{alertSentence(alert, name, zone)}</p>
        <p className="muted">
          Raised {formatMomentIn(alert.created_at, zone)}
          {alert.acknowledged_at && (
            <>
              {' '}
              · <span data-testid="acknowledged">Acknowledged{alert.acknowledged_by === me ? ' by you' : ''} {formatMomentIn(alert.acknowledged_at, zone)}</span>
            </>
          )}
        </p>
      </div>
      <div className="alert-side">
        {silent ? (
          <p className="alert-figures">
            <strong>{back ? 'Back' : 'Silent'}</strong>
            <span className="muted">{back ? `back ${formatAgo(alert.ended_at ?? null)}` : `last reading ${formatAgo(alert.last_seen_at ?? null)}`}</span>
          </p>
        ) : (
          <p className="alert-figures">
            <strong>{formatKwh(alert.kwh ?? 0)}</strong>
            {alert.limit_kwh !== null && <span className="muted">limit {formatKwh(alert.limit_kwh)}</span>}
          </p>
        )}
        <div className="alert-actions">
          {unread && (
            <button type="button" className="btn btn-sm" onClick={onRead} aria-label={`Mark read: ${name}, ${alertTitle(alert)}`}>
              Mark read
            </button>
          )}
          {isAdmin && !alert.acknowledged_at && (
            <button type="button" className="btn btn-sm" onClick={onAcknowledge} aria-label={`Acknowledge: ${name}, ${alertTitle(alert)}`}>
              Acknowledge
            </button>
          )}
        </div>
      </div>
    </li>
  )
}
