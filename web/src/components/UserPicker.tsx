import { useState } from 'react'
import { users } from '../api/endpoints'
import type { User } from '../api/types'
import { useApi } from '../auth/AuthProvider'
import { useAsync, useDebounced } from '../hooks/useAsync'
import { SearchBox } from './SearchBox'

export type PickedUser = Pick<User, 'id' | 'username'> & { full_name?: string | null }

/** Find a client by name and pick them (device owner, whose consumption to view). */
export function UserPicker({
  id,
  value,
  onChange,
  noneLabel,
  autoFocus,
}: {
  id: string
  value: PickedUser | null
  onChange: (user: PickedUser | null) => void
  /** When set, the selection can be cleared with a button of this label. */
  noneLabel?: string
  autoFocus?: boolean
}) {
  const api = useApi()
  const [searching, setSearching] = useState(value === null)
  const [query, setQuery] = useState('')
  const q = useDebounced(query.trim(), 250)
  const results = useAsync(
    async (signal) =>
      searching
        ? (await users.list(api, { page: 1, size: 8, q: q || undefined }, signal)).items.filter((u) => u.role === 'CLIENT')
        : [],
    [api, q, searching],
  )

  if (value && !searching) {
    return (
      <div className="picked">
        <span className="avatar" aria-hidden="true">
          {value.username.slice(0, 1).toUpperCase()}
        </span>
        <span className="picked-name" id={id}>
          <strong>{value.username}</strong>
          {value.full_name && <span className="muted"> · {value.full_name}</span>}
        </span>
        <button type="button" className="btn btn-sm" onClick={() => setSearching(true)}>
          Change
        </button>
        {noneLabel && (
          <button type="button" className="btn btn-sm btn-danger-ghost" onClick={() => onChange(null)}>
            {noneLabel}
          </button>
        )}
      </div>
    )
  }

  return (
    <div className="picker">
      <SearchBox
        id={id}
        placeholder="Search clients by name, username or email"
        value={query}
        onChange={(e) => setQuery(e.target.value)}
        autoFocus={autoFocus}
      />
      <ul className="picker-results" aria-label="Matching clients">
        {results.error ? (
          <li className="muted">Couldn't search users.</li>
        ) : !results.data ? (
          <li className="muted">Searching…</li>
        ) : results.data.length === 0 ? (
          <li className="muted">{q ? `No client matches “${q}”.` : 'No clients yet.'}</li>
        ) : (
          results.data.map((u) => (
            <li key={u.id}>
              <button
                type="button"
                className={`picker-option${value?.id === u.id ? ' selected' : ''}`}
                onClick={() => {
                  onChange(u)
                  setSearching(false)
                  setQuery('')
                }}
              >
                <strong>{u.username}</strong>
                <span className="muted">{[u.full_name, u.email].filter(Boolean).join(' · ')}</span>
              </button>
            </li>
          ))
        )}
      </ul>
      {value && (
        <button type="button" className="btn btn-sm btn-ghost" onClick={() => setSearching(false)}>
          Keep {value.username}
        </button>
      )}
    </div>
  )
}
