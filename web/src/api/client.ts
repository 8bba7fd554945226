// The one way the app talks to the REST API. It keeps the access token fresh: it refreshes
// shortly before expiry, and on a 401 it refreshes once and retries once; when the server
// refuses the refresh too, the session is over and every listener hears a forced logout.

import { ApiError, errorFromResponse, networkError } from './errors'
import { sessionFromTokens, type Session, type SessionStore } from './session'
import type { ApiUrl, RegisterRequest, TokenResponse, UserRef } from './types'

export type LogoutReason = 'expired' | 'removed' | 'signed-out'

/** `ok`: a fresh token is stored; `failed`: the login is over; `transient`: try later. */
export type RefreshOutcome = 'ok' | 'failed' | 'transient'

type QueryValue = string | number | boolean | null | undefined

export interface RequestOptions {
  query?: Record<string, QueryValue>
  body?: unknown
  /** Send the access token (default); off for login, register and refresh themselves. */
  auth?: boolean
  signal?: AbortSignal
  accept?: 'json' | 'blob' | 'text'
}

type Lock = <T>(name: string, task: () => Promise<T>) => Promise<T>

// Tabs share one refresh token and the server revokes the whole login when a spent one is
// presented again, so two tabs must never rotate at the same time: a Web Lock serialises
// them across tabs, and the loser adopts the winner's tokens from storage.
const webLock: Lock = (name, task) =>
  typeof navigator !== 'undefined' && navigator.locks
    ? navigator.locks.request(name, task)
    : task()

export interface ApiClientOptions {
  store: SessionStore
  fetch?: typeof fetch
  now?: () => number
  baseUrl?: string
  /** Refresh when the access token has less than this left (ms). */
  refreshSkewMs?: number
  lock?: Lock
}

export class ApiClient {
  private readonly store: SessionStore
  private readonly fetchImpl: typeof fetch
  private readonly now: () => number
  private readonly baseUrl: string
  readonly refreshSkewMs: number
  private readonly lock: Lock
  private refreshing: Promise<RefreshOutcome> | null = null
  private readonly listeners = new Set<(reason: LogoutReason) => void>()
  private readonly sessionListeners = new Set<(session: Session | null) => void>()

  constructor(options: ApiClientOptions) {
    this.store = options.store
    this.fetchImpl = options.fetch ?? ((input, init) => fetch(input, init))
    this.now = options.now ?? Date.now
    this.baseUrl = options.baseUrl ?? ''
    this.refreshSkewMs = options.refreshSkewMs ?? 30_000
    this.lock = options.lock ?? webLock
    // Another tab signed in, rotated or signed out: this tab follows.
    this.store.subscribe((session) => this.emitSession(session))
  }

  get session(): Session | null {
    return this.store.load()
  }

