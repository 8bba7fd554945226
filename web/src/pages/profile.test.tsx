import { screen, waitFor, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { User } from '../api/types'
import { json, type Call } from '../test/fakes'
import { renderApp, signedIn } from '../test/render'
import { ProfilePage } from './ProfilePage'

const STAMP = '2026-11-01T00:00:00Z'
const me = (time_zone: string): User => ({
  id: 'client-1',
  username: 'ann',
  role: 'CLIENT',
  full_name: 'Ann',
  email: null,
  time_zone,
  created_at: STAMP,
  updated_at: STAMP,
})

/** The profile as a scripted server keeps it: PATCH /api/users/me changes what GET returns. */
function profileServer(initial: string, refuse?: (call: Call) => Response | null) {
  let zone = initial
  return {
    'GET /api/auth/me': () => json(200, { id: 'client-1', username: 'ann', role: 'CLIENT' }),
    'GET /api/users/me': () => json(200, me(zone)),
    'PATCH /api/users/me': (call: Call) => {
      const refused = refuse?.(call)
      if (refused) return refused
      zone = (call.body as { time_zone: string }).time_zone
      return json(200, me(zone))
    },
  }
}

describe('profile time zone', () => {
  beforeEach(() => {
    // This browser says it is in Bucharest.
    const real = Intl.DateTimeFormat.prototype.resolvedOptions
    vi.spyOn(Intl.DateTimeFormat.prototype, 'resolvedOptions').mockImplementation(function (this: Intl.DateTimeFormat) {
      return { ...real.call(this), timeZone: 'Europe/Bucharest' }
    })
  })
  afterEach(() => vi.restoreAllMocks())

  it("offers the browser's zone and saves it with PATCH /api/users/me", async () => {
    const { calls } = renderApp(<ProfilePage />, { session: signedIn('CLIENT'), routes: profileServer('UTC') })
    const card = (await screen.findByRole('heading', { name: 'Time zone' })).closest('section')!
    expect(await within(card).findByTestId('time-zone')).toHaveTextContent('UTC')
    const save = within(card).getByRole('button', { name: 'Save time zone' })
    expect(save).toBeDisabled()

    await userEvent.click(within(card).getByRole('button', { name: /Use this browser’s zone \(Europe\/Bucharest\)/ }))
    expect(within(card).getByTestId('time-zone')).toHaveTextContent('Europe/Bucharest')
    expect(within(card).getByText('not saved yet')).toBeInTheDocument()
    await userEvent.click(save)
    expect(await screen.findByText('Time zone saved')).toBeInTheDocument()
    expect(calls.filter((c) => c.method === 'PATCH').map((c) => [c.url, c.body])).toEqual([
      ['/api/users/me', { time_zone: 'Europe/Bucharest' }],
    ])
    // Saved: the page shows what the server holds now, and offers nothing more to save.
    await waitFor(() => expect(within(card).getByRole('button', { name: 'Save time zone' })).toBeDisabled())
    expect(within(card).queryByText('not saved yet')).toBeNull()
    expect(within(card).queryByRole('button', { name: /Use this browser’s zone/ })).toBeNull()
  })

  it('finds a zone by words of its name and shows the server refusing it on the field', async () => {
    const refuse = () =>
      json(422, {
        error: {
          code: 'validation_error',
          message: 'the request is not valid',
          details: [{ loc: ['body', 'time_zone'], msg: "Value error, unknown time zone 'America/New_York'", type: 'value_error' }],
        },
      })
    renderApp(<ProfilePage />, { session: signedIn('CLIENT'), routes: profileServer('Europe/Bucharest', refuse) })
    const card = (await screen.findByRole('heading', { name: 'Time zone' })).closest('section')!
    await within(card).findByTestId('time-zone')
    await userEvent.type(within(card).getByRole('searchbox'), 'new york')
    const results = within(card).getByRole('list', { name: 'Time zones' })
    expect(within(results).getAllByRole('button').map((b) => b.textContent)).toEqual([expect.stringMatching(/^America\/New_York/)])
    await userEvent.click(within(results).getByRole('button', { name: /America\/New_York/ }))
    expect(within(results).getByRole('button', { name: /America\/New_York/ })).toHaveAttribute('aria-pressed', 'true')
    await userEvent.click(within(card).getByRole('button', { name: 'Save time zone' }))
    expect(await within(card).findByText("Unknown time zone 'America/New_York'")).toBeInTheDocument()
    expect(within(card).getByRole('searchbox')).toHaveAttribute('aria-invalid', 'true')

    await userEvent.clear(within(card).getByRole('searchbox'))
    await userEvent.type(within(card).getByRole('searchbox'), 'mars')
    expect(within(card).getByText('No time zone matches “mars”.')).toBeInTheDocument()
  })
})
