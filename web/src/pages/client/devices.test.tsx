import { screen, waitFor, within } from '@testing-library/react'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { RealtimeProvider } from '../../realtime/RealtimeProvider'
import { FakeSocket, json, testDevice } from '../../test/fakes'
import { renderApp, signedIn } from '../../test/render'
import { DevicesPage } from './DevicesPage'

const device = (id: string, name: string) => testDevice(id, name)

const meter = (device_id: string, minutesAgo: number, silent: boolean) => ({
  device_id,
  name: device_id,
  owner_id: 'client-1',
  meter_id: null,
  last_seen_at: new Date(Date.now() - minutesAgo * 60_000).toISOString(),
  silence_minutes: 30,
  silent,
  silent_since: silent ? new Date(Date.now() - (minutesAgo - 30) * 60_000).toISOString() : null,
})

// Noon UTC on the 25th is already the 26th in Kiritimati (UTC+14): the clock is fixed, so the
// profile zone's today always differs from UTC's and no midnight falls inside the test.
const NOW = new Date('2026-11-25T12:00:00Z')

describe('my devices', () => {
  beforeEach(() => {
    FakeSocket.instances = []
    vi.stubGlobal('WebSocket', FakeSocket)
    vi.useFakeTimers({ toFake: ['Date'], now: NOW })
  })
  afterEach(() => {
    vi.useRealTimers()
    vi.unstubAllGlobals()
  })

  it('shows when each meter last sent, a silent one marked, and today in the profile zone with its cost', async () => {
    let silent = true
    const { calls } = renderApp(
      <RealtimeProvider>
        <DevicesPage />
      </RealtimeProvider>,
      {
        session: signedIn('CLIENT'),
        routes: {
          'GET /api/auth/me': () => json(200, signedIn('CLIENT').user),
          'GET /api/users/me': () => json(200, { ...signedIn('CLIENT').user, time_zone: 'Pacific/Kiritimati' }),
          'GET /api/devices': () => json(200, { items: [device('d1', 'Kitchen'), device('d2', 'Boiler')], total: 2, page: 1, size: 100 }),
          'GET /api/consumption/meters': () => json(200, { items: [meter('d1', 3, false), meter('d2', 95, silent)], total: 2, page: 1, size: 100 }),
          'GET /api/consumption/day': () => json(200, { device_id: 'd', date: 'x', unit: 'kWh', currency: 'RON', hours: [], total_kwh: 1.5, total_cost: 1.68 }),
        },
      },
    )
    const kitchen = await screen.findByTestId('device-d1')
    await waitFor(() => expect(within(kitchen).getByTestId('last-seen')).toHaveTextContent('3 min ago'))
    expect(within(kitchen).queryByTestId('silent-badge')).toBeNull()
    await waitFor(() => expect(within(kitchen).getByText('1.50 kWh', { exact: false })).toBeInTheDocument())
    expect(kitchen).toHaveTextContent('RON 1.68')
    const boiler = screen.getByTestId('device-d2')
    expect(within(boiler).getByTestId('silent-badge')).toHaveTextContent('Silent')
    expect(within(boiler).getByTestId('last-seen')).toHaveTextContent('1 h ago')
    // "Today" is the profile zone's today, not UTC's 2026-11-25.
    const days = calls.filter((c) => c.url.includes('/day')).map((c) => new URL(c.url, 'http://x').searchParams.get('date'))
    expect(days.length).toBeGreaterThan(0)
    expect(new Set(days)).toEqual(new Set(['2026-11-26']))

    // The meter is back: a push makes the page ask again.
    silent = false
    await waitFor(() => expect(FakeSocket.instances.length).toBeGreaterThan(0))
    FakeSocket.last().open()
    FakeSocket.last().receive({ type: 'notify.meter_back', id: 's1', device_id: 'd2', device_name: 'Boiler', ended_at: new Date().toISOString() })
    await waitFor(() => expect(within(boiler).queryByTestId('silent-badge')).toBeNull())
  })
})