  /** Listen for the end of the session (forced or chosen); returns an unsubscribe. */
  onLogout(listener: (reason: LogoutReason) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  /** Listen for every change of the stored session (login, rotation, logout, other tabs). */
  onSession(listener: (session: Session | null) => void): () => void {
    this.sessionListeners.add(listener)
    return () => this.sessionListeners.delete(listener)
  }

  async login(username: string, password: string): Promise<Session> {
    const tokens = await this.request<TokenResponse>('POST', '/api/auth/login', {
      body: { username, password },
      auth: false,
    })
    const session = sessionFromTokens(tokens, this.now())
    this.save(session)
    return session
  }

  register(body: RegisterRequest): Promise<UserRef> {
    return this.request<UserRef>('POST', '/api/auth/register', { body, auth: false })
  }

  /** Store tokens the server issued outside login/refresh (a password change starts a new session). */
  adoptTokens(tokens: TokenResponse): void {
    this.save(sessionFromTokens(tokens, this.now()))
  }

  /** Sign out here and revoke the refresh token on the server (best effort). */
  async logout(): Promise<void> {
    const session = this.store.load()
    this.save(null)
    this.emit('signed-out')
    if (!session) return
    try {
      await this.send('POST', '/api/auth/logout', { body: { refresh_token: session.refreshToken } }, null)
    } catch {
      // Offline: the refresh token simply expires on its own.
    }
  }

  /** End the session because the server refused it. */
  forceLogout(reason: LogoutReason = 'expired'): void {
    this.save(null)
    this.emit(reason)
  }

  /**
   * When to rotate: `refreshSkewMs` before expiry, or a quarter of the token's lifetime if
   * that is shorter (a 60 s token is not refreshed every second).
   */
  refreshDueAt(session: Session): number {
    const lifetime = session.issuedAt !== undefined ? session.expiresAt - session.issuedAt : Infinity
    return session.expiresAt - Math.min(this.refreshSkewMs, lifetime / 4)
  }

  /** A usable access token, refreshed first when it is about to expire; null when signed out. */
  async accessToken(): Promise<string | null> {
    const session = this.store.load()
    if (!session) return null
    if (this.now() < this.refreshDueAt(session)) return session.accessToken
    const outcome = await this.refresh(session.accessToken)
    if (outcome === 'ok') return this.store.load()?.accessToken ?? null
    // Server unreachable: the old token may still have a few seconds; let the request try.
    return outcome === 'transient' ? session.accessToken : null
  }

  /**
   * Rotate the tokens. `stale` is the access token the caller saw expire or fail: if storage
   * already holds a different, fresh one (another tab or call rotated), that one is used.
   * Concurrent callers in this tab share one rotation.
   */
  refresh(stale?: string): Promise<RefreshOutcome> {
    if (!this.refreshing) {
      this.refreshing = this.lock('ems-refresh', () => this.rotate(stale)).finally(() => {
        this.refreshing = null
      })
    }
    return this.refreshing
  }

  private async rotate(stale: string | undefined): Promise<RefreshOutcome> {
    const current = this.store.load()
    if (!current) return 'failed'
    if (
      stale !== undefined &&
      current.accessToken !== stale &&
      this.now() < this.refreshDueAt(current)
    ) {
      return 'ok'
    }
    let response: Response
    try {
      response = await this.send(
        'POST',
        '/api/auth/refresh',
        { body: { refresh_token: current.refreshToken } },
        null,
      )
    } catch {
      return 'transient'
    }
    if (response.ok) {
      const tokens = (await response.json()) as TokenResponse
      this.save(sessionFromTokens(tokens, this.now()))
      return 'ok'
    }
    if (response.status >= 500 || response.status === 429) return 'transient'
    this.forceLogout('expired')
    return 'failed'
  }

  async request<T>(method: string, path: ApiUrl, options: RequestOptions = {}): Promise<T> {
    const auth = options.auth ?? true
    let token: string | null = null
    if (auth) {
      token = await this.accessToken()
      if (token === null) {
        throw new ApiError(401, 'unauthorized', 'Your session has ended. Please sign in again.')
      }
    }
    let response = await this.send(method, path, options, token)
    if (auth && token !== null && response.status === 401) {
      const outcome = await this.refresh(token)
      if (outcome === 'ok') {
        const fresh = this.store.load()?.accessToken
        if (fresh) response = await this.send(method, path, options, fresh)
        // Refused even with a token minted a moment ago: the account itself is gone.
        if (response.status === 401) this.forceLogout('expired')
      } else if (outcome === 'transient') {
        throw networkError()
      }
    }
    if (!response.ok) throw await errorFromResponse(response)
    return (await this.read(response, options.accept ?? 'json')) as T
  }

  get<T>(path: ApiUrl, query?: RequestOptions['query'], signal?: AbortSignal): Promise<T> {
    return this.request<T>('GET', path, { query, signal })
  }

  post<T>(path: ApiUrl, body?: unknown): Promise<T> {
    return this.request<T>('POST', path, { body })
  }

  patch<T>(path: ApiUrl, body: unknown): Promise<T> {
    return this.request<T>('PATCH', path, { body })
  }

  put<T>(path: ApiUrl, body: unknown): Promise<T> {
    return this.request<T>('PUT', path, { body })
  }

  delete(path: ApiUrl): Promise<void> {
    return this.request<void>('DELETE', path)
  }

  url(path: ApiUrl, query?: RequestOptions['query']): string {
    const params = new URLSearchParams()
    for (const [key, value] of Object.entries(query ?? {})) {
      if (value !== null && value !== undefined && value !== '') params.set(key, String(value))
    }
    const qs = params.toString()
    return `${this.baseUrl}${path}${qs ? `?${qs}` : ''}`
  }

  private async send(
    method: string,
    path: ApiUrl,
    options: RequestOptions,
    token: string | null,
  ): Promise<Response> {
    const headers: Record<string, string> = { Accept: 'application/json, text/csv;q=0.9, */*;q=0.5' }
    if (options.body !== undefined) headers['Content-Type'] = 'application/json'
    if (token) headers.Authorization = `Bearer ${token}`
    try {
      return await this.fetchImpl(this.url(path, options.query), {
        method,
        headers,
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        signal: options.signal,
      })
    } catch (error) {
      if (error instanceof DOMException && error.name === 'AbortError') throw error
      throw networkError()
    }
  }

  private async read(response: Response, accept: 'json' | 'blob' | 'text'): Promise<unknown> {
    if (response.status === 204) return undefined
    if (accept === 'blob') return response.blob()
    if (accept === 'text') return response.text()
    const text = await response.text()
    return text === '' ? undefined : JSON.parse(text)
  }

  private save(session: Session | null): void {
    this.store.save(session)
    this.emitSession(session)
  }

  // Iterate over a copy: a listener may unsubscribe while being called.
  private emitSession(session: Session | null): void {
    for (const listener of Array.from(this.sessionListeners)) listener(session)
  }

  private emit(reason: LogoutReason): void {
    for (const listener of Array.from(this.listeners)) listener(reason)
  }
}
