import { render } from '@testing-library/react'
import type { ReactElement } from 'react'
import { MemoryRouter } from 'react-router-dom'
import { ApiClient } from '../api/client'
import { MemorySessionStore, type Session } from '../api/session'
import { AuthProvider } from '../auth/AuthProvider'
import { ToastProvider } from '../components/Toasts'
import { scriptedFetch } from './fakes'

export function signedIn(role: 'ADMIN' | 'CLIENT' = 'CLIENT'): Session {
  return {
    accessToken: 'A1',
    refreshToken: 'R1',
    expiresAt: Date.now() + 600_000,
    user: { id: role === 'ADMIN' ? 'admin-1' : 'client-1', username: role === 'ADMIN' ? 'root' : 'ann', role },
  }
}

/** Render with the real providers over a scripted backend. */
export function renderApp(
  ui: ReactElement,
  { routes = {}, session = null, path = '/' }: { routes?: Parameters<typeof scriptedFetch>[0]; session?: Session | null; path?: string } = {},
) {
  const store = new MemorySessionStore(session)
  const fake = scriptedFetch(routes)
  const api = new ApiClient({ store, fetch: fake.fetch, lock: (_, task) => task() })
  const result = render(
    <MemoryRouter initialEntries={[path]}>
      <AuthProvider api={api}>
        <ToastProvider>{ui}</ToastProvider>
      </AuthProvider>
    </MemoryRouter>,
  )
  return { ...result, api, store, calls: fake.calls }
}
