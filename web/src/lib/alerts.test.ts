import { describe, expect, it } from 'vitest'
import type { Alert } from '../api/types'
import { alertSentence, alertTitle, alertToast, digestToast, markedRead, mergeDigests } from './alerts'

const alert = (id: string, created_at: string, more: Partial<Alert> = {}): Alert => ({
  id,
  device_id: 'd1',
  device_name: null,
  kind: 'hourly',
  hour: '2026-11-25T20:00:00+02:00',
  kwh: 3.2,
  limit_kwh: 2,
  created_at,
  read: false,
  message: '',
  ...more,
})

describe('alerts', () => {
  it('marks the rows another tab marked read: some, or all', () => {
    const list = [alert('a', '2026-11-25T18:10:00Z'), alert('b', '2026-11-25T19:10:00Z')]
    expect(markedRead(list, ['b']).map((a) => a.read)).toEqual([false, true])
    expect(markedRead(list, null).map((a) => a.read)).toEqual([true, true])
    expect(list[0].read).toBe(false)
  })

  it("says what happened in the server's words, else in the alert's own local hour", () => {
    expect(alertSentence(alert('a', '2026-11-25T18:10:00Z', { message: 'Kitchen used 3.20 kWh between 20:00 and 21:00' }), 'Kitchen', 'UTC')).toBe(
      'Kitchen used 3.20 kWh between 20:00 and 21:00',
    )
    expect(alertSentence(alert('a', '2026-11-25T18:10:00Z'), 'Kitchen', 'UTC')).toBe('Kitchen used 3.20 kWh in the hour from 20:00 (limit 2.00 kWh).')
  })

  it('tells a silent meter from one that came back', () => {
    const silent = alert('s', '2026-11-25T18:10:00Z', { kind: 'silent', kwh: null, limit_kwh: null, last_seen_at: '2026-11-25T17:30:00Z' })
    expect(alertTitle(silent)).toBe('Meter silent')
    expect(alertSentence(silent, 'Boiler', 'Europe/Bucharest')).toBe('Boiler has sent nothing since 25 Nov, 19:30.')
    const back = { ...silent, ended_at: '2026-11-25T19:00:00Z' }
    expect(alertTitle(back)).toBe('Meter silent, now back')
    expect(alertSentence(back, 'Boiler', 'Europe/Bucharest')).toBe('Boiler sent nothing after 25 Nov, 19:30; it was back at 25 Nov, 21:00.')
  })

  it('toasts an owner per push, with the server sentence', () => {
    expect(alertToast('notify.silent', { id: 'a', device_id: 'd', message: 'Boiler has been silent since 14:05' }, 'Boiler')).toEqual({
      title: 'Meter silent',
      body: 'Boiler has been silent since 14:05',
    })
    expect(alertToast('notify.meter_back', { id: 'a', device_id: 'd' }, 'Boiler')?.title).toBe('Meter back')
    expect(alertToast('notify.overconsumption', { id: 'a', device_id: 'd', kwh: 3, limit_kwh: 2 }, 'Kitchen')?.body).toBe('Kitchen used 3.00 kWh in an hour (limit 2.00 kWh).')
    expect(alertToast('notify.overconsumption', { id: 'a' }, 'Kitchen')).toBeNull()
  })

  it("sums up a digest window for admins, and stays quiet when it is empty", () => {
    const digest = digestToast({
      count: 7,
      by_kind: { hourly: 5, silent: 2, reading: 0 },
      devices: [
        { device_id: 'd1', device_name: 'Kitchen', count: 4 },
        { device_id: 'd2', device_name: 'Boiler', count: 3 },
      ],
    })
    expect(digest).toEqual({
      title: '7 new alerts across the fleet',
      body: '5 hours over their limit, 2 meters gone silent. Most: Kitchen (4), Boiler (3).',
    })
    expect(digestToast({ count: 0 })).toBeNull()
  })

  it('adds a digest that comes while the last is on show to it, the busiest device first', () => {
    const merged = mergeDigests(
      { since: 'a', until: 'b', count: 2, by_kind: { hourly: 2 }, devices: [{ device_id: 'd1', device_name: 'Kitchen', count: 2 }] },
      {
        since: 'b',
        until: 'c',
        count: 3,
        by_kind: { hourly: 1, silent: 2 },
        devices: [
          { device_id: 'd2', device_name: 'Boiler', count: 2 },
          { device_id: 'd1', device_name: 'Kitchen', count: 1 },
        ],
      },
    )
    expect(merged).toMatchObject({ since: 'a', until: 'c', count: 5, by_kind: { hourly: 3, silent: 2 } })
    expect(digestToast(merged)).toEqual({
      title: '5 new alerts across the fleet',
      body: '3 hours over their limit, 2 meters gone silent. Most: Kitchen (3), Boiler (2).',
    })
  })
})
