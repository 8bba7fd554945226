import { describe, expect, it } from 'vitest'
import type { Alert } from '../api/types'
import { alertSentence, asAlert, countUnread, mergeAlerts } from './alerts'

const alert = (id: string, created_at: string): Alert => ({
  id,
  device_id: 'd1',
  device_name: null,
  kind: 'hourly',
  hour: '2026-11-25T18:00:00Z',
  kwh: 3.2,
  limit_kwh: 2,
  created_at,
  message: '',
})

describe('alerts', () => {
  it('counts what arrived after the list was last seen', () => {
    const list = [alert('a', '2026-11-25T18:10:00Z'), alert('b', '2026-11-25T19:10:00Z')]
    expect(countUnread(list, null)).toBe(2)
    expect(countUnread(list, '2026-11-25T18:30:00Z')).toBe(1)
    expect(countUnread(list, '2026-11-25T20:00:00Z')).toBe(0)
  })

  it('merges live and fetched alerts once each, newest first', () => {
    const merged = mergeAlerts([alert('a', '2026-11-25T18:10:00Z')], [alert('b', '2026-11-25T19:10:00Z'), alert('a', '2026-11-25T18:10:00Z')])
    expect(merged.map((a) => a.id)).toEqual(['b', 'a'])
  })

  it('reads a socket message as an alert, or not at all', () => {
    expect(asAlert({ type: 'notify.overconsumption', ...alert('a', '2026-11-25T18:10:00Z'), device_name: 'Kitchen' })?.device_name).toBe('Kitchen')
    expect(asAlert({ type: 'notify.overconsumption', id: 'a' })).toBeNull()
  })

  it('describes the alert in plain words', () => {
    expect(alertSentence(alert('a', '2026-11-25T18:10:00Z'), 'Kitchen')).toBe('Kitchen used 3.20 kWh in the 18:00 UTC hour (limit 2.00 kWh).')
  })
})
