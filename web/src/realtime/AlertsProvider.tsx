import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from 'react'
import { alerts } from '../api/endpoints'
import { useAuth } from '../auth/AuthProvider'
import { ALERT_TOAST_MS, useToast } from '../components/Toasts'
import { alertToast, digestToast, mergeDigests } from '../lib/alerts'
import { useDeviceNames } from './DeviceNames'
import { useRealtimeMessage, useResync } from './RealtimeProvider'

/** The last `alerts.read` push: which alerts (null: all) were marked read, in any tab. */
export interface ReadEvent {
  ids: string[] | null
  version: number
}

interface AlertsContextValue {
  /** Unread alerts of the caller, as the server counts them (the same in every tab). */
  unread: number
  markRead: (id: string) => Promise<void>
  markAllRead: () => Promise<void>
  /** Bumped on every live alert, so an open alert list can refresh. */
  liveVersion: number
  lastRead: ReadEvent
}

const AlertsContext = createContext<AlertsContextValue | null>(null)

const OWNER_PUSHES = ['notify.overconsumption', 'notify.silent', 'notify.meter_back'] as const

/**
 * Alerts for the navigation: the server's unread count (kept in step by `alerts.read` pushes,
 * so marking read in one tab clears the badge in all), a toast per alert for an owner, and for
 * admins one digest toast per window instead of a toast per alert of every device.
 */
export function AlertsProvider({ children }: { children: ReactNode }) {
  const { api, user } = useAuth()
  const toast = useToast()
  const names = useDeviceNames()
  const isAdmin = user?.role === 'ADMIN'
  const [unread, setUnread] = useState(0)
  const [liveVersion, setLiveVersion] = useState(0)
  const [lastRead, setLastRead] = useState<ReadEvent>({ ids: null, version: 0 })
  // A replayed push (`resume` after a reconnect) is toasted once, not twice.
  const [toasted] = useState(() => new Set<string>())
  // The digest on show and when it came: the next one within a toast's life adds to it.
  const lastDigest = useRef<{ message: Record<string, unknown>; at: number } | null>(null)

  const loadCount = useCallback(() => {
    alerts.unreadCount(api).then(setUnread, () => {
      // The service is down: the badge keeps its last count until the next resync.
    })
  }, [api])
  useEffect(() => {
    if (user) loadCount()
  }, [user, loadCount])
  useResync(loadCount)

  const onAlert = (type: string) => (message: Record<string, unknown>) => {
    setLiveVersion((v) => v + 1)
    loadCount()
    if (isAdmin) return
    const key = `${type}:${String(message.id)}`
    if (toasted.has(key)) return
    toasted.add(key)
    const show = (name: string) => {
      const content = alertToast(type, message, name)
      if (content) toast({ tone: 'alert', ...content })
    }
    if (typeof message.device_name === 'string') show(message.device_name)
    else if (typeof message.device_id === 'string') void names.resolve(message.device_id).then(show)
  }
  useRealtimeMessage(OWNER_PUSHES[0], onAlert(OWNER_PUSHES[0]))
  useRealtimeMessage(OWNER_PUSHES[1], onAlert(OWNER_PUSHES[1]))
  useRealtimeMessage(OWNER_PUSHES[2], onAlert(OWNER_PUSHES[2]))

  useRealtimeMessage('notify.digest', (message) => {
    setLiveVersion((v) => v + 1)
    loadCount()
    if (!isAdmin) return
    const now = Date.now()
    const last = lastDigest.current
    const shown = last && now - last.at < ALERT_TOAST_MS ? mergeDigests(last.message, message) : message
    const content = digestToast(shown)
    if (!content) return
    lastDigest.current = { message: shown, at: now }
    toast({ tone: 'alert', key: 'digest', ...content })
  })

  useRealtimeMessage('alerts.read', (message) => {
    if (typeof message.unread_count === 'number') setUnread(message.unread_count)
    else loadCount()
    const ids = Array.isArray(message.ids) ? message.ids.filter((id): id is string => typeof id === 'string') : null
    setLastRead((last) => ({ ids, version: last.version + 1 }))
  })

  // The push reaches this tab too; the count is also asked directly so a tab whose socket is
  // down is right as well.
  const markRead = useCallback(
    async (id: string) => {
      await alerts.markRead(api, id)
      setLastRead((last) => ({ ids: [id], version: last.version + 1 }))
      loadCount()
    },
    [api, loadCount],
  )
  const markAllRead = useCallback(async () => {
    await alerts.markAllRead(api)
    setUnread(0)
    setLastRead((last) => ({ ids: null, version: last.version + 1 }))
  }, [api])

  const value = useMemo<AlertsContextValue>(
    () => ({ unread, markRead, markAllRead, liveVersion, lastRead }),
    [unread, markRead, markAllRead, liveVersion, lastRead],
  )
  return <AlertsContext.Provider value={value}>{children}</AlertsContext.Provider>
}

export function useAlerts(): AlertsContextValue {
  const value = useContext(AlertsContext)
  if (!value) throw new Error('useAlerts outside AlertsProvider')
  return value
}
