import { describe, expect, it, vi } from 'vitest'
import { ApiClient, type LogoutReason } from './client'
import { ApiError } from './errors'
import { MemorySessionStore, type Session } from './session'
import { json, scriptedFetch, tokens } from '../test/fakes'

const NOW = 1_700_000_000_000
const noLock = <T,>(_: string, task: () => Promise<T>) => task()

function session(access = 'A1', refresh = 'R1', expiresInMs = 600_000): Session {
  return { accessToken: access, refreshToken: refresh, expiresAt: NOW + expiresInMs, user: { id: 'u1', username: 'ann', role: 'CLIENT' } }
}

function client(routes: Parameters<typeof scriptedFetch>[0], initial: Session | null = session()) {
  const store = new MemorySessionStore(initial)
  const { fetch, calls } = scriptedFetch(routes)
  const api = new ApiClient({ store, fetch, now: () => NOW, lock: noLock })
  const logouts: LogoutReason[] = []
  api.onLogout((reason) => logouts.push(reason))
  return { api, store, calls, logouts }
}

describe('ApiClient', () => {
  it('sends the access token and returns the parsed body', async () => {
    const { api, calls } = client({ 'GET /api/users/me': () => json(200, { id: 'u1' }) })
    await expect(api.get('/api/users/me')).resolves.toEqual({ id: 'u1' })
    expect(calls[0].headers.Authorization).toBe('Bearer A1')
  })

  it('refreshes first when the access token is about to expire', async () => {
    const { api, calls, store } = client(
      {
        'POST /api/auth/refresh': () => json(200, tokens('A2', 'R2')),
        'GET /api/devices': () => json(200, { items: [] }),
      },
      session('A1', 'R1', 10_000),
    )
    await api.get('/api/devices')
    expect(calls.map((c) => `${c.method} ${c.url}`)).toEqual(['POST /api/auth/refresh', 'GET /api/devices'])
    expect(calls[0].body).toEqual({ refresh_token: 'R1' })
    expect(calls[1].headers.Authorization).toBe('Bearer A2')
    expect(store.load()?.refreshToken).toBe('R2')
    expect(store.load()?.expiresAt).toBe(NOW + 600_000)
  })

  it('refreshes short-lived tokens at three quarters of their life, not every second', () => {
    const { api } = client({})
    const short = { ...session('A', 'R', 60_000), issuedAt: NOW }
    expect(api.refreshDueAt(short)).toBe(NOW + 45_000)
    const long = { ...session('A', 'R', 600_000), issuedAt: NOW }
    expect(api.refreshDueAt(long)).toBe(NOW + 570_000)
  })

  it('on a 401 refreshes once and retries once', async () => {
    const { api, calls, logouts } = client({
      'GET /api/devices': [() => json(401, { error: { code: 'unauthorized', message: 'expired' } }), () => json(200, { items: [1] })],
      'POST /api/auth/refresh': () => json(200, tokens('A2', 'R2')),
    })
    await expect(api.get('/api/devices')).resolves.toEqual({ items: [1] })
    expect(calls.map((c) => c.headers.Authorization ?? c.url)).toEqual(['Bearer A1', '/api/auth/refresh', 'Bearer A2'])
    expect(logouts).toEqual([])
  })

  it('logs out when the refresh is refused', async () => {
    const { api, store, logouts } = client({
      'GET /api/devices': () => json(401, { error: { code: 'unauthorized', message: 'expired' } }),
      'POST /api/auth/refresh': () => json(401, { error: { code: 'unauthorized', message: 'invalid refresh token' } }),
    })
    const error = await api.get('/api/devices').catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ApiError)
    expect((error as ApiError).status).toBe(401)
    expect(store.load()).toBeNull()
    expect(logouts).toEqual(['expired'])
  })

  it('logs out when even a fresh token is refused, without looping', async () => {
    const { api, calls, logouts } = client({
      'GET /api/devices': () => json(401, { error: { code: 'unauthorized', message: 'account no longer exists' } }),
      'POST /api/auth/refresh': () => json(200, tokens('A2', 'R2')),
    })
    await expect(api.get('/api/devices')).rejects.toBeInstanceOf(ApiError)
    expect(calls).toHaveLength(3)
    expect(logouts).toEqual(['expired'])
  })

  it('shares one refresh between concurrent requests', async () => {
    let release!: () => void
    const gate = new Promise<void>((r) => (release = r))
    const { api, calls } = client({
      'GET /api/users/me': [() => json(401, {}), () => json(200, 'a')],
      'GET /api/devices': [() => json(401, {}), () => json(200, 'b')],
      'POST /api/auth/refresh': async () => {
        await gate
        return json(200, tokens('A2', 'R2'))
      },
    })
    const both = Promise.all([api.get('/api/users/me'), api.get('/api/devices')])
    await vi.waitFor(() => expect(calls.filter((c) => c.url === '/api/auth/refresh')).toHaveLength(1))
    release()
    await expect(both).resolves.toEqual(['a', 'b'])
    expect(calls.filter((c) => c.url === '/api/auth/refresh')).toHaveLength(1)
  })

  it("adopts another tab's rotation instead of spending the refresh token twice", async () => {
    const { api, calls, store } = client({
      'GET /api/devices': [() => json(401, {}), () => json(200, 'ok')],
      'POST /api/auth/refresh': () => json(200, tokens('X', 'X')),
    })
    // The other tab rotated between our request and its 401.
    const original = store.load.bind(store)
    let first = true
    store.load = () => {
      if (first) {
        first = false
        return original()
      }
      return session('A9', 'R9')
    }
    await expect(api.get('/api/devices')).resolves.toBe('ok')
    expect(calls.some((c) => c.url === '/api/auth/refresh')).toBe(false)
    expect(calls[1].headers.Authorization).toBe('Bearer A9')
  })

  it('keeps the session when the refresh fails for network reasons', async () => {
    const { api, store, logouts } = client({
      'GET /api/devices': () => json(401, {}),
      'POST /api/auth/refresh': () => {
        throw new TypeError('Failed to fetch')
      },
    })
    const error = (await api.get('/api/devices').catch((e: unknown) => e)) as ApiError
    expect(error.isNetwork).toBe(true)
    expect(store.load()).not.toBeNull()
    expect(logouts).toEqual([])
  })

  it('treats a 401 from login as wrong credentials, not as an expired session', async () => {
    const { api, calls, logouts } = client(
      { 'POST /api/auth/login': () => json(401, { error: { code: 'unauthorized', message: 'invalid username or password', details: null } }) },
      null,
    )
    const error = (await api.login('ann', 'nope').catch((e: unknown) => e)) as ApiError
    expect(error.message).toBe('Invalid username or password.')
    expect(calls).toHaveLength(1)
    expect(calls[0].headers.Authorization).toBeUndefined()
    expect(logouts).toEqual([])
  })

  it('stores the session after login', async () => {
    const { api, store } = client({ 'POST /api/auth/login': () => json(200, tokens('A1', 'R1', 300)) }, null)
    await api.login('ann', 'secret123')
    expect(store.load()).toEqual({ accessToken: 'A1', refreshToken: 'R1', expiresAt: NOW + 300_000, issuedAt: NOW, user: tokens('', '').user })
  })

  it('logs out locally even when the server cannot be reached', async () => {
    const { api, store, calls, logouts } = client({
      'POST /api/auth/logout': () => {
        throw new TypeError('offline')
      },
    })
    await api.logout()
    expect(store.load()).toBeNull()
    expect(calls[0].body).toEqual({ refresh_token: 'R1' })
    expect(logouts).toEqual(['signed-out'])
  })

  it('adopts the tokens a password change returns', async () => {
    const { api, store } = client({})
    const seen: (string | undefined)[] = []
    api.onSession((s) => seen.push(s?.accessToken))
    api.adoptTokens(tokens('A5', 'R5'))
    expect(store.load()?.refreshToken).toBe('R5')
    expect(seen).toEqual(['A5'])
  })

  it('builds query strings without empty values', () => {
    const { api } = client({})
    expect(api.url('/api/users', { page: 2, q: '', role: undefined, size: 20 })).toBe('/api/users?page=2&size=20')
  })
})

