import { describe, expect, it } from 'vitest'
import { knownZones, searchZones, utcOffset } from './timezones'

describe('time zones', () => {
  it('lists the browser’s zones with UTC first and once', () => {
    const zones = knownZones()
    expect(zones[0]).toBe('UTC')
    expect(zones.filter((z) => z === 'UTC')).toHaveLength(1)
    expect(zones).toContain('Europe/Bucharest')
  })

  it('finds zones by any words of their name, starts of names first', () => {
    const zones = ['UTC', 'America/New_York', 'Europe/Bucharest', 'Europe/London', 'Europe/Berlin', 'Asia/Ust-Nera']
    expect(searchZones(zones, 'new york')).toEqual(['America/New_York'])
    expect(searchZones(zones, 'BUCH')).toEqual(['Europe/Bucharest'])
    expect(searchZones(zones, 'europe lon')).toEqual(['Europe/London'])
    // A word of the name starting with it comes before one merely containing it.
    expect(searchZones(['Asia/Ust-Nera', 'America/New_York'], 'ne')).toEqual(['America/New_York', 'Asia/Ust-Nera'])
    expect(searchZones(zones, '  ', 2)).toEqual(['UTC', 'America/New_York'])
    expect(searchZones(zones, 'mars')).toEqual([])
  })

  it('gives the offset in force at a moment, summer time included', () => {
    expect(utcOffset('Europe/Bucharest', new Date('2026-01-15T12:00:00Z'))).toBe('UTC+02:00')
    expect(utcOffset('Europe/Bucharest', new Date('2026-07-15T12:00:00Z'))).toBe('UTC+03:00')
    expect(utcOffset('UTC')).toBe('UTC+00:00')
    expect(utcOffset('Not/AZone')).toBe('')
  })
})
