import { Link } from 'react-router-dom'
import { consumption, devices as devicesApi } from '../../api/endpoints'
import type { Device } from '../../api/types'
import { useApi } from '../../auth/AuthProvider'
import { Icon } from '../../components/Icon'
import { PageHeader } from '../../components/Layout'
import { EmptyState, Loaded } from '../../components/States'
import { useAsync } from '../../hooks/useAsync'
import { formatKwh } from '../../lib/chart'
import { todayUtc } from '../../lib/dates'
import { useRealtimeMessage } from '../../realtime/RealtimeProvider'

/** The caller's own devices (a client's meters), loaded once per page. */
export function useMyDevices() {
  const api = useApi()
  return useAsync((signal) => devicesApi.all(api, signal), [api])
}

export function DevicesPage() {
  const list = useMyDevices()
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
                <DeviceCard key={device.id} device={device} />
              ))}
            </ul>
          )
        }
      </Loaded>
    </>
  )
}

function DeviceCard({ device }: { device: Device }) {
  const api = useApi()
  const today = todayUtc()
  const day = useAsync((signal) => consumption.day(api, device.id, today, signal), [api, device.id, today])
  useRealtimeMessage('consumption.updated', (message) => {
    if (message.device_id === device.id) day.reload()
  })
  return (
    <li className="card device-card">
      <div className="device-card-head">
        <span className="device-icon" aria-hidden="true">
          <Icon name="gauge" />
        </span>
        <div>
          <h2>{device.name}</h2>
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
          <dt>Today so far</dt>
          <dd aria-busy={!day.data && !day.error}>{day.data ? formatKwh(day.data.total_kwh) : day.error ? '—' : '…'}</dd>
        </div>
      </dl>
      <Link className="btn btn-block" to={`/consumption?device=${device.id}`}>
        <Icon name="chart" /> View consumption
      </Link>
    </li>
  )
}
