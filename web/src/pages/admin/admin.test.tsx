import { screen, waitFor, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { describe, expect, it } from 'vitest'
import type { Device, User } from '../../api/types'
import { json, type Call } from '../../test/fakes'
import { renderApp, signedIn } from '../../test/render'
import { AdminDevicesPage } from './AdminDevicesPage'
import { UsersPage } from './UsersPage'

const STAMP = '2026-11-01T00:00:00Z'

function user(id: string, username: string, role: User['role'] = 'CLIENT'): User {
  return { id, username, role, full_name: null, email: null, time_zone: 'UTC', created_at: STAMP, updated_at: STAMP }
}

function device(id: string, name: string, owner_id: string | null = null): Device {
  const base = { description: null, address: null, max_hourly_kwh: 2, status: 'active' as const, tariff_id: null, meter_id: null, silence_minutes: 30 }
  return { id, name, owner_id, ...base, created_at: STAMP, updated_at: STAMP }
}

const page = <T,>(items: T[], total = items.length) => json(200, { items, total, page: 1, size: 20 })
const query = (call: Call) => new URL(call.url, 'http://x').searchParams
const me = { 'GET /api/auth/me': () => json(200, { id: 'admin-1', username: 'root', role: 'ADMIN' }) }

describe('admin users', () => {
  it('lists users, marks the admin, and keeps them from deleting themselves', async () => {
    renderApp(<UsersPage />, {
      session: signedIn('ADMIN'),
      routes: { ...me, 'GET /api/users': () => page([user('admin-1', 'root', 'ADMIN'), user('u2', 'ann')]) },
    })
    const own = (await screen.findByText('root')).closest('tr')!
    expect(within(own).getByText('you')).toBeInTheDocument()
    expect(within(own).getByText('Admin')).toBeInTheDocument()
    expect(screen.getByRole('button', { name: 'Delete root' })).toBeDisabled()
    expect(screen.getByRole('button', { name: 'Delete ann' })).toBeEnabled()
    expect(screen.getByRole('heading', { name: 'Users' })).toBeInTheDocument()
  })

  it('searches from page 1 and says when nothing matches', async () => {
    const { calls } = renderApp(<UsersPage />, {
      session: signedIn('ADMIN'),
      routes: {
        ...me,
        'GET /api/users': (call) => (query(call).get('q') ? page([]) : page([user('u2', 'ann')], 45)),
      },
    })
    expect(await screen.findByText('1–20 of 45 users')).toBeInTheDocument()
    await userEvent.click(screen.getByRole('button', { name: /Next/ }))
    await waitFor(() => expect(calls.some((c) => query(c).get('page') === '2')).toBe(true))
    await userEvent.type(screen.getByRole('searchbox', { name: 'Search users' }), ' zed ')
    expect(await screen.findByText('No user matches “zed”')).toBeInTheDocument()
    const searched = calls.filter((c) => query(c).get('q'))
    expect(searched.map((c) => [query(c).get('q'), query(c).get('page')])).toEqual([['zed', '1']])
  })

  it('deletes only after the confirmation, then reloads the list', async () => {
    let deleted = false
    const { calls } = renderApp(<UsersPage />, {
      session: signedIn('ADMIN'),
      routes: {
        ...me,
        'GET /api/users': () => page(deleted ? [] : [user('u2', 'ann')]),
        'DELETE /api/users/u2': () => {
          deleted = true
          return json(204, null)
        },
      },
    })
    await userEvent.click(await screen.findByRole('button', { name: 'Delete ann' }))
    const confirm = screen.getByRole('dialog', { name: 'Delete user?' })
    expect(calls.some((c) => c.method === 'DELETE')).toBe(false)
    await userEvent.click(within(confirm).getByRole('button', { name: 'Delete user' }))
    expect(await screen.findByText('Deleted ann')).toBeInTheDocument()
    expect(await screen.findByText('No users yet')).toBeInTheDocument()
  })

  it('shows a failed load with a retry that works', async () => {
    renderApp(<UsersPage />, {
      session: signedIn('ADMIN'),
      routes: { ...me, 'GET /api/users': [() => json(503, {}), () => page([user('u2', 'ann')])] },
    })
    expect(await screen.findByText("Couldn't load users")).toBeInTheDocument()
    await userEvent.click(screen.getByRole('button', { name: 'Try again' }))
    expect(await screen.findByText('ann')).toBeInTheDocument()
  })

  it('creates a user, typed into the dialog it opens with the first field focused', async () => {
    const { calls } = renderApp(<UsersPage />, {
      session: signedIn('ADMIN'),
      routes: {
        ...me,
        'GET /api/users': () => page([]),
        'POST /api/users': (call) => json(201, user('u3', (call.body as { username: string }).username)),
      },
    })
    await userEvent.click(await screen.findByRole('button', { name: 'New user' }))
    expect(screen.getByRole('dialog', { name: 'New user' })).toBeInTheDocument()
    expect(screen.getByLabelText('Username')).toHaveFocus()
    await userEvent.keyboard('bob')
    await userEvent.type(screen.getByLabelText('Initial password'), 'long-enough-1')
    // A new user's days are in UTC unless the admin says otherwise.
    expect(screen.getByLabelText('Time zone')).toHaveValue('UTC')
    await userEvent.clear(screen.getByLabelText('Time zone'))
    await userEvent.type(screen.getByLabelText('Time zone'), 'Europe/Bucharest')
    await userEvent.click(screen.getByRole('button', { name: 'Create user' }))
    expect(await screen.findByText('Created bob')).toBeInTheDocument()
    expect(calls.find((c) => c.method === 'POST')?.body).toEqual({
      username: 'bob',
      password: 'long-enough-1',
      role: 'CLIENT',
      full_name: null,
      email: null,
      time_zone: 'Europe/Bucharest',
    })
  })

  it("changes a user's time zone, and shows an unknown zone refused by the server on the field", async () => {
    const { calls } = renderApp(<UsersPage />, {
      session: signedIn('ADMIN'),
      routes: {
        ...me,
        'GET /api/users': () => page([user('u2', 'ann')]),
        'PATCH /api/users/u2': [
          () =>
            json(422, {
              error: { code: 'validation_error', message: 'the request is not valid', details: [{ loc: ['body', 'time_zone'], msg: 'Value error, unknown time zone', type: 'value_error' }] },
            }),
          (call) => json(200, { ...user('u2', 'ann'), ...(call.body as object) }),
        ],
      },
    })
    expect(within((await screen.findByText('ann')).closest('tr')!).getByText('UTC')).toBeInTheDocument()
    await userEvent.click(screen.getByRole('button', { name: 'Edit ann' }))
    const dialog = screen.getByRole('dialog', { name: 'Edit ann' })
    const zone = within(dialog).getByLabelText('Time zone')
    await userEvent.clear(zone)
    await userEvent.type(zone, 'Mars/Olympus')
    await userEvent.click(within(dialog).getByRole('button', { name: 'Save changes' }))
    expect(await within(dialog).findByText('Unknown time zone')).toBeInTheDocument()
    expect(zone).toHaveAttribute('aria-invalid', 'true')
    await userEvent.clear(zone)
    await userEvent.type(zone, 'America/New_York')
    await userEvent.click(within(dialog).getByRole('button', { name: 'Save changes' }))
    await waitFor(() => expect(screen.queryByRole('dialog')).toBeNull())
    expect(calls.filter((c) => c.method === 'PATCH').at(-1)?.body).toMatchObject({ time_zone: 'America/New_York' })
  })
})

describe('admin devices', () => {
  it('edits a device and shows its owner by name', async () => {
    const { calls } = renderApp(<AdminDevicesPage />, {
      session: signedIn('ADMIN'),
      routes: {
        ...me,
        'GET /api/devices': () => page([device('d1', 'Kitchen', 'u2')]),
        'GET /api/tariffs': () => page([]),
        'GET /api/users/u2': () => json(200, user('u2', 'ann')),
        'PATCH /api/devices/d1': (call) => json(200, { ...device('d1', 'Kitchen', 'u2'), ...(call.body as object) }),
      },
    })
    const row = (await screen.findByText('Kitchen')).closest('tr')!
    expect(await within(row).findByText('ann')).toBeInTheDocument()
    expect(within(row).getByRole('link', { name: 'Consumption of Kitchen' })).toHaveAttribute('href', '/admin/consumption?user=u2&device=d1')
    await userEvent.click(within(row).getByRole('button', { name: 'Edit Kitchen' }))
    const dialog = screen.getByRole('dialog', { name: 'Edit Kitchen' })
    await userEvent.clear(within(dialog).getByLabelText('Hourly limit (kWh)'))
    await userEvent.type(within(dialog).getByLabelText('Hourly limit (kWh)'), '3.5')
    await userEvent.click(within(dialog).getByRole('button', { name: 'Save changes' }))
    expect(await screen.findByText('Saved Kitchen')).toBeInTheDocument()
    expect(calls.find((c) => c.method === 'PATCH')?.body).toMatchObject({ max_hourly_kwh: 3.5, owner_id: 'u2' })
  })

  it('assigns an unassigned device to a client picked by search', async () => {
    const { calls } = renderApp(<AdminDevicesPage />, {
      session: signedIn('ADMIN'),
      routes: {
        ...me,
        'GET /api/devices': () => page([device('d1', 'Garage')]),
        'GET /api/tariffs': () => page([]),
        'GET /api/users': () => page([user('u2', 'ann'), user('admin-1', 'root', 'ADMIN')]),
        'PATCH /api/devices/d1': () => json(200, device('d1', 'Garage', 'u2')),
      },
    })
    expect(await screen.findByText('Unassigned')).toBeInTheDocument()
    await userEvent.click(screen.getByRole('button', { name: 'Assign Garage' }))
    const dialog = screen.getByRole('dialog', { name: 'Owner of Garage' })
    expect(within(dialog).getByRole('button', { name: 'Unassign' })).toBeDisabled()
    const results = within(dialog).getByRole('list', { name: 'Matching clients' })
    await userEvent.click(await within(results).findByRole('button', { name: /ann/ }))
    expect(within(results).queryByRole('button', { name: /root/ })).toBeNull()
    await userEvent.click(within(dialog).getByRole('button', { name: 'Assign' }))
    expect(await screen.findByText('Assigned Garage')).toBeInTheDocument()
    expect(calls.find((c) => c.method === 'PATCH')?.body).toEqual({ owner_id: 'u2' })
  })

  it('explains an empty list and what to do first', async () => {
    renderApp(<AdminDevicesPage />, {
      session: signedIn('ADMIN'),
      routes: { ...me, 'GET /api/devices': () => page([]), 'GET /api/tariffs': () => page([]) },
    })
    expect(await screen.findByText('No devices yet')).toBeInTheDocument()
    expect(screen.getByText('Create a device, then assign it to a client.')).toBeInTheDocument()
  })

  it('gives a device a tariff, a meter id and a silence limit, and shows a taken meter id on its field', async () => {
    const night = { id: 't1', name: 'Night saver', currency: 'RON', price_per_kwh: 0.8, bands: [], created_at: STAMP, updated_at: STAMP }
    const taken = json(409, { error: { code: 'conflict', message: 'meter id is already taken', details: { field: 'meter_id' } } })
    const { calls } = renderApp(<AdminDevicesPage />, {
      session: signedIn('ADMIN'),
      routes: {
        ...me,
        'GET /api/devices': () => page([{ ...device('d1', 'Boiler'), meter_id: '7', tariff_id: 't1' }]),
        'GET /api/tariffs': () => page([night]),
        'PATCH /api/devices/d1': [() => taken, (call) => json(200, { ...device('d1', 'Boiler'), ...(call.body as object) })],
      },
    })
    const row = (await screen.findByText('Boiler')).closest('tr')!
    expect(within(row).getByText('Meter 7')).toBeInTheDocument()
    expect(await within(row).findByText('Night saver')).toBeInTheDocument()
    await userEvent.click(within(row).getByRole('button', { name: 'Edit Boiler' }))
    const dialog = screen.getByRole('dialog', { name: 'Edit Boiler' })
    expect(within(dialog).getByLabelText(/Tariff/)).toHaveValue('t1')
    expect(within(dialog).getByRole('option', { name: 'Night saver · 0.8 RON' })).toBeInTheDocument()
    await userEvent.selectOptions(within(dialog).getByLabelText(/Tariff/), 'No tariff')
    await userEvent.clear(within(dialog).getByLabelText(/Meter id/))
    await userEvent.type(within(dialog).getByLabelText(/Meter id/), 'meter.8')
    await userEvent.clear(within(dialog).getByLabelText(/Silent after/))
    await userEvent.type(within(dialog).getByLabelText(/Silent after/), '0')
    await userEvent.click(within(dialog).getByRole('button', { name: 'Save changes' }))
    expect(within(dialog).getByText("Use up to 64 letters, digits, '-' or '_'.")).toBeInTheDocument()
    expect(within(dialog).getByText(/Use whole minutes from 1 to 10080/)).toBeInTheDocument()
    expect(calls.some((c) => c.method === 'PATCH')).toBe(false)

    await userEvent.clear(within(dialog).getByLabelText(/Meter id/))
    await userEvent.type(within(dialog).getByLabelText(/Meter id/), '8')
    await userEvent.clear(within(dialog).getByLabelText(/Silent after/))
    await userEvent.click(within(dialog).getByRole('button', { name: 'Save changes' }))
    expect(await within(dialog).findByText('Meter id is already taken.')).toBeInTheDocument()
    expect(within(dialog).getByLabelText(/Meter id/)).toHaveAttribute('aria-invalid', 'true')
    await userEvent.clear(within(dialog).getByLabelText(/Meter id/))
    await userEvent.type(within(dialog).getByLabelText(/Meter id/), '9')
    await userEvent.click(within(dialog).getByRole('button', { name: 'Save changes' }))
    expect(await screen.findByText('Saved Boiler')).toBeInTheDocument()
    const sent = calls.filter((c) => c.method === 'PATCH').map((c) => c.body)
    expect(sent[1]).toMatchObject({ tariff_id: null, meter_id: '9', silence_minutes: null })
  })

  it('offers 30 silent minutes for a new device, and its tariffs to pick from', async () => {
    const night = { id: 't1', name: 'Night saver', currency: 'RON', price_per_kwh: 0.8, bands: [], created_at: STAMP, updated_at: STAMP }
    const { calls } = renderApp(<AdminDevicesPage />, {
      session: signedIn('ADMIN'),
      routes: {
        ...me,
        'GET /api/devices': () => page([]),
        'GET /api/tariffs': () => page([night]),
        'GET /api/users': () => page([]),
        'POST /api/devices': (call) => json(201, { ...device('d2', 'Heat pump'), ...(call.body as object) }),
      },
    })
    await userEvent.click(await screen.findByRole('button', { name: 'New device' }))
    const dialog = screen.getByRole('dialog', { name: 'New device' })
    expect(within(dialog).getByLabelText(/Silent after/)).toHaveValue(30)
    await userEvent.type(within(dialog).getByLabelText('Name'), 'Heat pump')
    await userEvent.type(within(dialog).getByLabelText('Hourly limit (kWh)'), '2')
    await within(dialog).findByRole('option', { name: 'Night saver · 0.8 RON' })
    await userEvent.selectOptions(within(dialog).getByLabelText(/Tariff/), 't1')
    await userEvent.type(within(dialog).getByLabelText(/Meter id/), '7')
    await userEvent.click(within(dialog).getByRole('button', { name: 'Create device' }))
    expect(await screen.findByText('Created Heat pump')).toBeInTheDocument()
    expect(calls.find((c) => c.method === 'POST')?.body).toMatchObject({ tariff_id: 't1', meter_id: '7', silence_minutes: 30 })
  })
})
