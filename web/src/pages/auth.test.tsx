import { screen, waitFor } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { App } from '../App'
import { FakeSocket, json, tokens } from '../test/fakes'
import { renderApp, signedIn } from '../test/render'

beforeEach(() => {
  FakeSocket.instances = []
  vi.stubGlobal('WebSocket', FakeSocket)
})
afterEach(() => vi.unstubAllGlobals())

const day = { device_id: 'd1', date: '2026-01-01', unit: 'kWh', hours: [], total_kwh: 0 }

describe('signing in', () => {
  it("shows the server's message when the password is wrong", async () => {
    renderApp(<App />, {
      path: '/login',
      routes: { 'POST /api/auth/login': () => json(401, { error: { code: 'unauthorized', message: 'invalid username or password', details: null } }) },
    })
    await userEvent.type(screen.getByLabelText('Username'), 'ann')
    await userEvent.type(screen.getByLabelText('Password'), 'wrong-password')
    await userEvent.click(screen.getByRole('button', { name: 'Sign in' }))
    expect(await screen.findByRole('alert')).toHaveTextContent('Invalid username or password.')
    expect(screen.getByLabelText('Password')).toHaveValue('')
  })

  it('asks for both fields before calling the server', async () => {
    const { calls } = renderApp(<App />, { path: '/login' })
    await userEvent.click(screen.getByRole('button', { name: 'Sign in' }))
    expect(screen.getByText('Username is required.')).toBeInTheDocument()
    expect(screen.getByLabelText('Username')).toHaveAttribute('aria-invalid', 'true')
    expect(calls).toHaveLength(0)
  })

  it('lands a client on the consumption page', async () => {
    renderApp(<App />, {
      path: '/login',
      routes: {
        'POST /api/auth/login': () => json(200, tokens('A1', 'R1')),
        'GET /api/auth/me': () => json(200, { id: 'u1', username: 'ann', role: 'CLIENT' }),
        'GET /api/devices': () => json(200, { items: [], total: 0, page: 1, size: 100 }),
        'GET /api/consumption/alerts/unread-count': () => json(200, { count: 0 }),
        'GET /api/users/me': () => json(200, { id: 'u1', username: 'ann', role: 'CLIENT', time_zone: 'Europe/Bucharest' }),
        'GET /api/support/conversations/me': () => json(200, null),
        'GET /api/consumption/day': () => json(200, day),
      },
    })
    await userEvent.type(screen.getByLabelText('Username'), 'ann')
    await userEvent.type(screen.getByLabelText('Password'), 'secret-pass')
    await userEvent.click(screen.getByRole('button', { name: 'Sign in' }))
    expect(await screen.findByRole('heading', { name: 'Consumption' })).toBeInTheDocument()
    expect(await screen.findByText('No meters on your account yet')).toBeInTheDocument()
  })
})

describe('registration', () => {
  it('checks the form, then shows a taken username on its field', async () => {
    const { calls } = renderApp(<App />, {
      path: '/register',
      routes: { 'POST /api/auth/register': () => json(409, { error: { code: 'conflict', message: 'username already taken', details: null } }) },
    })
    await userEvent.type(screen.getByLabelText('Username'), 'an')
    await userEvent.type(screen.getByLabelText('Password'), 'short')
    await userEvent.click(screen.getByRole('button', { name: 'Create account' }))
    expect(screen.getByText('Username must be at least 3 characters.')).toBeInTheDocument()
    expect(screen.getByText('Password must be at least 8 characters.')).toBeInTheDocument()
    expect(calls).toHaveLength(0)

    await userEvent.type(screen.getByLabelText('Username'), 'n')
    await userEvent.clear(screen.getByLabelText('Password'))
    await userEvent.type(screen.getByLabelText('Password'), 'long-enough')
    await userEvent.type(screen.getByLabelText('Repeat password'), 'long-enough')
    await userEvent.click(screen.getByRole('button', { name: 'Create account' }))
    expect(await screen.findByText('Username already taken.')).toBeInTheDocument()
    expect(calls[0].body).toEqual({ username: 'ann', password: 'long-enough', full_name: null, email: null })
  })
})

describe('forced logout', () => {
  it('returns to the sign-in page with a notice when the session is refused', async () => {
    renderApp(<App />, {
      path: '/devices',
      session: signedIn('CLIENT'),
      routes: {
        'GET /api/auth/me': () => json(401, { error: { code: 'unauthorized', message: 'invalid or expired token' } }),
        'GET /api/devices': () => json(401, { error: { code: 'unauthorized', message: 'invalid or expired token' } }),
        'GET /api/consumption/alerts': () => json(401, {}),
        'GET /api/support/conversations/me': () => json(401, {}),
        'POST /api/auth/refresh': () => json(401, { error: { code: 'unauthorized', message: 'invalid refresh token' } }),
      },
    })
    expect(await screen.findByTestId('session-notice')).toHaveTextContent('Your session has expired')
    expect(screen.getByRole('heading', { name: 'Sign in' })).toBeInTheDocument()
  })

  it('logs out when the WebSocket says the account is gone (4403)', async () => {
    renderApp(<App />, {
      path: '/devices',
      session: signedIn('CLIENT'),
      routes: {
        'GET /api/auth/me': () => json(200, { id: 'client-1', username: 'ann', role: 'CLIENT' }),
        'GET /api/devices': () => json(200, { items: [], total: 0, page: 1, size: 100 }),
        'GET /api/consumption/alerts': () => json(200, { items: [], total: 0, page: 1, size: 50 }),
        'GET /api/support/conversations/me': () => json(200, null),
      },
    })
    await screen.findByRole('heading', { name: 'My devices' })
    await waitFor(() => expect(FakeSocket.instances.length).toBeGreaterThan(0))
    const ws = FakeSocket.last()
    expect(ws.url).toContain('/ws?token=A1')
    ws.open()
    ws.serverClose(4403)
    expect(await screen.findByTestId('session-notice')).toHaveTextContent('no longer available')
  })
})
