import { screen, waitFor, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { describe, expect, it } from 'vitest'
import type { Tariff } from '../../api/types'
import { json, type Call } from '../../test/fakes'
import { renderApp, signedIn } from '../../test/render'
import { TariffsPage } from './TariffsPage'

const STAMP = '2026-11-01T00:00:00Z'
const NIGHT = { start: '22:00', end: '06:00', price_per_kwh: 0.35 }

function tariff(id: string, name: string, bands = [NIGHT]): Tariff {
  return { id, name, currency: 'RON', price_per_kwh: 0.8, bands, created_at: STAMP, updated_at: STAMP }
}

const page = <T,>(items: T[]) => json(200, { items, total: items.length, page: 1, size: 20 })
const me = { 'GET /api/auth/me': () => json(200, { id: 'admin-1', username: 'root', role: 'ADMIN' }) }
const invalid = (details: unknown[]) =>
  json(422, { error: { code: 'validation_error', message: 'the request is not valid', details } })

async function fillBand(dialog: HTMLElement, n: number, start: string, end: string, price: string) {
  await userEvent.type(within(dialog).getByLabelText(`Band ${n} From`), start)
  await userEvent.type(within(dialog).getByLabelText(`Band ${n} To`), end)
  await userEvent.type(within(dialog).getByLabelText(`Band ${n} Price per kWh`), price)
}

describe('admin tariffs', () => {
  it('lists tariffs with their bands, one price all day when they have none', async () => {
    renderApp(<TariffsPage />, {
      session: signedIn('ADMIN'),
      routes: { ...me, 'GET /api/tariffs': () => page([tariff('t1', 'Night saver'), tariff('t2', 'Flat', [])]) },
    })
    const night = (await screen.findByText('Night saver')).closest('tr')!
    expect(within(night).getByText('22:00–06:00 · 0.35 RON')).toBeInTheDocument()
    expect(within(night).getByText('0.8 RON')).toBeInTheDocument()
    const flat = screen.getByText('Flat').closest('tr')!
    expect(within(flat).getByText('One price all day')).toBeInTheDocument()
    expect(screen.getByRole('heading', { name: 'Tariffs' })).toBeInTheDocument()
  })

  it('says how many devices use each tariff', async () => {
    const onTariff = (id: string, tariff_id: string | null) => ({ id, name: id, tariff_id })
    renderApp(<TariffsPage />, {
      session: signedIn('ADMIN'),
      routes: {
        ...me,
        'GET /api/tariffs': () => page([tariff('t1', 'Night saver'), tariff('t2', 'Flat', []), tariff('t3', 'Spare', [])]),
        'GET /api/devices': () => page([onTariff('a', 't1'), onTariff('b', 't1'), onTariff('c', 't2'), onTariff('d', null)]),
      },
    })
    const count = async (name: string) => within((await screen.findByText(name)).closest('tr')!).getByTestId('tariff-devices')
    await waitFor(async () => expect(await count('Night saver')).toHaveTextContent('2 devices'))
    expect(await count('Flat')).toHaveTextContent('1 device')
    expect(await count('Spare')).toHaveTextContent('0 devices')
  })

  it('creates a tariff with a band that runs past midnight', async () => {
    const { calls } = renderApp(<TariffsPage />, {
      session: signedIn('ADMIN'),
      routes: {
        ...me,
        'GET /api/tariffs': () => page([]),
        'POST /api/tariffs': (call: Call) => json(201, { ...tariff('t3', 'x'), ...(call.body as object) }),
      },
    })
    await userEvent.click(await screen.findByRole('button', { name: 'New tariff' }))
    const dialog = screen.getByRole('dialog', { name: 'New tariff' })
    expect(within(dialog).getByLabelText('Name')).toHaveFocus()
    await userEvent.keyboard('Night saver')
    await userEvent.type(within(dialog).getByLabelText(/Price per kWh \(RON\)/), '0.8')
    await userEvent.click(within(dialog).getByRole('button', { name: 'Add band' }))
    await fillBand(dialog, 1, '22:00', '06:00', '0.35')
    expect(within(dialog).getByText('Runs past midnight, to 06:00 the next day.')).toBeInTheDocument()
    await userEvent.click(within(dialog).getByRole('button', { name: 'Add band' }))
    await userEvent.click(within(dialog).getByRole('button', { name: 'Remove band 2' }))
    expect(within(dialog).queryByLabelText('Band 2 From')).toBeNull()
    await userEvent.click(within(dialog).getByRole('button', { name: 'Create tariff' }))
    expect(await screen.findByText('Created Night saver')).toBeInTheDocument()
    expect(calls.find((c) => c.method === 'POST')?.body).toEqual({
      name: 'Night saver',
      currency: 'RON',
      price_per_kwh: 0.8,
      bands: [NIGHT],
    })
  })

  it('checks each band before sending, and sends nothing while one is wrong', async () => {
    const { calls } = renderApp(<TariffsPage />, {
      session: signedIn('ADMIN'),
      routes: { ...me, 'GET /api/tariffs': () => page([]) },
    })
    await userEvent.click(await screen.findByRole('button', { name: 'New tariff' }))
    const dialog = screen.getByRole('dialog', { name: 'New tariff' })
    await userEvent.type(within(dialog).getByLabelText('Name'), 'Broken')
    await userEvent.type(within(dialog).getByLabelText(/Price per kWh \(RON\)/), '1')
    await userEvent.click(within(dialog).getByRole('button', { name: 'Add band' }))
    await fillBand(dialog, 1, '25:00', '10:00', '1')
    await userEvent.click(within(dialog).getByRole('button', { name: 'Add band' }))
    await fillBand(dialog, 2, '10:00', '10:00', '1')
    await userEvent.click(within(dialog).getByRole('button', { name: 'Create tariff' }))
    expect(await within(dialog).findByText('Use HH:MM, from 00:00 to 23:59.')).toBeInTheDocument()
    expect(within(dialog).getByLabelText('Band 1 From')).toHaveAttribute('aria-invalid', 'true')
    expect(within(dialog).getByText('Start and end must differ.')).toBeInTheDocument()
    expect(within(dialog).getByText('Please correct the highlighted bands.')).toBeInTheDocument()
    expect(calls.some((c) => c.method === 'POST')).toBe(false)
  })

  it("shows the server's overlap on the bands and a band's own error on its field", async () => {
    renderApp(<TariffsPage />, {
      session: signedIn('ADMIN'),
      routes: {
        ...me,
        'GET /api/tariffs': () => page([tariff('t1', 'Night saver')]),
        'PATCH /api/tariffs/t1': [
          () =>
            invalid([
              { loc: ['body', 'bands'], msg: 'Value error, band 2 (05:00-07:00) overlaps band 1 (22:00-06:00)', type: 'value_error' },
              { loc: ['body', 'bands', 1, 'price_per_kwh'], msg: 'Value error, a price has at most 6 decimals', type: 'value_error' },
            ]),
          () => json(409, { error: { code: 'conflict', message: 'a tariff of this name exists', details: { field: 'name' } } }),
        ],
      },
    })
    await userEvent.click(await screen.findByRole('button', { name: 'Edit Night saver' }))
    const dialog = screen.getByRole('dialog', { name: 'Edit Night saver' })
    expect(within(dialog).getByLabelText('Band 1 From')).toHaveValue('22:00')
    await userEvent.click(within(dialog).getByRole('button', { name: 'Add band' }))
    await fillBand(dialog, 2, '05:00', '07:00', '0.1234567')
    await userEvent.click(within(dialog).getByRole('button', { name: 'Save changes' }))
    expect(await within(dialog).findByText('Band 2 (05:00-07:00) overlaps band 1 (22:00-06:00).')).toBeInTheDocument()
    // Above the form: only that something is to be corrected; the details are on the bands.
    expect(within(dialog).getByText('Please correct the highlighted fields.')).toBeInTheDocument()
    expect(within(dialog).getByText('A price has at most 6 decimals.')).toBeInTheDocument()
    expect(within(dialog).getByLabelText('Band 2 Price per kWh')).toHaveAttribute('aria-invalid', 'true')

    // Editing the band clears what was said about it; a taken name lands on the name.
    await userEvent.clear(within(dialog).getByLabelText('Band 2 Price per kWh'))
    expect(within(dialog).queryByText('A price has at most 6 decimals.')).toBeNull()
    await userEvent.type(within(dialog).getByLabelText('Band 2 Price per kWh'), '1')
    await userEvent.click(within(dialog).getByRole('button', { name: 'Save changes' }))
    expect(await within(dialog).findByText('A tariff of this name exists.')).toBeInTheDocument()
    expect(within(dialog).getByLabelText('Name')).toHaveAttribute('aria-invalid', 'true')
  })

  it('explains why a tariff in use was not deleted', async () => {
    const { calls } = renderApp(<TariffsPage />, {
      session: signedIn('ADMIN'),
      routes: {
        ...me,
        'GET /api/tariffs': () => page([tariff('t1', 'Night saver')]),
        'DELETE /api/tariffs/t1': () =>
          json(409, { error: { code: 'tariff_in_use', message: 'the tariff is used by 2 devices', details: { devices: 2 } } }),
      },
    })
    await userEvent.click(await screen.findByRole('button', { name: 'Delete Night saver' }))
    const confirm = screen.getByRole('dialog', { name: 'Delete tariff?' })
    expect(calls.some((c) => c.method === 'DELETE')).toBe(false)
    await userEvent.click(within(confirm).getByRole('button', { name: 'Delete tariff' }))
    expect(
      await within(confirm).findByText(
        '2 devices use Night saver, so it was not deleted. Give them another tariff (or none) in Devices, then delete it.',
      ),
    ).toBeInTheDocument()
    await waitFor(() => expect(calls.filter((c) => c.method === 'DELETE')).toHaveLength(1))
    expect(screen.getByRole('button', { name: 'Edit Night saver' })).toBeInTheDocument()
  })
})
