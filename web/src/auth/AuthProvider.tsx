import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react'
import type { ApiClient, LogoutReason } from '../api/client'
import type { Session } from '../api/session'
import type { UserRef } from '../api/types'

export interface AuthContextValue {
  api: ApiClient
  user: UserRef | null
  /** Why the last session ended, when the server ended it (shown on the login page). */
  endedBecause: LogoutReason | null
  login: (username: string, password: string) => Promise<void>
  logout: () => Promise<void>
}

const AuthContext = createContext<AuthContextValue | null>(null)

export function AuthProvider({ api, children }: { api: ApiClient; children: ReactNode }) {
  const [session, setSession] = useState<Session | null>(() => api.session)
  const [endedBecause, setEndedBecause] = useState<LogoutReason | null>(null)

  useEffect(() => api.onSession(setSession), [api])
  useEffect(
    () =>
      api.onLogout((reason) => {
        setSession(null)
        setEndedBecause(reason === 'signed-out' ? null : reason)
      }),
    [api],
  )

  // Rotate shortly before the access token expires, so an idle page (a live chart) never
  // finds itself holding an expired token. `refresh(token)` adopts another tab's rotation.
  useEffect(() => {
    if (!session) return
    const due = api.refreshDueAt(session) - Date.now()
    const token = session.accessToken
    const timer = setTimeout(() => void api.refresh(token), Math.max(1_000, due))
    return () => clearTimeout(timer)
  }, [api, session])

  // The stored role may be stale (an admin changed it): ask the server once per page load.
  const userId = session?.user.id
  useEffect(() => {
    if (!userId) return
    api.get<UserRef>('/api/auth/me').then(
      (me) => {
        const current = api.session
        if (current && current.user.id === me.id && current.user.role !== me.role) {
          setSession({ ...current, user: { ...current.user, role: me.role } })
        }
      },
      () => {
        // A 401 already logged out inside the client; anything else can wait for the next call.
      },
    )
  }, [api, userId])

  const login = useCallback(
    async (username: string, password: string) => {
      await api.login(username, password)
      setEndedBecause(null)
    },
    [api],
  )
  const logout = useCallback(() => api.logout(), [api])

  const value = useMemo<AuthContextValue>(
    () => ({ api, user: session?.user ?? null, endedBecause, login, logout }),
    [api, session?.user, endedBecause, login, logout],
  )
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>
}

export function useAuth(): AuthContextValue {
  const value = useContext(AuthContext)
  if (!value) throw new Error('useAuth outside AuthProvider')
  return value
}

/** The signed-in user (only under a route that requires one). */
export function useUser(): UserRef {
  const { user } = useAuth()
  if (!user) throw new Error('useUser without a signed-in user')
  return user
}

export function useApi(): ApiClient {
  return useAuth().api
}
