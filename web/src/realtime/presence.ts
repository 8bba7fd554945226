import { useCallback, useEffect, useState } from 'react'
import { useApi } from '../auth/AuthProvider'
import { useRealtimeMessage, useResync } from './RealtimeProvider'

interface PresencePage {
  items: { user_id: string }[]
}

/**
 * Who is online (admins only): the realtime service's list at mount and after a reconnect,
 * then its `presence.changed` messages; a `presence.snapshot` replaces the whole set.
 */
export function usePresence(): ReadonlySet<string> {
  const api = useApi()
  const [online, setOnline] = useState<ReadonlySet<string>>(new Set())

  const load = useCallback(() => {
    api.get<PresencePage>('/api/realtime/presence', { size: 500 }).then(
      (page) => setOnline(new Set(page.items.map((u) => u.user_id))),
      () => {
        // Without the list the dots stay grey; live changes still arrive.
      },
    )
  }, [api])
  useEffect(load, [load])
  useResync(load)

  useRealtimeMessage('presence.snapshot', (message) => {
    if (!Array.isArray(message.users)) return
    const ids = (message.users as { user_id?: unknown }[])
      .map((u) => u.user_id)
      .filter((id): id is string => typeof id === 'string')
    setOnline(new Set(ids))
  })
  useRealtimeMessage('presence.changed', (message) => {
    if (typeof message.user_id !== 'string' || typeof message.online !== 'boolean') return
    const id = message.user_id
    const isOnline = message.online
    setOnline((current) => {
      if (current.has(id) === isOnline) return current
      const next = new Set(current)
      if (isOnline) next.add(id)
      else next.delete(id)
      return next
    })
  })
  return online
}
