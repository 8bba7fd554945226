import { devices as devicesApi } from '../../api/endpoints'
import { useApi } from '../../auth/AuthProvider'
import { ConsumptionView } from '../../components/ConsumptionView'
import { PageHeader } from '../../components/Layout'
import { EmptyState, ErrorState, Loading } from '../../components/States'
import { useAsync } from '../../hooks/useAsync'

export function ConsumptionPage() {
  const api = useApi()
  const devices = useAsync((signal) => devicesApi.all(api, signal), [api])
  return (
    <>
      <PageHeader title="Consumption" description="Energy used by your meters. Hours and days are in UTC." />
      {devices.error ? (
        <div className="card">
          <ErrorState error={devices.error} onRetry={devices.reload} title="Couldn't load your devices" />
        </div>
      ) : !devices.data ? (
        <Loading />
      ) : (
        <ConsumptionView
          devices={devices.data}
          noDevices={
            <div className="card">
              <EmptyState icon="gauge" title="No meters on your account yet">
                An administrator connects your smart meters to your account. Once one is assigned, its
                consumption appears here.
              </EmptyState>
            </div>
          }
        />
      )}
    </>
  )
}
