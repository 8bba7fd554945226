import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from 'react'
import { support } from '../api/endpoints'
import { useAuth } from '../auth/AuthProvider'
import { useRealtimeMessage, useResync } from './RealtimeProvider'

interface SupportUnreadValue {
  /** Admins: client messages no admin has read. Clients: support replies they have not read. */
  total: number
  refresh: () => void
  /** The conversation on screen: its messages are read as they arrive, not counted. */
  setOpen: (userId: string | null) => void
}

const SupportUnreadContext = createContext<SupportUnreadValue>({ total: 0, refresh: () => {}, setOpen: () => {} })

/** The unread badge of the support entry in the navigation, for both roles. */
export function SupportUnreadProvider({ children }: { children: ReactNode }) {
  const { api, user } = useAuth()
  const isAdmin = user?.role === 'ADMIN'
  const [total, setTotal] = useState(0)
  const open = useRef<string | null>(null)

  const refresh = useCallback(() => {
    if (!user) return
    const request = isAdmin
      ? support
          .conversations(api, { page: 1, size: 200, unread_only: true })
          .then((page) => page.items.reduce((sum, c) => sum + (c.unread_count || 0), 0))
      : support.own(api).then((c) => c?.unread_for_user ?? 0)
    request.then(setTotal, () => {})
  }, [api, isAdmin, user])

  useEffect(refresh, [refresh])
  useResync(refresh)
  useRealtimeMessage('chat.message', (message) => {
    if (message.user_id === open.current) return
    if (isAdmin ? message.sender === 'user' : message.sender === 'admin') setTotal((t) => t + 1)
  })

  const setOpen = useCallback((userId: string | null) => {
    open.current = userId
  }, [])
  const value = useMemo(() => ({ total, refresh, setOpen }), [total, refresh, setOpen])
  return <SupportUnreadContext.Provider value={value}>{children}</SupportUnreadContext.Provider>
}

export function useSupportUnread(): SupportUnreadValue {
  return useContext(SupportUnreadContext)
}

/**
 * While a conversation is on screen: mark it read when it loads and whenever a message
 * arrives, and keep the badge in step.
 */
export function useReadWhileOpen(userId: string | null, markRead: (userId: string) => Promise<void>, messageCount: number | undefined) {
  const { setOpen, refresh } = useSupportUnread()
  useEffect(() => {
    setOpen(userId)
    return () => setOpen(null)
  }, [userId, setOpen])
  const mark = useRef(markRead)
  mark.current = markRead
  useEffect(() => {
    if (!userId || messageCount === undefined) return
    mark.current(userId).then(refresh, () => {})
  }, [userId, messageCount, refresh])
}
