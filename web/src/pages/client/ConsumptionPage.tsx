import { ConsumptionView } from '../../components/ConsumptionView'
import { PageHeader } from '../../components/Layout'
import { EmptyState, Loaded } from '../../components/States'
import { useMyDevices } from './DevicesPage'

export function ConsumptionPage() {
  const devices = useMyDevices()
  return (
    <>
      <PageHeader title="Consumption" description="Energy used by your meters. Hours and days are in UTC." />
      <Loaded state={devices} errorTitle="Couldn't load your devices" framed>
        {(mine) => (
          <ConsumptionView
            devices={mine}
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