describe('errors', () => {
  it('maps 422 details onto fields', async () => {
    const { api } = client({
      'POST /api/users': () =>
        json(422, {
          error: {
            code: 'validation_error',
            message: 'the request is not valid',
            details: [
              { loc: ['body', 'email'], msg: 'value is not a valid email address: An email address must have an @-sign.', type: 'value_error' },
              { loc: ['body', 'password'], msg: 'String should have at least 8 characters', type: 'string_too_short' },
            ],
          },
        }),
    })
    const error = (await api.post('/api/users', {}).catch((e: unknown) => e)) as ApiError
    expect(error.message).toBe('Please correct the highlighted fields.')
    expect(error.fieldErrors).toEqual({
      email: 'Value is not a valid email address: An email address must have an @-sign.',
      password: 'String should have at least 8 characters',
    })
  })

  it('puts a single named field error on that field', async () => {
    const { api } = client({
      'POST /api/auth/password': () =>
        json(422, { error: { code: 'wrong_password', message: 'the current password is wrong', details: { field: 'old_password' } } }),
    })
    const error = (await api.post('/api/auth/password', {}).catch((e: unknown) => e)) as ApiError
    expect(error.fieldErrors).toEqual({ old_password: 'The current password is wrong.' })
  })

  it('says how long to wait after a 429', async () => {
    const { api } = client(
      { 'POST /api/auth/login': () => json(429, { error: { code: 'too_many_attempts', message: 'slow down' } }, { 'Retry-After': '42' }) },
      null,
    )
    const error = (await api.login('a', 'b').catch((e: unknown) => e)) as ApiError
    expect(error.retryAfter).toBe(42)
    expect(error.message).toBe('Too many attempts. Try again in 42 s.')
  })

  it('never shows a server error body to the user', async () => {
    const { api } = client({ 'GET /api/users/me': () => new Response('<html>Bad Gateway</html>', { status: 502 }) })
    const error = (await api.get('/api/users/me').catch((e: unknown) => e)) as ApiError
    expect(error.message).toBe('Something went wrong on our side. Please try again.')
  })
})
