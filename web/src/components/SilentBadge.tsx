import type { Meter } from '../api/types'
import { formatMomentIn } from '../lib/dates'

/** "Silent": the meter sent nothing for longer than its silence window. */
export function SilentBadge({ meter, zone }: { meter: Pick<Meter, 'silent_since' | 'last_seen_at' | 'silence_minutes'>; zone: string | null }) {
  const since = meter.silent_since ?? meter.last_seen_at
  return (
    <span
      className="tag tag-warn"
      data-testid="silent-badge"
      title={`No reading for over ${meter.silence_minutes ?? '?'} minutes${since && zone ? `, since ${formatMomentIn(since, zone)}` : ''}`}
    >
      Silent
    </span>
  )
}
