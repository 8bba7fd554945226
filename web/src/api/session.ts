// Where the login lives between page loads. localStorage so a reload (and a second tab)
// stays signed in; every tab hears about changes through the `storage` event, so a logout
// or a token rotation in one tab is seen by the others.

import type { TokenResponse, UserRef } from './types'

export interface Session {
  accessToken: string
  refreshToken: string
  /** Epoch ms at which the access token expires. */
  expiresAt: number
  /** Epoch ms at which it was issued (absent in sessions stored by older builds). */
  issuedAt?: number
  user: UserRef
}

export interface SessionStore {
  load(): Session | null
  save(session: Session | null): void
  /** Called when another tab changed the session. */
  subscribe(listener: (session: Session | null) => void): () => void
}

export function sessionFromTokens(tokens: TokenResponse, now: number): Session {
  return {
    accessToken: tokens.access_token,
    refreshToken: tokens.refresh_token,
    expiresAt: now + tokens.expires_in * 1000,
    issuedAt: now,
    user: tokens.user,
  }
}

const KEY = 'ems.session'

function parse(raw: string | null): Session | null {
  if (!raw) return null
  try {
    const value = JSON.parse(raw) as Partial<Session>
    if (
      typeof value.accessToken === 'string' &&
      typeof value.refreshToken === 'string' &&
      typeof value.expiresAt === 'number' &&
      value.user &&
      typeof value.user.id === 'string'
    ) {
      return value as Session
    }
  } catch {
    // A corrupt entry is the same as none.
  }
  return null
}

export class LocalSessionStore implements SessionStore {
  private readonly storage: Storage

  constructor(storage: Storage = window.localStorage) {
    this.storage = storage
  }

  load(): Session | null {
    return parse(this.storage.getItem(KEY))
  }

  save(session: Session | null): void {
    if (session) this.storage.setItem(KEY, JSON.stringify(session))
    else this.storage.removeItem(KEY)
  }

  subscribe(listener: (session: Session | null) => void): () => void {
    const onStorage = (event: StorageEvent) => {
      if (event.key === KEY || event.key === null) listener(parse(event.newValue))
    }
    window.addEventListener('storage', onStorage)
    return () => window.removeEventListener('storage', onStorage)
  }
}

/** A store for tests: nothing persists, nothing is shared. */
export class MemorySessionStore implements SessionStore {
  private session: Session | null

  constructor(initial: Session | null = null) {
    this.session = initial
  }

  load(): Session | null {
    return this.session
  }

  save(session: Session | null): void {
    this.session = session
  }

  subscribe(): () => void {
    return () => {}
  }
}
