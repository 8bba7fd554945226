import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from 'react'
import { useAuth } from '../auth/AuthProvider'
import { RealtimeSocket, type ConnectionStatus, type ServerMessage } from './socket'

type Handler = (message: ServerMessage) => void

interface RealtimeContextValue {
  status: ConnectionStatus
  send: (message: Record<string, unknown>) => boolean
  subscribe: (type: string, handler: Handler) => () => void
  onResync: (handler: () => void) => () => void
}

const RealtimeContext = createContext<RealtimeContextValue | null>(null)

export function websocketUrl(token: string, location: Location = window.location): string {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:'
  return `${scheme}//${location.host}/ws?token=${encodeURIComponent(token)}`
}

/** One socket per signed-in tab; pages subscribe to the message types they show. */
export function RealtimeProvider({ children }: { children: ReactNode }) {
  const { api, user } = useAuth()
  const [status, setStatus] = useState<ConnectionStatus>('connecting')
  const handlers = useRef(new Map<string, Set<Handler>>())
  const resyncHandlers = useRef(new Set<() => void>())
  const socketRef = useRef<RealtimeSocket | null>(null)
  const userId = user?.id

  useEffect(() => {
    if (!userId) return
    const socket = new RealtimeSocket({
      url: websocketUrl,
      getToken: () => api.accessToken(),
      reauthenticate: () => api.refresh(api.session?.accessToken),
      checkSession: async () => {
        try {
          await api.get('/api/auth/me')
        } catch {
          // A 401 logs out inside the client; a network error means the server is down.
        }
      },
      onAuthFailure: (reason) => api.forceLogout(reason),
      onMessage: (message) => {
        for (const key of [message.type, '*']) {
          handlers.current.get(key)?.forEach((handler) => handler(message))
        }
      },
      onStatus: setStatus,
      onResync: () => resyncHandlers.current.forEach((handler) => handler()),
    })
    socketRef.current = socket
    socket.start()
    const online = () => socket.nudge()
    window.addEventListener('online', online)
    let token = api.session?.accessToken
    const unsubscribe = api.onSession((session) => {
      if (session && session.accessToken !== token) socket.renewToken(session.accessToken)
      token = session?.accessToken
    })
    return () => {
      unsubscribe()
      window.removeEventListener('online', online)
      socket.stop()
      socketRef.current = null
    }
  }, [api, userId])

  const send = useCallback(
    (message: Record<string, unknown>) => socketRef.current?.send(message) ?? false,
    [],
  )
  const subscribe = useCallback((type: string, handler: Handler) => {
    const set = handlers.current.get(type) ?? new Set<Handler>()
    set.add(handler)
    handlers.current.set(type, set)
    return () => {
      set.delete(handler)
    }
  }, [])
  const onResync = useCallback((handler: () => void) => {
    resyncHandlers.current.add(handler)
    return () => {
      resyncHandlers.current.delete(handler)
    }
  }, [])
  const value = useMemo<RealtimeContextValue>(
    () => ({ status, send, subscribe, onResync }),
    [status, send, subscribe, onResync],
  )
  return <RealtimeContext.Provider value={value}>{children}</RealtimeContext.Provider>
}

export function useRealtime(): RealtimeContextValue {
  const value = useContext(RealtimeContext)
  if (!value) throw new Error('useRealtime outside RealtimeProvider')
  return value
}

/** Run `handler` for every message of `type` while the component is mounted. */
export function useRealtimeMessage(type: string, handler: Handler): void {
  const { subscribe } = useRealtime()
  const ref = useRef(handler)
  ref.current = handler
  useEffect(() => subscribe(type, (message) => ref.current(message)), [subscribe, type])
}

/** Run `handler` when the socket comes back after a drop (refetch what may have been missed). */
export function useResync(handler: () => void): void {
  const { onResync } = useRealtime()
  const ref = useRef(handler)
  ref.current = handler
  useEffect(() => onResync(() => ref.current()), [onResync])
}
