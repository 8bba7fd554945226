// Alerts as the server keeps them: read state per user (the unread count is the server's, the
// same in every tab), silent-meter episodes beside over-limit hours, and the server's own
// sentence in the reader's zone.

import { formatKwh } from './chart'
import { formatMomentIn, localParts } from './dates'
import type { Alert } from '../api/types'

export function alertTitle(alert: Pick<Alert, 'kind' | 'ended_at'>): string {
  if (alert.kind === 'silent') return alert.ended_at ? 'Meter silent, now back' : 'Meter silent'
  return alert.kind === 'reading' ? 'Reading over the threshold' : 'Hourly limit exceeded'
}

/** What happened, in words: the server's sentence when it sent one. */
export function alertSentence(alert: Alert, deviceName: string, zone: string): string {
  if (alert.message) return alert.message
  if (alert.kind === 'silent') {
    const since = formatMomentIn(alert.last_seen_at ?? alert.hour, zone)
    return alert.ended_at
      ? `${deviceName} sent nothing after ${since}; it was back at ${formatMomentIn(alert.ended_at, zone)}.`
      : `${deviceName} has sent nothing since ${since}.`
  }
  const { time } = localParts(alert.hour)
  const kwh = alert.kwh ?? 0
  const limit = alert.limit_kwh ?? 0
  if (alert.kind === 'reading') return `${deviceName}: one reading of ${formatKwh(kwh)} (threshold ${formatKwh(limit)}) at ${time}.`
  return `${deviceName} used ${formatKwh(kwh)} in the hour from ${time} (limit ${formatKwh(limit)}).`
}

/** Rows marked read after an `alerts.read` push: some ids, or every one (null). */
export function markedRead(alerts: readonly Alert[], ids: readonly string[] | null): Alert[] {
  const set = ids ? new Set(ids) : null
  return alerts.map((alert) => (!alert.read && (set === null || set.has(alert.id)) ? { ...alert, read: true } : alert))
}

export interface AlertToast {
  title: string
  body: string
}

/**
 * The toast an owner sees for a live `notify.*` push, or null when the message is not one.
 * Admins see a digest instead (`digestToast`).
 */
export function alertToast(type: string, message: Record<string, unknown>, deviceName: string): AlertToast | null {
  if (typeof message.id !== 'string' || typeof message.device_id !== 'string') return null
  const text = typeof message.message === 'string' && message.message ? message.message : null
  if (type === 'notify.silent') return { title: 'Meter silent', body: text ?? `${deviceName} has stopped sending readings.` }
  if (type === 'notify.meter_back') return { title: 'Meter back', body: text ?? `${deviceName} is sending readings again.` }
  if (type !== 'notify.overconsumption') return null
  const title = message.kind === 'reading' ? 'Reading over the threshold' : 'Hourly limit exceeded'
  if (text) return { title, body: text }
  const kwh = typeof message.kwh === 'number' ? formatKwh(message.kwh) : 'more than allowed'
  const limit = typeof message.limit_kwh === 'number' ? ` (limit ${formatKwh(message.limit_kwh)})` : ''
  return { title, body: `${deviceName} used ${kwh} in an hour${limit}.` }
}

const KIND_WORDS: Record<string, [string, string]> = {
  hourly: ['hour over its limit', 'hours over their limit'],
  reading: ['reading over the threshold', 'readings over the threshold'],
  silent: ['meter gone silent', 'meters gone silent'],
}

interface DigestDevice {
  device_id?: string
  device_name?: string
  count?: number
}

/**
 * Two digest windows as one, so a digest arriving while the last one's toast is still up
 * adds to it instead of stacking a second toast: counts and kinds summed, devices merged by
 * id, the busiest first.
 */
export function mergeDigests(earlier: Record<string, unknown>, later: Record<string, unknown>): Record<string, unknown> {
  const byKind: Record<string, number> = {}
  const devices = new Map<string, DigestDevice>()
  for (const message of [earlier, later]) {
    for (const [kind, n] of Object.entries((message.by_kind ?? {}) as Record<string, unknown>)) {
      byKind[kind] = (byKind[kind] ?? 0) + (Number(n) || 0)
    }
    for (const device of Array.isArray(message.devices) ? (message.devices as DigestDevice[]) : []) {
      const id = String(device.device_id ?? device.device_name)
      const seen = devices.get(id)
      devices.set(id, { ...device, count: (seen?.count ?? 0) + (Number(device.count) || 0) })
    }
  }
  return {
    ...later,
    since: earlier.since ?? later.since,
    count: (Number(earlier.count) || 0) + (Number(later.count) || 0),
    by_kind: byKind,
    devices: [...devices.values()].sort((a, b) => (b.count ?? 0) - (a.count ?? 0)),
  }
}

/** An admin's summary of a window of alerts across the fleet (`notify.digest`). */
export function digestToast(message: Record<string, unknown>): AlertToast | null {
  const count = Number(message.count)
  if (!Number.isFinite(count) || count <= 0) return null
  const byKind = (message.by_kind ?? {}) as Record<string, number>
  const kinds = Object.entries(byKind)
    .filter(([, n]) => n > 0)
    .map(([kind, n]) => `${n} ${(KIND_WORDS[kind] ?? [kind, kind])[n === 1 ? 0 : 1]}`)
  const devices = Array.isArray(message.devices) ? (message.devices as DigestDevice[]) : []
  const top = devices
    .filter((d) => d.device_name)
    .map((d) => `${d.device_name} (${d.count})`)
    .join(', ')
  return {
    title: `${count} new alert${count === 1 ? '' : 's'} across the fleet`,
    body: [kinds.join(', '), top && `Most: ${top}.`].filter(Boolean).join('. '),
  }
}
