import { useApi } from '../../auth/AuthProvider'
import { ConsumptionView } from '../../components/ConsumptionView'
import { PageHeader } from '../../components/Layout'
import { EmptyState, Loaded } from '../../components/States'
import { useAsync } from '../../hooks/useAsync'
import { profileZone } from '../../hooks/useZone'
import { useMyDevices } from './DevicesPage'

/** The caller's devices and profile zone together (the view needs both to cut its days). */
function useDevicesAndZone() {
  const api = useApi()
  const devices = useMyDevices()
  const me = useAsync(() => profileZone(api), [api])
  const data = devices.data && me.data ? { devices: devices.data, zone: me.data } : undefined
  return {
    data,
    error: devices.error || me.error,
    loading: devices.loading || me.loading,
    reload: () => (devices.reload(), me.reload()),
  }
}

export function ConsumptionPage() {
  const state = useDevicesAndZone()
  return (
    <>
      <PageHeader
        title="Consumption"
        description={
          <>
            Energy used by your meters, and what it cost. Days and hours are in your time zone
            {state.data ? ` (${state.data.zone})` : ''}, set in your profile.
          </>
        }
      />
      <Loaded state={state} errorTitle="Couldn't load your devices" framed>
        {({ devices, zone }) => (
          <ConsumptionView
            devices={devices}
            timeZone={zone}
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
      </Loaded>
    </>
  )
}
