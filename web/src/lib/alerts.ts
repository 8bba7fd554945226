// The unread mark of alerts lives in the browser: the alert history is the server's, and
// "seen" only means "this person has looked at the list since it arrived".

import { formatKwh } from './chart'
import { formatUtcHour } from './dates'
import type { Alert } from '../api/types'

export function seenStorageKey(userId: string): string {
  return `ems.alerts.seen.${userId}`
}

export function isUnread(alert: Pick<Alert, 'created_at'>, seenAt: string | null): boolean {
  if (seenAt === null) return true
  return Date.parse(alert.created_at) > Date.parse(seenAt)
}

export function countUnread(alerts: readonly Pick<Alert, 'created_at'>[], seenAt: string | null): number {
  return alerts.filter((alert) => isUnread(alert, seenAt)).length
}

/** Newest first, each id once (a live alert can also arrive in a refetched page). */
export function mergeAlerts(current: readonly Alert[], incoming: readonly Alert[]): Alert[] {
  const byId = new Map<string, Alert>()
  for (const alert of [...incoming, ...current]) if (!byId.has(alert.id)) byId.set(alert.id, alert)
  return [...byId.values()].sort((a, b) => b.created_at.localeCompare(a.created_at))
}

export function alertTitle(alert: Pick<Alert, 'kind'>): string {
  if (alert.kind === 'silent') return 'Meter silent'
  return alert.kind === 'reading' ? 'Reading over the threshold' : 'Hourly limit exceeded'
}

export function alertSentence(alert: Alert, deviceName: string): string {
  // A silent meter has no figures: the server's text (in the user's zone) says it all.
  if (alert.kind === 'silent' || alert.kwh === null || alert.limit_kwh === null) return alert.message
  const hour = formatUtcHour(alert.hour)
  if (alert.kind === 'reading') {
    return `${deviceName}: one reading of ${formatKwh(alert.kwh)} (threshold ${formatKwh(alert.limit_kwh)}) at ${hour} UTC.`
  }
  return `${deviceName} used ${formatKwh(alert.kwh)} in the ${hour} UTC hour (limit ${formatKwh(alert.limit_kwh)}).`
}

export function asAlert(message: Record<string, unknown>): Alert | null {
  const { id, device_id, kind, hour, kwh, limit_kwh, created_at } = message
  if (
    typeof id !== 'string' ||
    typeof device_id !== 'string' ||
    (kind !== 'hourly' && kind !== 'reading') ||
    typeof hour !== 'string' ||
    typeof kwh !== 'number' ||
    typeof limit_kwh !== 'number'
  ) {
    return null
  }
  return {
    id,
    device_id,
    device_name: typeof message.device_name === 'string' ? message.device_name : null,
    kind,
    hour,
    kwh,
    limit_kwh,
    created_at: typeof created_at === 'string' ? created_at : new Date().toISOString(),
    message: typeof message.message === 'string' ? message.message : '',
  }
}
