import { act, screen, waitFor, within } from '@testing-library/react'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { App } from '../../App'
import { RealtimeProvider } from '../../realtime/RealtimeProvider'
import { FakeSocket, json } from '../../test/fakes'
import { renderApp, signedIn } from '../../test/render'
import { OVERVIEW_REFRESH_MS, OverviewPage } from './OverviewPage'

const overview = (rate: number) => ({
  time_zone: 'Europe/Bucharest',
  devices_total: 12,
  today_kwh: 134.5,
  today_costs: [
    { currency: 'RON', amount: 120.456 },
    { currency: 'EUR', amount: 3.2 },
  ],
  top_consumers: [
    { device_id: 'd1', name: 'Workshop', owner_id: 'u1', kwh: 40.25, cost: 45.08, currency: 'RON' },
    { device_id: 'd2', name: 'Heat pump', owner_id: 'u2', kwh: 30, cost: null, currency: null },
  ],
  over_limit_this_hour: [{ device_id: 'd1', name: 'Workshop', kwh: 5.5, limit_kwh: 4 }],
  silent_meters: [{ device_id: 'd3', name: 'Boiler', last_seen_at: '2026-11-25T17:00:00Z' }],
  readings_per_second: rate,
  alerts_today: 7,
})

/** The overview page over a live socket, the API answering with `answer()` each time. */
function renderOverview(answer: () => object) {
  return renderApp(
    <RealtimeProvider>
      <OverviewPage />
    </RealtimeProvider>,
    {
      session: signedIn('ADMIN'),
      routes: {
        'GET /api/auth/me': () => json(200, signedIn('ADMIN').user),
        'GET /api/consumption/overview': () => json(200, answer()),
      },
    },
  )
}

describe('admin overview', () => {
  beforeEach(() => {
    FakeSocket.instances = []
    vi.stubGlobal('WebSocket', FakeSocket)
  })
  afterEach(() => {
    vi.useRealTimers()
    vi.unstubAllGlobals()
  })

  it("shows the fleet today and what needs attention, and refreshes by itself", async () => {
    let rate = 2.5
    const { calls } = renderOverview(() => overview(rate))
    expect(await screen.findByTestId('overview-today-kwh')).toHaveTextContent('135 kWh')
    // One amount per currency, never added across currencies.
    expect(screen.getByTestId('overview-today-cost')).toHaveTextContent('RON 120.46 + €3.20')
    expect(screen.getByTestId('overview-rate')).toHaveTextContent('2.5 / s')
    expect(screen.getByTestId('overview-alerts')).toHaveTextContent('7')
    const top = within(screen.getByTestId('top-consumers')).getAllByRole('listitem')
    expect(top[0]).toHaveTextContent('Workshop40.3 kWh · RON 45.08')
    expect(within(top[0]).getByRole('link', { name: 'Workshop' })).toHaveAttribute('href', '/admin/consumption?user=u1&device=d1')
    expect(top[1]).toHaveTextContent('Heat pump30.0 kWh')
    expect(screen.getByTestId('over-limit')).toHaveTextContent('Workshop5.50 kWh / 4.00 kWh')
    expect(screen.getByTestId('silent-meters')).toHaveTextContent('Boiler Silent')

    rate = 7
    const asked = calls.length
    // The next refresh comes by itself.
    await waitFor(() => expect(screen.getByTestId('overview-rate')).toHaveTextContent('7 / s'), { timeout: OVERVIEW_REFRESH_MS + 3000 })
    expect(calls.length).toBeGreaterThan(asked)
  }, 20_000)

  it('refreshes at once when a digest says something happened', async () => {
    let alerts = 7
    renderOverview(() => ({ ...overview(1), alerts_today: alerts }))
    await screen.findByTestId('overview-alerts')
    await waitFor(() => expect(FakeSocket.instances.length).toBeGreaterThan(0))
    FakeSocket.last().open()
    alerts = 9
    act(() => FakeSocket.last().receive({ type: 'notify.digest', count: 2, by_kind: { hourly: 2 }, devices: [] }))
    await waitFor(() => expect(screen.getByTestId('overview-alerts')).toHaveTextContent('9'), { timeout: 3000 })
  })

  it('is where an admin lands after signing in', async () => {
    renderApp(<App />, {
      session: signedIn('ADMIN'),
      path: '/',
      routes: {
        'GET /api/auth/me': () => json(200, signedIn('ADMIN').user),
        'GET /api/consumption/overview': () => json(200, overview(1)),
        'GET /api/consumption/alerts/unread-count': () => json(200, { count: 0 }),
        'GET /api/support/conversations': () => json(200, { items: [], total: 0, page: 1, size: 50 }),
      },
    })
    expect(await screen.findByRole('heading', { name: 'Overview' })).toBeInTheDocument()
    expect(await screen.findByTestId('overview-today-kwh')).toBeInTheDocument()
    expect(screen.getAllByRole('link', { name: /Overview/ })[0]).toHaveClass('active')
  })
})
