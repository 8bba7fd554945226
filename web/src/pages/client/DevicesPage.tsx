import { Link } from 'react-router-dom'
import { consumption, devices as devicesApi } from '../../api/endpoints'
import type { Device, Meter } from '../../api/types'
import { useApi } from '../../auth/AuthProvider'
import { Icon } from '../../components/Icon'
import { PageHeader } from '../../components/Layout'
import { EmptyState, Loaded } from '../../components/States'
import { useAsync } from '../../hooks/useAsync'
import { useProfileZone } from '../../hooks/useZone'
import { formatKwh } from '../../lib/chart'
import { formatMoney } from '../../lib/money'
import { SilentBadge } from '../../components/SilentBadge'
import { formatAgo, formatMomentIn, todayIn } from '../../lib/dates'
import { useRealtimeMessage } from '../../realtime/RealtimeProvider'

/** The caller's own devices (a client's meters), loaded once per page. */
export function useMyDevices() {
  const api = useApi()
  return useAsync((signal) => devicesApi.all(api, signal), [api])
}

export function DevicesPage() {
  const api = useApi()
  const list = useMyDevices()
  // When each meter last sent, and whether it went silent (monitoring's view of the meters).
  const meters = useAsync((signal) => consumption.allMeters(api, signal), [api])
  useRealtimeMessage('notify.silent', meters.reload)
  useRealtimeMessage('notify.meter_back', meters.reload)
  const zone = useProfileZone()
  return (
    <>
      <PageHeader title="My devices" description="The smart meters connected to your account." />
      <Loaded state={list} errorTitle="Couldn't load your devices" framed>
        {(mine) =>
          mine.length === 0 ? (
            <div className="card">
              <EmptyState icon="gauge" title="No meters on your account yet">
                An administrator connects your smart meters to your account. Ask support if you expected one here.
              </EmptyState>
            </div>
          ) : (
            <ul className="device-grid">
              {mine.map((device) => (
                <DeviceCard key={device.id} device={device} zone={zone} meter={meters.data?.get(device.id) ?? null} />
              ))}
            </ul>
          )
        }
      </Loaded>
    </>
  )
}

function DeviceCard({ device, zone, meter }: { device: Device; zone: string | null; meter: Meter | null }) {
  const api = useApi()
  const today = zone ? todayIn(zone) : null
  const day = useAsync(
    async (signal) => (today ? consumption.day(api, today, { deviceId: device.id }, signal) : undefined),
    [api, device.id, today],
  )
  useRealtimeMessage('consumption.updated', (message) => {
    if (message.device_id === device.id) day.reload()
  })
  return (
    <li className={`card device-card${meter?.silent ? ' silent' : ''}`} data-testid={`device-${device.id}`}>
      <div className="device-card-head">
        <span className="device-icon" aria-hidden="true">
          <Icon name="gauge" />
        </span>
        <div>
          <h2>
            {device.name} {meter?.silent && <SilentBadge meter={meter} zone={zone} />}
          </h2>
          {device.description && <p className="muted">{device.description}</p>}
        </div>
      </div>
      <dl className="facts">
        {device.address && (
          <div>
            <dt>Address</dt>
            <dd>{device.address}</dd>
          </div>
        )}
        <div>
          <dt>Hourly limit</dt>
          <dd>{formatKwh(device.max_hourly_kwh)}</dd>
        </div>
        <div>
          <dt>Last reading</dt>
          <dd data-testid="last-seen" title={meter?.last_seen_at && zone ? formatMomentIn(meter.last_seen_at, zone) : undefined}>
            {meter ? formatAgo(meter.last_seen_at) : '…'}
          </dd>
        </div>
        <div>
          <dt>Today so far</dt>
          <dd aria-busy={!day.data && !day.error}>{day.data ? formatKwh(day.data.total_kwh) : day.error ? '—' : '…'}
            {day.data?.total_cost != null && <small className="muted"> · {formatMoney(day.data.total_cost, day.data.currency)}</small>}
          </dd>
        </div>
      </dl>
      <Link className="btn btn-block" to={`/consumption?device=${device.id}`}>
        <Icon name="chart" /> View consumption
      </Link>
    </li>
  )
}
