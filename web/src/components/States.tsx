import type { ReactNode } from 'react'
import { describeError } from '../api/errors'
import type { AsyncState } from '../hooks/useAsync'
import { Icon, type IconName } from './Icon'

export function Loading({ label = 'Loading…', inline = false }: { label?: string; inline?: boolean }) {
  return (
    <div className={inline ? 'loading loading-inline' : 'loading'} role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" />
      <span>{label}</span>
    </div>
  )
}

export function EmptyState({
  icon = 'info',
  title,
  children,
  action,
}: {
  icon?: IconName
  title: string
  children?: ReactNode
  action?: ReactNode
}) {
  return (
    <div className="empty">
      <span className="empty-icon">
        <Icon name={icon} />
      </span>
      <p className="empty-title">{title}</p>
      {children && <div className="empty-text">{children}</div>}
      {action}
    </div>
  )
}

export function ErrorState({ error, onRetry, title = "Couldn't load this" }: { error: unknown; onRetry?: () => void; title?: string }) {
  return (
    <div className="empty empty-error" role="alert">
      <span className="empty-icon">
        <Icon name="alert" />
      </span>
      <p className="empty-title">{title}</p>
      <p className="empty-text">{describeError(error)}</p>
      {onRetry && (
        <button type="button" className="btn" onClick={onRetry}>
          <Icon name="refresh" /> Try again
        </button>
      )}
    </div>
  )
}

export function FormError({ message }: { message: string | null }) {
  if (!message) return null
  return (
    <div className="form-error" role="alert">
      <Icon name="alert" />
      <span>{message}</span>
    </div>
  )
}

/**
 * What an async load holds, given to `children` once it is there: a spinner before, and
 * instead an error with a retry (`framed`: in a card of its own, where the page has none).
 */
export function Loaded<T>({
  state,
  errorTitle,
  loadingLabel,
  framed,
  children,
}: {
  state: Pick<AsyncState<T>, 'data' | 'error' | 'reload'>
  errorTitle: string
  loadingLabel?: string
  framed?: boolean
  children: (data: T) => ReactNode
}) {
  if (state.error) {
    const error = <ErrorState error={state.error} onRetry={state.reload} title={errorTitle} />
    return framed ? <div className="card">{error}</div> : error
  }
  if (state.data === undefined) return <Loading label={loadingLabel} />
  return <>{children(state.data)}</>
}
