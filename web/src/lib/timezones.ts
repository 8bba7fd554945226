// Time zones as the server knows them: IANA names ("Europe/Bucharest"). The browser lists
// the ones it knows (Intl); the server is the judge and refuses an unknown one with a 422.

export const UTC = 'UTC'

/** Every zone this browser knows, sorted, with UTC first. */
export function knownZones(): string[] {
  const supported = typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('timeZone') : []
  return [UTC, ...[...supported].filter((zone) => zone !== UTC).sort()]
}

/** The zone this browser runs in, when it says (it always does in current browsers). */
export function browserZone(): string | null {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || null
  } catch {
    return null
  }
}

/**
 * The zones matching what someone typed: every word must appear, in any order, ignoring
 * case, and "new york" finds "America/New_York". The best first: a name starting with it.
 */
export function searchZones(zones: readonly string[], query: string, limit = 50): string[] {
  const words = normalise(query).split(' ').filter(Boolean)
  if (words.length === 0) return zones.slice(0, limit)
  const found = zones.filter((zone) => {
    const name = normalise(zone)
    return words.every((word) => name.includes(word))
  })
  const first = words[0]
  const starts = (zone: string) => normalise(zone).split(' ').some((part) => part.startsWith(first))
  return [...found.filter(starts), ...found.filter((zone) => !starts(zone))].slice(0, limit)
}

function normalise(text: string): string {
  return text.toLowerCase().replace(/[_/]+/g, ' ').trim()
}

/** The zone's offset from UTC at `at`, as "UTC+02:00" (DST included). */
export function utcOffset(zone: string, at: Date = new Date()): string {
  try {
    const name = new Intl.DateTimeFormat('en-US', { timeZone: zone, timeZoneName: 'longOffset' })
      .formatToParts(at)
      .find((part) => part.type === 'timeZoneName')?.value
    // "GMT+02:00", or "GMT" for UTC itself.
    if (!name) return ''
    return name === 'GMT' ? 'UTC+00:00' : name.replace('GMT', 'UTC')
  } catch {
    return ''
  }
}
