import { useCallback, useState, type ChangeEvent } from 'react'
import { ApiError, describeError, type FieldErrors } from '../api/errors'
import { validate, type Validator } from '../lib/validation'

export type FormValues = Record<string, string>

export interface FormState<V extends FormValues> {
  values: V
  errors: FieldErrors
  formError: string | null
  submitting: boolean
  field: (name: keyof V & string) => {
    id: string
    name: string
    value: string
    onChange: (event: ChangeEvent<HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement>) => void
    'aria-invalid': boolean
    'aria-describedby': string | undefined
  }
  setValue: (name: keyof V & string, value: string) => void
  reset: (values?: V) => void
  /** Validate, then run `action`; server errors land on their fields or above the form. */
  submit: (rules: Record<string, Validator[]>, action: (values: V) => Promise<void>) => Promise<boolean>
}

export function useForm<V extends FormValues>(initial: V, idPrefix: string): FormState<V> {
  const [values, setValues] = useState<V>(initial)
  const [errors, setErrors] = useState<FieldErrors>({})
  const [formError, setFormError] = useState<string | null>(null)
  const [submitting, setSubmitting] = useState(false)

  const setValue = useCallback((name: keyof V & string, value: string) => {
    setValues((current) => ({ ...current, [name]: value }))
    // An edited field's old error no longer describes it.
    setErrors((current) => {
      if (!(name in current)) return current
      const next = { ...current }
      delete next[name]
      return next
    })
  }, [])

  const field = (name: keyof V & string) => ({
    id: `${idPrefix}-${name}`,
    name,
    value: values[name],
    onChange: (event: ChangeEvent<HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement>) =>
      setValue(name, event.target.value),
    'aria-invalid': Boolean(errors[name]),
    'aria-describedby': errors[name] ? `${idPrefix}-${name}-error` : undefined,
  })

  const reset = (next?: V) => {
    setValues(next ?? initial)
    setErrors({})
    setFormError(null)
  }

  const submit = async (rules: Record<string, Validator[]>, action: (values: V) => Promise<void>) => {
    const found = validate(values, rules)
    setErrors(found)
    setFormError(null)
    if (Object.keys(found).length > 0) {
      focusField(`${idPrefix}-${Object.keys(found)[0]}`)
      return false
    }
    setSubmitting(true)
    try {
      await action(values)
      return true
    } catch (error) {
      const keys = Object.keys(values)
      const all = error instanceof ApiError ? serverFieldErrors(error, keys) : {}
      const placed = Object.fromEntries(Object.entries(all).filter(([k]) => keys.includes(k)))
      const leftover = Object.entries(all)
        .filter(([k]) => !keys.includes(k))
        .map(([k, m]) => (k === '_' ? m : `${k.replace(/_/g, ' ')}: ${m}`))
      setErrors(placed)
      if (leftover.length > 0) setFormError(leftover.join(' '))
      else if (Object.keys(placed).length === 0) setFormError(describeError(error))
      const first = Object.keys(placed)[0]
      if (first) focusField(`${idPrefix}-${first}`)
      return false
    } finally {
      setSubmitting(false)
    }
  }

  return { values, errors, formError, submitting, field, setValue, reset, submit }
}

/**
 * The server's complaint, per field: 422 details as they are, and a 409 ("username already
 * taken", "email already in use") on the field its message names.
 */
export function serverFieldErrors(error: ApiError, fields: string[]): FieldErrors {
  // The service named the field itself (422 details, or `{"field": ...}` on a 409).
  if (Object.keys(error.fieldErrors).length > 0) return error.fieldErrors
  if (error.status === 409) {
    const lower = error.message.toLowerCase()
    const named = fields.find((f) => lower.includes(f.replace('_', ' ')) || lower.includes(f))
    if (named) return { [named]: error.message }
  }
  return {}
}

function focusField(id: string): void {
  // After React has painted the error, so screen readers announce it with the focus.
  setTimeout(() => document.getElementById(id)?.focus(), 0)
}
