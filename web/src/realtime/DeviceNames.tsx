import { createContext, useContext, useMemo, useRef, useState, type ReactNode } from 'react'
import type { Device } from '../api/types'
import { useApi } from '../auth/AuthProvider'

interface DeviceNamesValue {
  /** The name if known now (else a short id), for rendering. */
  name: (id: string) => string
  /** The name, asking the server once if it is not known yet. */
  resolve: (id: string) => Promise<string>
  remember: (devices: readonly Device[]) => void
}

const DeviceNamesContext = createContext<DeviceNamesValue | null>(null)

export function shortId(id: string): string {
  return `Device ${id.slice(0, 8)}`
}

/** A shared cache of device names: alerts and lists carry ids, people read names. */
export function DeviceNamesProvider({ children }: { children: ReactNode }) {
  const api = useApi()
  const [names, setNames] = useState<Record<string, string>>({})
  const pending = useRef(new Map<string, Promise<string>>())
  const namesRef = useRef(names)
  namesRef.current = names

  const value = useMemo<DeviceNamesValue>(
    () => ({
      name: (id) => names[id] ?? shortId(id),
      resolve: (id) => {
        const known = namesRef.current[id]
        if (known) return Promise.resolve(known)
        let request = pending.current.get(id)
        if (!request) {
          request = api.get<Device>(`/api/devices/${id}`).then(
            (device) => {
              setNames((current) => ({ ...current, [device.id]: device.name }))
              return device.name
            },
            () => shortId(id),
          )
          pending.current.set(id, request)
        }
        return request
      },
      remember: (devices) =>
        setNames((current) => {
          const next = { ...current }
          let changed = false
          for (const device of devices) {
            if (next[device.id] !== device.name) {
              next[device.id] = device.name
              changed = true
            }
          }
          return changed ? next : current
        }),
    }),
    [api, names],
  )
  return <DeviceNamesContext.Provider value={value}>{children}</DeviceNamesContext.Provider>
}

export function useDeviceNames(): DeviceNamesValue {
  const value = useContext(DeviceNamesContext)
  if (!value) throw new Error('useDeviceNames outside DeviceNamesProvider')
  return value
}
