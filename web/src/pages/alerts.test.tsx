import { act, screen, waitFor, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { Alert } from '../api/types'
import { AlertsProvider, useAlerts } from '../realtime/AlertsProvider'
import { DeviceNamesProvider } from '../realtime/DeviceNames'
import { RealtimeProvider } from '../realtime/RealtimeProvider'
import { FakeSocket, json, type Call } from '../test/fakes'
import { renderApp, signedIn } from '../test/render'
import { AlertsPage } from './AlertsPage'

const alert = (id: string, more: Partial<Alert> = {}): Alert => ({
  id,
  device_id: 'd1',
  device_name: 'Kitchen',
  kind: 'hourly',
  hour: '2026-11-25T20:00:00+02:00',
  kwh: 3.27,
  limit_kwh: 2,
  created_at: '2026-11-25T18:10:00Z',
  read: false,
  acknowledged_at: null,
  acknowledged_by: null,
  message: 'Kitchen used 3.27 kWh between 20:00 and 21:00, over its 2.00 kWh limit',
  ...more,
})

const SILENT = alert('s1', {
  device_id: 'd2',
  device_name: 'Boiler',
  kind: 'silent',
  kwh: null,
  limit_kwh: null,
  last_seen_at: '2026-11-25T17:00:00Z',
  message: 'Boiler has sent nothing since 19:00',
})
const BACK = { ...SILENT, id: 's2', read: true, ended_at: '2026-11-25T18:00:00Z', message: 'Boiler sent nothing from 19:00 and was back at 20:00' }

function Badge() {
  return <output data-testid="badge">{useAlerts().unread}</output>
}

function renderAlerts(role: 'ADMIN' | 'CLIENT', routes: NonNullable<Parameters<typeof renderApp>[1]>['routes'] = {}) {
  return renderApp(
    <RealtimeProvider>
      <DeviceNamesProvider>
        <AlertsProvider>
          <Badge />
          <AlertsPage />
        </AlertsProvider>
      </DeviceNamesProvider>
    </RealtimeProvider>,
    {
      session: signedIn(role),
      routes: {
        'GET /api/auth/me': () => json(200, signedIn(role).user),
        'GET /api/users/me': () => json(200, { ...signedIn(role).user, time_zone: 'Europe/Bucharest' }),
        ...routes,
      },
    },
  )
}

const unreadCounts = (...counts: number[]) => counts.map((count) => () => json(200, { count }))

describe('alerts with server read state', () => {
  beforeEach(() => {
    FakeSocket.instances = []
    vi.stubGlobal('WebSocket', FakeSocket)
  })
  afterEach(() => vi.unstubAllGlobals())

  it("counts unread from the server, and marks one read through the server", async () => {
    let read = false
    const { calls } = renderAlerts('CLIENT', {
      'GET /api/consumption/alerts/unread-count': () => json(200, { count: read ? 1 : 2 }),
      'GET /api/consumption/alerts': () => json(200, { items: [alert('a1'), SILENT, BACK], total: 3, page: 1, size: 20 }),
      'POST /api/consumption/alerts/a1/read': () => {
        read = true
        return json(204, null)
      },
    })
    await waitFor(() => expect(screen.getByTestId('badge')).toHaveTextContent('2'))
    const row = (await screen.findByText('Kitchen used 3.27 kWh between 20:00 and 21:00, over its 2.00 kWh limit')).closest('li')!
    expect(within(row).getByText('New')).toBeInTheDocument()
    await userEvent.click(within(row).getByRole('button', { name: /Mark read: Kitchen/ }))
    await waitFor(() => expect(screen.getByTestId('badge')).toHaveTextContent('1'))
    await waitFor(() => expect(within(row).queryByText('New')).toBeNull())
    expect(calls.filter((c) => c.method === 'POST').map((c) => c.url)).toEqual(['/api/consumption/alerts/a1/read'])
    // A client cannot acknowledge.
    expect(screen.queryByRole('button', { name: /Acknowledge/ })).toBeNull()
  })

  it('shows a silent meter, and one that came back, as such', async () => {
    renderAlerts('CLIENT', {
      'GET /api/consumption/alerts/unread-count': unreadCounts(1),
      'GET /api/consumption/alerts': () => json(200, { items: [SILENT, BACK], total: 2, page: 1, size: 20 }),
    })
    const silent = (await screen.findByText('Boiler has sent nothing since 19:00')).closest('li')!
    expect(silent).toHaveAttribute('data-kind', 'silent')
    expect(silent).toHaveTextContent('Boiler · Meter silent')
    expect(within(silent).getAllByText('Silent').length).toBeGreaterThan(0)
    const back = screen.getByText('Boiler sent nothing from 19:00 and was back at 20:00').closest('li')!
    expect(within(back).getByText('Meter silent, now back', { exact: false })).toBeInTheDocument()
    expect(within(back).getAllByText('Back').length).toBeGreaterThan(0)
  })

  it('follows reads made in another tab: the badge takes their count, the rows turn read', async () => {
    renderAlerts('CLIENT', {
      'GET /api/consumption/alerts/unread-count': unreadCounts(2),
      'GET /api/consumption/alerts': () => json(200, { items: [alert('a1'), alert('a2')], total: 2, page: 1, size: 20 }),
    })
    await screen.findAllByText('New')
    await waitFor(() => expect(FakeSocket.instances.length).toBeGreaterThan(0))
    const ws = FakeSocket.last()
    ws.open()
    act(() => ws.receive({ type: 'alerts.read', ids: ['a2'], unread_count: 1 }))
    await waitFor(() => expect(screen.getByTestId('badge')).toHaveTextContent('1'))
    expect(screen.getAllByText('New')).toHaveLength(1)
    act(() => ws.receive({ type: 'alerts.read', ids: null, unread_count: 0 }))
    await waitFor(() => expect(screen.getByTestId('badge')).toHaveTextContent('0'))
    expect(screen.queryByText('New')).toBeNull()
    expect(screen.getByRole('button', { name: 'Mark all read' })).toBeDisabled()
  })

  it('marks all read and asks for unread ones only when filtered', async () => {
    const { calls } = renderAlerts('CLIENT', {
      'GET /api/consumption/alerts/unread-count': unreadCounts(2),
      'GET /api/consumption/alerts': () => json(200, { items: [alert('a1')], total: 1, page: 1, size: 20 }),
      'POST /api/consumption/alerts/read-all': () => json(200, { marked: 2 }),
    })
    await userEvent.click(await screen.findByRole('button', { name: 'Unread' }))
    await waitFor(() => expect(calls.some((c: Call) => c.url.includes('unread=true'))).toBe(true))
    await waitFor(() => expect(screen.getByRole('button', { name: 'Mark all read' })).toBeEnabled())
    await userEvent.click(screen.getByRole('button', { name: 'Mark all read' }))
    await waitFor(() => expect(screen.getByTestId('badge')).toHaveTextContent('0'))
    expect(calls.some((c) => c.method === 'POST' && c.url === '/api/consumption/alerts/read-all')).toBe(true)
  })

  it('toasts an owner per alert, a silent meter and its return included', async () => {
    renderAlerts('CLIENT', {
      'GET /api/consumption/alerts/unread-count': unreadCounts(0, 1, 2),
      'GET /api/consumption/alerts': () => json(200, { items: [], total: 0, page: 1, size: 20 }),
    })
    await waitFor(() => expect(FakeSocket.instances.length).toBeGreaterThan(0))
    const ws = FakeSocket.last()
    ws.open()
    act(() => ws.receive({ type: 'notify.silent', id: 's1', device_id: 'd2', device_name: 'Boiler', message: 'Boiler has sent nothing since 19:00' }))
    expect(await screen.findByText('Meter silent')).toBeInTheDocument()
    act(() => ws.receive({ type: 'notify.meter_back', id: 's1', device_id: 'd2', device_name: 'Boiler', message: 'Boiler is back' }))
    expect(await screen.findByText('Boiler is back')).toBeInTheDocument()
  })

  it('gives an admin one digest toast instead of a toast per alert, and lets them acknowledge', async () => {
    renderAlerts('ADMIN', {
      'GET /api/consumption/alerts/unread-count': unreadCounts(5),
      'GET /api/consumption/alerts': () => json(200, { items: [alert('a1')], total: 1, page: 1, size: 20 }),
      'POST /api/consumption/alerts/a1/ack': () => json(200, alert('a1', { acknowledged_at: '2026-11-25T18:30:00Z', acknowledged_by: 'admin-1' })),
    })
    await waitFor(() => expect(FakeSocket.instances.length).toBeGreaterThan(0))
    const ws = FakeSocket.last()
    ws.open()
    act(() => ws.receive({ type: 'notify.overconsumption', id: 'a9', device_id: 'd1', device_name: 'Kitchen', kwh: 3, limit_kwh: 2, message: 'Kitchen over' }))
    act(() =>
      ws.receive({ type: 'notify.digest', since: 'x', until: 'y', count: 3, by_kind: { hourly: 2, silent: 1 }, devices: [{ device_id: 'd1', device_name: 'Kitchen', count: 2 }] }),
    )
    expect(await screen.findByText('3 new alerts across the fleet')).toBeInTheDocument()
    expect(screen.getByText('2 hours over their limit, 1 meter gone silent. Most: Kitchen (2).')).toBeInTheDocument()
    expect(screen.queryByText('Kitchen over')).toBeNull()
    await userEvent.click(await screen.findByRole('button', { name: /Acknowledge: Kitchen/ }))
    // 18:30 UTC is 20:30 in the admin's Bucharest.
    expect(await screen.findByTestId('acknowledged')).toHaveTextContent('Acknowledged by you 25 Nov, 20:30')
    expect(screen.queryByRole('button', { name: /Acknowledge: Kitchen/ })).toBeNull()
  })

  it('shows two digests close together as one toast that adds them up, not two toasts', async () => {
    renderAlerts('ADMIN', {
      'GET /api/consumption/alerts/unread-count': unreadCounts(5),
      'GET /api/consumption/alerts': () => json(200, { items: [], total: 0, page: 1, size: 20 }),
    })
    await waitFor(() => expect(FakeSocket.instances.length).toBeGreaterThan(0))
    const ws = FakeSocket.last()
    ws.open()
    act(() => ws.receive({ type: 'notify.digest', count: 2, by_kind: { hourly: 2 }, devices: [{ device_id: 'd1', device_name: 'Kitchen', count: 2 }] }))
    expect(await screen.findByText('2 new alerts across the fleet')).toBeInTheDocument()
    act(() => ws.receive({ type: 'notify.digest', count: 1, by_kind: { hourly: 1 }, devices: [{ device_id: 'd1', device_name: 'Kitchen', count: 1 }] }))
    expect(await screen.findByText('3 new alerts across the fleet')).toBeInTheDocument()
    expect(screen.queryByText('2 new alerts across the fleet')).toBeNull()
    expect(screen.getAllByText(/new alerts? across the fleet/)).toHaveLength(1)
  })
})
