import type { ReactElement, ReactNode } from 'react'

/** A label, one control, and its hint or error (announced through aria-describedby). */
export function Field({
  id,
  label,
  error,
  hint,
  children,
  optional,
}: {
  id: string
  label: ReactNode
  error?: string
  hint?: ReactNode
  optional?: boolean
  children: ReactElement
}) {
  return (
    <div className={`field${error ? ' field-invalid' : ''}`}>
      <label htmlFor={id}>
        {label}
        {optional && <span className="optional"> (optional)</span>}
      </label>
      {children}
      {error ? (
        <p className="field-error" id={`${id}-error`}>
          {error}
        </p>
      ) : (
        hint && <p className="field-hint">{hint}</p>
      )}
    </div>
  )
}
