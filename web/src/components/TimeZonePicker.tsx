import { useMemo, useState } from 'react'
import { knownZones, searchZones, utcOffset } from '../lib/timezones'
import { SearchBox } from './SearchBox'

/** Find a time zone by any words of its IANA name ("new york", "bucharest") and pick it. */
export function TimeZonePicker({
  id,
  value,
  onChange,
  error,
}: {
  id: string
  value: string
  onChange: (zone: string) => void
  /** The field's error, shown by its Field as `<id>-error`. */
  error?: string
}) {
  const zones = useMemo(knownZones, [])
  const [query, setQuery] = useState('')
  const results = useMemo(() => searchZones(zones, query, 40), [zones, query])
  const now = useMemo(() => new Date(), [])
  return (
    <div className="picker">
      <SearchBox
        id={id}
        placeholder="Search time zones, e.g. Bucharest"
        value={query}
        onChange={(e) => setQuery(e.target.value)}
        spellCheck={false}
        aria-invalid={Boolean(error)}
        aria-describedby={error ? `${id}-error` : undefined}
      />
      <ul className="picker-results" aria-label="Time zones">
        {results.length === 0 ? (
          <li className="muted">No time zone matches “{query.trim()}”.</li>
        ) : (
          results.map((zone) => (
            <li key={zone}>
              <button
                type="button"
                className={`picker-option picker-option-row${zone === value ? ' selected' : ''}`}
                aria-pressed={zone === value}
                onClick={() => onChange(zone)}
              >
                <span>{zone}</span>
                <span className="muted">{utcOffset(zone, now)}</span>
              </button>
            </li>
          ))
        )}
      </ul>
    </div>
  )
}
