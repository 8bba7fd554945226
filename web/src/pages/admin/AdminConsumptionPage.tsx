import { useSearchParams } from 'react-router-dom'
import { devices, users } from '../../api/endpoints'
import { useApi } from '../../auth/AuthProvider'
import { ConsumptionView } from '../../components/ConsumptionView'
import { PageHeader } from '../../components/Layout'
import { EmptyState, ErrorState, Loading } from '../../components/States'
import { UserPicker } from '../../components/UserPicker'
import { useAsync } from '../../hooks/useAsync'

export function AdminConsumptionPage() {
  const api = useApi()
  const [params, setParams] = useSearchParams()
  const userId = params.get('user')
  const client = useAsync(async () => (userId ? users.get(api, userId) : null), [api, userId])
  const owned = useAsync(async (signal) => (userId ? devices.ofUser(api, userId, signal) : []), [api, userId])

  return (
    <>
      <PageHeader title="Consumption" description="Any client's consumption and cost, device by device, in the client's own time zone." />
      <section className="card picker-card">
        <div className="field">
          <label htmlFor="consumption-client">Client</label>
          {userId && !client.data && !client.error ? (
            <Loading inline />
          ) : (
            <UserPicker
              key={userId ?? 'none'}
              id="consumption-client"
              value={client.data ?? null}
              onChange={(u) => setParams(u ? { user: u.id } : {})}
            />
          )}
        </div>
      </section>
      {!userId ? (
        <div className="card">
          <EmptyState icon="chart" title="Pick a client">
            Search for a client above to see the consumption of their devices.
          </EmptyState>
        </div>
      ) : client.error || owned.error ? (
        <div className="card">
          <ErrorState error={client.error || owned.error} onRetry={() => (client.reload(), owned.reload())} />
        </div>
      ) : !owned.data || !client.data ? (
        <Loading />
      ) : (
        <ConsumptionView
          key={userId}
          devices={owned.data}
          timeZone={client.data.time_zone ?? 'UTC'}
          allLabel={`All of ${client.data.username}'s devices`}
          allAreMine={false}
          noDevices={
            <div className="card">
              <EmptyState icon="gauge" title={`${client.data.username} has no devices`}>
                Assign a device to this client on the Devices page.
              </EmptyState>
            </div>
          }
        />
      )}
    </>
  )
}
