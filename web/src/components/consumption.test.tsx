import { screen, waitFor, within } from '@testing-library/react'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { Device } from '../api/types'
import { SPRING_BUCHAREST } from '../test/zones'
import { DeviceNamesProvider } from '../realtime/DeviceNames'
import { RealtimeProvider } from '../realtime/RealtimeProvider'
import { FakeSocket, json, testDevice, type Call } from '../test/fakes'
import { renderApp, signedIn } from '../test/render'
import { ConsumptionView } from './ConsumptionView'

const device = (id: string, name: string) => testDevice(id, name, { max_hourly_kwh: 5, tariff_id: 't1' })

const param = (call: Call, name: string) => new URL(call.url, 'http://x').searchParams.get(name)

/** A Bucharest day of 23 hours: 1 kWh each, at 0.62 RON at night (22–06) and 1.12 RON by day. */
function springDay(call: Call) {
  const hours = SPRING_BUCHAREST.map((hour) => {
    const h = Number(hour.slice(11, 13))
    return { hour, kwh: 1, cost: h < 6 || h >= 22 ? 0.62 : 1.12 }
  })
  return json(200, {
    device_id: param(call, 'device_id'),
    date: '2026-03-29',
    time_zone: 'Europe/Bucharest',
    unit: 'kWh',
    currency: 'RON',
    hours,
    total_kwh: 23,
    total_cost: 21.76,
  })
}

const comparison = (call: Call) =>
  json(200, {
    period: param(call, 'period'),
    time_zone: 'Europe/Bucharest',
    currency: 'RON',
    current: { start: '2026-03-29', end: '2026-03-30', kwh: 23, cost: 21.76 },
    previous: { start: '2026-03-28', end: '2026-03-29', kwh: 20, cost: 19 },
    year_before: { start: '2025-03-29', end: '2025-03-30', kwh: 0, cost: 0 },
    change_vs_previous_pct: 15,
    change_vs_year_before_pct: null,
  })

const monthToDate = () =>
  json(200, {
    time_zone: 'Europe/Bucharest',
    month: '2026-03',
    kwh: 600.5,
    cost: 580.25,
    currency: 'RON',
    projected_kwh: 640,
    projected_cost: 620.1,
    elapsed_fraction: 0.935,
  })

function renderView(path: string, devices: Device[], allAreMine = true) {
  return renderApp(
    <RealtimeProvider>
      <DeviceNamesProvider>
        <ConsumptionView devices={devices} timeZone="Europe/Bucharest" allAreMine={allAreMine} noDevices={null} />
      </DeviceNamesProvider>
    </RealtimeProvider>,
    {
      session: signedIn('CLIENT'),
      path,
      routes: {
        'GET /api/auth/me': () => json(200, { id: 'client-1', username: 'ann', role: 'CLIENT' }),
        'GET /api/consumption/day': springDay,
        'GET /api/consumption/compare': comparison,
        'GET /api/consumption/month-to-date': monthToDate,
      },
    },
  )
}

describe('ConsumptionView in a time zone, with cost', () => {
  beforeEach(() => {
    FakeSocket.instances = []
    vi.stubGlobal('WebSocket', FakeSocket)
  })
  afterEach(() => vi.unstubAllGlobals())

  it('shows the 23 local hours of a daylight-saving day, each with its cost, and the day total', async () => {
    const { container, calls } = renderView('/consumption?device=d1&date=2026-03-29', [device('d1', 'Kitchen')])
    await waitFor(() => expect(container.querySelectorAll('.chart-bar')).toHaveLength(23))
    expect(screen.getByTestId('stat-total')).toHaveTextContent('23.0 kWh')
    expect(screen.getByTestId('stat-cost')).toHaveTextContent('RON 21.76')
    expect(screen.getByTestId('chart-zone')).toHaveTextContent('Europe/Bucharest')
    expect(screen.getByTestId('dst-note')).toHaveTextContent('This day had 23 hours in Europe/Bucharest')
    // Every request is in the view's zone.
    expect(calls.filter((c) => c.url.includes('/api/consumption/')).every((c) => param(c, 'tz') === 'Europe/Bucharest')).toBe(true)
    // The hidden table (what a screen reader reads) names each local hour with its offset and cost.
    const table = container.querySelector('.sr-only table')!
    const rows = within(table as HTMLElement).getAllByRole('row')
    expect(rows).toHaveLength(23)
    expect(rows[2]).toHaveTextContent('02:00–04:00 (UTC+02:00)1.00 kWhRON 0.62')
    expect(rows[12]).toHaveTextContent('13:00–14:00 (UTC+03:00)1.00 kWhRON 1.12')
    // The x axis skips 03:00.
    const axis = [...container.querySelectorAll('.chart-xlabel')].map((t) => t.textContent)
    expect(axis).not.toContain('03')
  })

  it("compares the day with the day before and a year before, in the API's numbers", async () => {
    const { calls } = renderView('/consumption?device=d1&date=2026-03-29', [device('d1', 'Kitchen')])
    const previous = await screen.findByTestId('compare-previous')
    expect(within(previous).getByTestId('compare-previous-kwh')).toHaveTextContent('20.0 kWh')
    expect(previous).toHaveTextContent('RON 19.00')
    expect(within(previous).getByTestId('compare-previous-pct')).toHaveTextContent('+15.0%')
    // Nothing a year before: no percentage to show.
    expect(screen.getByTestId('compare-year-pct')).toHaveTextContent('n/a')
    const compare = calls.find((c) => c.url.includes('/compare'))!
    expect([param(compare, 'period'), param(compare, 'date'), param(compare, 'device_id')]).toEqual(['day', '2026-03-29', 'd1'])
  })

  it('shows the month so far and its projection', async () => {
    renderView('/consumption?device=d1&date=2026-03-29', [device('d1', 'Kitchen')])
    expect(await screen.findByRole('heading', { name: 'March 2026 so far' })).toBeInTheDocument()
    expect(screen.getByTestId('mtd-kwh')).toHaveTextContent('601 kWh')
    expect(screen.getByTestId('mtd-cost')).toHaveTextContent('RON 580.25')
    expect(screen.getByTestId('mtd-projected')).toHaveTextContent('640 kWh · RON 620.10')
    expect(screen.getByRole('progressbar', { name: 'Share of the month gone' })).toHaveAttribute('aria-valuenow', '94')
  })

  it("asks once for all of a client's own devices, and per device for an admin's view of a client", async () => {
    const devices = [device('d1', 'Kitchen'), device('d2', 'Boiler')]
    const mine = renderView('/consumption?date=2026-03-29', devices)
    await screen.findByTestId('compare-previous')
    const compares = mine.calls.filter((c) => c.url.includes('/compare'))
    expect(compares.map((c) => param(c, 'device_id'))).toEqual([null])
    mine.unmount()

    const theirs = renderView('/consumption?date=2026-03-29', devices, false)
    // Two devices of 20 kWh the day before: the admin sees 40.
    await waitFor(() => expect(screen.getByTestId('compare-previous-kwh')).toHaveTextContent('40.0 kWh'))
    expect(theirs.calls.filter((c) => c.url.includes('/compare')).map((c) => param(c, 'device_id')).sort()).toEqual(['d1', 'd2'])
    expect(screen.getByTestId('stat-cost')).toHaveTextContent('RON 43.52')
  })
})
