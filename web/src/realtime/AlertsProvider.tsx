import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from 'react'
import { consumption } from '../api/endpoints'
import type { Alert } from '../api/types'
import { useAuth } from '../auth/AuthProvider'
import { useToast } from '../components/Toasts'
import { alertSentence, alertTitle, asAlert, countUnread, mergeAlerts, seenStorageKey } from '../lib/alerts'
import { useDeviceNames } from './DeviceNames'
import { useRealtimeMessage, useResync } from './RealtimeProvider'

interface AlertsContextValue {
  /** The newest alerts known (first page of the history plus live ones). */
  recent: Alert[]
  unread: number
  seenAt: string | null
  markAllSeen: () => void
  /** Bumped on every live alert, so an open alert list can refresh. */
  liveVersion: number
}

const AlertsContext = createContext<AlertsContextValue | null>(null)

/** Live overconsumption alerts: a toast each, and an unread count for the navigation. */
export function AlertsProvider({ children }: { children: ReactNode }) {
  const { api, user } = useAuth()
  const toast = useToast()
  const names = useDeviceNames()
  const key = user ? seenStorageKey(user.id) : null
  const [seenAt, setSeenAt] = useState<string | null>(() => (key ? localStorage.getItem(key) : null))
  const [recent, setRecent] = useState<Alert[]>([])
  const [liveVersion, setLiveVersion] = useState(0)
  const loaded = useRef(false)
  // A replayed alert (`resume` after a reconnect) is toasted once, not twice.
  const toasted = useRef(new Set<string>())

  const loadRecent = useCallback(() => {
    consumption.alerts(api, { page: 1, size: 50 }).then(
      (page) => {
        loaded.current = true
        setRecent((current) => mergeAlerts(current, page.items))
      },
      () => {
        // No history yet (service down): live alerts still count.
      },
    )
  }, [api])

  useEffect(() => {
    setSeenAt(key ? localStorage.getItem(key) : null)
    setRecent([])
    if (key) loadRecent()
  }, [key, loadRecent])
  useResync(loadRecent)

  useRealtimeMessage('notify.overconsumption', (message) => {
    const alert = asAlert(message)
    if (!alert) return
    setRecent((current) => mergeAlerts(current, [alert]))
    setLiveVersion((v) => v + 1)
    if (toasted.current.has(alert.id)) return
    toasted.current.add(alert.id)
    const show = (name: string) => toast({ tone: 'alert', title: alertTitle(alert), body: alertSentence(alert, name) })
    if (alert.device_name) show(alert.device_name)
    else void names.resolve(alert.device_id).then(show)
  })

  const markAllSeen = useCallback(() => {
    if (!key) return
    const now = new Date().toISOString()
    localStorage.setItem(key, now)
    setSeenAt(now)
  }, [key])

  const value = useMemo<AlertsContextValue>(
    () => ({ recent, unread: countUnread(recent, seenAt), seenAt, markAllSeen, liveVersion }),
    [recent, seenAt, markAllSeen, liveVersion],
  )
  return <AlertsContext.Provider value={value}>{children}</AlertsContext.Provider>
}

export function useAlerts(): AlertsContextValue {
  const value = useContext(AlertsContext)
  if (!value) throw new Error('useAlerts outside AlertsProvider')
  return value
}
