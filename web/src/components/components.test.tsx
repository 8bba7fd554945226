import { fireEvent, render, screen, waitFor, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { ChatMessage } from '../api/types'
import { FakeSocket, json, testDevice } from '../test/fakes'
import { renderApp, signedIn } from '../test/render'
import { RealtimeProvider } from '../realtime/RealtimeProvider'
import { DeviceNamesProvider } from '../realtime/DeviceNames'
import { hoursOf } from '../lib/dates'
import { Chart } from './Chart'
import { ChatThread } from './ChatThread'
import { ConsumptionView } from './ConsumptionView'

describe('Chart', () => {
  const values = Array.from({ length: 24 }, (_, h) => (h === 18 ? 3 : 1))
  const labels = values.map((_, h) => String(h).padStart(2, '0'))
  const titles = labels.map((l) => `${l}:00 UTC`)

  it('draws one bar per hour, over-limit bars marked, and a limit line', () => {
    const { container } = render(<Chart values={values} labels={labels} titles={titles} kind="bar" limit={2} ariaLabel="Today" />)
    expect(container.querySelectorAll('.chart-bar')).toHaveLength(24)
    expect(container.querySelectorAll('.chart-bar.over')).toHaveLength(1)
    expect(container.querySelector('.chart-limit')).toHaveTextContent('limit 2.00')
  })

  it('scales the tallest bar to the top tick', () => {
    const { container } = render(<Chart values={values} labels={labels} titles={titles} kind="bar" ariaLabel="Today" height={200} />)
    const ticks = [...container.querySelectorAll('.chart-grid text')].map((t) => t.textContent)
    expect(ticks).toEqual(['0', '1', '2', '3'])
    const bars = [...container.querySelectorAll('.chart-bar')]
    const tallest = Math.max(...bars.map((b) => Number(b.getAttribute('height'))))
    expect(tallest).toBeCloseTo(200 - 14 - 28, 5)
  })

  it('reads values with the keyboard', () => {
    render(<Chart values={values} labels={labels} titles={titles} kind="line" ariaLabel="Today" />)
    const chart = screen.getByRole('group', { name: /Today/ })
    fireEvent.keyDown(chart, { key: 'End' })
    expect(screen.getByRole('status')).toHaveTextContent('23:00 UTC1.00 kWh')
    fireEvent.keyDown(chart, { key: 'Home' })
    fireEvent.keyDown(chart, { key: 'ArrowRight' })
    expect(screen.getByRole('status')).toHaveTextContent('01:00 UTC')
  })

  it('says so when there is no consumption', () => {
    render(<Chart values={Array.from({ length: 24 }, () => 0)} labels={labels} titles={titles} kind="bar" ariaLabel="Today" emptyText="No readings for this day yet." />)
    expect(screen.getByText('No readings for this day yet.')).toBeInTheDocument()
  })
})

describe('ChatThread', () => {
  const messages: ChatMessage[] = [
    { id: '1', user_id: 'c', sender: 'user', text: 'My bill?', created_at: '2026-11-25T10:00:00Z' },
    { id: '2', user_id: 'c', sender: 'bot', text: 'See billing.', created_at: '2026-11-25T10:00:01Z' },
    { id: '3', user_id: 'c', sender: 'ai', text: 'Maybe this.', created_at: '2026-11-25T10:00:02Z' },
    { id: '4', user_id: 'c', sender: 'admin', text: 'Hello, Ann.', created_at: '2026-11-25T10:01:00Z' },
  ]

  it('puts bubbles on the side of their sender, with who wrote them', () => {
    const { container } = render(
      <ChatThread messages={messages} viewer="client" typing="Support team is typing…" empty={null} onSend={async () => true} placeholder="Write" />,
    )
    const items = [...container.querySelectorAll('.msg')]
    expect(items.map((i) => [i.getAttribute('data-sender'), i.classList.contains('own')])).toEqual([
      ['user', true],
      ['bot', false],
      ['ai', false],
      ['admin', false],
    ])
    expect(within(items[1] as HTMLElement).getByText('EMS assistant')).toBeInTheDocument()
    expect(within(items[2] as HTMLElement).getByText('AI assistant')).toBeInTheDocument()
    expect(within(items[3] as HTMLElement).getByText('Support team')).toBeInTheDocument()
    expect(screen.getByRole('status')).toHaveTextContent('Support team is typing…')
  })

  it('sends with Enter, keeps Shift+Enter for new lines, and clears after sending', async () => {
    const sent: string[] = []
    render(<ChatThread messages={[]} viewer="client" typing={null} empty="Nothing yet" onSend={async (t) => (sent.push(t), true)} placeholder="Write" />)
    const box = screen.getByLabelText('Message')
    await userEvent.type(box, 'line one{Shift>}{Enter}{/Shift}line two{Enter}')
    expect(sent).toEqual(['line one\nline two'])
    expect(box).toHaveValue('')
  })

  it('keeps the draft when sending failed', async () => {
    render(<ChatThread messages={[]} viewer="client" typing={null} empty={null} onSend={async () => false} placeholder="Write" />)
    await userEvent.type(screen.getByLabelText('Message'), 'hello{Enter}')
    expect(screen.getByLabelText('Message')).toHaveValue('hello')
  })
})

describe('ConsumptionView', () => {
  // A fixed clock: the view's today is this one, with no midnight falling inside a test.
  const today = '2026-11-25'
  beforeEach(() => {
    FakeSocket.instances = []
    vi.stubGlobal('WebSocket', FakeSocket)
    vi.useFakeTimers({ toFake: ['Date'], now: new Date(`${today}T12:00:00Z`) })
  })
  afterEach(() => {
    vi.useRealTimers()
    vi.unstubAllGlobals()
  })

  const device = (id: string, name: string, max_hourly_kwh: number) => testDevice(id, name, { max_hourly_kwh })
  const devices = [device('d1', 'Kitchen', 2), device('d2', 'Garage', 5)]
  const dayOf = (id: string, kwh: number) => ({
    device_id: id,
    date: today,
    unit: 'kWh',
    hours: hoursOf(today).map((hour, h) => ({ hour, kwh: h === 0 ? kwh : 0 })),
    total_kwh: kwh,
  })
  const figures = { start: today, end: today, kwh: 0, cost: null }
  const figureRoutes = {
    'GET /api/consumption/compare': () =>
      json(200, { period: 'day', time_zone: 'UTC', currency: null, current: figures, previous: figures, year_before: figures, change_vs_previous_pct: null, change_vs_year_before_pct: null }),
    'GET /api/consumption/month-to-date': () =>
      json(200, { time_zone: 'UTC', month: today.slice(0, 7), kwh: 0, cost: null, currency: null, projected_kwh: 0, projected_cost: null, elapsed_fraction: 0.5 }),
  }
  /** The view over both devices at `path`, each day's consumption from `day`. */
  const renderView = (path: string, day: (deviceId: string) => number) =>
    renderApp(
      <RealtimeProvider>
        <DeviceNamesProvider>
          <ConsumptionView devices={devices} timeZone="UTC" noDevices={null} />
        </DeviceNamesProvider>
      </RealtimeProvider>,
      {
        session: signedIn('CLIENT'),
        path,
        routes: {
          'GET /api/auth/me': () => json(200, { id: 'client-1', username: 'ann', role: 'CLIENT' }),
          'GET /api/consumption/day': (call) => {
            const id = new URL(call.url, 'http://x').searchParams.get('device_id')!
            return json(200, dayOf(id, day(id)))
          },
          ...figureRoutes,
        },
      },
    )

  it('sums all devices and follows live updates without a reload', async () => {
    const { container } = renderView('/consumption', (id) => (id === 'd1' ? 1 : 0.5))
    await waitFor(() => expect(screen.getByTestId('stat-total')).toHaveTextContent('1.50 kWh'))
    expect(screen.getByRole('combobox')).toHaveDisplayValue('All my devices')
    await waitFor(() => expect(FakeSocket.instances.length).toBeGreaterThan(0))
    const ws = FakeSocket.last()
    ws.open()
    ws.receive({ type: 'consumption.updated', device_id: 'd2', hour: hoursOf(today)[0].replace('.000Z', '+00:00'), kwh: 2.5 })
    await waitFor(() => expect(screen.getByTestId('stat-total')).toHaveTextContent('3.50 kWh'))
    // An update for a device that is not shown changes nothing, and updates arriving together
    // all count: the two after it are the barrier (messages are handled in order), so once they
    // show, the first was handled too.
    ws.receive({ type: 'consumption.updated', device_id: 'other', hour: hoursOf(today)[0], kwh: 100 })
    ws.receive({ type: 'consumption.updated', device_id: 'd1', hour: hoursOf(today)[1], kwh: 2 })
    ws.receive({ type: 'consumption.updated', device_id: 'd2', hour: hoursOf(today)[0], kwh: 3 })
    await waitFor(() => expect(screen.getByTestId('stat-total')).toHaveTextContent('6.00 kWh'))
    expect(container.querySelectorAll('.chart-bar')).toHaveLength(24)
  })

  it('shows the limit for one device and offers the previous day', async () => {
    renderView('/consumption?device=d1', (id) => (id === 'd1' ? 3 : 0))
    expect(await screen.findByText('exceeded 1×', { exact: false })).toBeInTheDocument()
    expect(screen.getByRole('button', { name: 'Next day' })).toBeDisabled()
    await userEvent.click(screen.getByRole('button', { name: 'Previous day' }))
    expect(screen.getByLabelText('Date')).not.toHaveValue(today)
    expect(screen.getByRole('button', { name: 'Next day' })).toBeEnabled()
  })
})
