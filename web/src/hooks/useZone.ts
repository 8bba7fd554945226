import { useEffect, useState } from 'react'
import type { ApiClient } from '../api/client'
import { users } from '../api/endpoints'
import { useApi } from '../auth/AuthProvider'

// The signed-in user's profile zone, asked once per page load and shared by every view that
// shows times (alerts, devices, overview); the profile forgets it when the zone is saved.
const asked = new WeakMap<ApiClient, Promise<string>>()

export function profileZone(api: ApiClient): Promise<string> {
  let zone = asked.get(api)
  if (!zone) {
    zone = users.me(api).then(
      (me) => me.time_zone ?? 'UTC',
      (error: unknown) => {
        asked.delete(api)
        throw error
      },
    )
    asked.set(api, zone)
  }
  return zone
}

export function forgetProfileZone(api: ApiClient): void {
  asked.delete(api)
}

/** The profile zone, or null while it is being asked (or when it could not be). */
export function useProfileZone(): string | null {
  const api = useApi()
  const [zone, setZone] = useState<string | null>(null)
  useEffect(() => {
    let live = true
    profileZone(api).then(
      (z) => live && setZone(z),
      () => live && setZone(null),
    )
    return () => {
      live = false
    }
  }, [api])
  return zone
}
