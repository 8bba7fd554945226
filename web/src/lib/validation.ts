// Checks the browser makes before sending a form. They mirror the server's rules so users
// learn early; the server's own 422/409 messages are still shown when they differ.

import type { FieldErrors } from '../api/errors'

export type Validator = (value: string) => string | null

export const required =
  (label: string): Validator =>
  (value) =>
    value.trim() === '' ? `${label} is required.` : null

export const username: Validator = (value) => {
  const v = value.trim()
  if (v === '') return 'Username is required.'
  if (v.length < 3) return 'Username must be at least 3 characters.'
  if (v.length > 64) return 'Username must be at most 64 characters.'
  if (!/^[A-Za-z0-9_.-]+$/.test(v)) return 'Use letters, digits, dot, dash or underscore only.'
  return null
}

export const password: Validator = (value) => {
  if (value === '') return 'Password is required.'
  if (value.length < 8) return 'Password must be at least 8 characters.'
  if (value.length > 128) return 'Password must be at most 128 characters.'
  return null
}

export const optionalEmail: Validator = (value) => {
  const v = value.trim()
  if (v === '') return null
  // Deliberately loose: the server does the real check; this catches typos like "a@b".
  return /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(v) ? null : 'Enter a valid email address.'
}

export const maxLength =
  (label: string, max: number): Validator =>
  (value) =>
    value.length > max ? `${label} must be at most ${max} characters.` : null

/** A number that `check` accepts (it returns what is wrong with it, or null). */
const numberWhere =
  (label: string, check: (n: number) => string | null): Validator =>
  (value) => {
    const v = value.trim()
    if (v === '') return `${label} is required.`
    const n = Number(v)
    if (!Number.isFinite(n)) return `${label} must be a number.`
    return check(n)
  }

export const positiveNumber = (label: string): Validator =>
  numberWhere(label, (n) => (n > 0 ? null : `${label} must be greater than 0.`))

export const nonNegativeNumber = (label: string): Validator =>
  numberWhere(label, (n) => (n >= 0 ? null : `${label} cannot be negative.`))

export const matches =
  (other: () => string, message: string): Validator =>
  (value) =>
    value === other() ? null : message

/** Run each field's validators in order; the first failure per field is reported. */
export function validate(
  values: Record<string, string>,
  rules: Record<string, Validator[]>,
): FieldErrors {
  const errors: FieldErrors = {}
  for (const [field, validators] of Object.entries(rules)) {
    for (const check of validators) {
      const message = check(values[field] ?? '')
      if (message) {
        errors[field] = message
        break
      }
    }
  }
  return errors
}

/** Blank optional text becomes null (the API's "not set"), other text is trimmed. */
export function optionalText(value: string): string | null {
  const v = value.trim()
  return v === '' ? null : v
}

/** ISO 4217, as the server wants it: three capital letters. */
export const currencyCode: Validator = (value) =>
  /^[A-Z]{3}$/.test(value.trim()) ? null : 'Use a three-letter code such as RON or EUR.'

/** How a meter names itself in its readings: it becomes a word of a routing key. */
export const optionalMeterId: Validator = (value) => {
  const v = value.trim()
  if (v === '') return null
  return /^[A-Za-z0-9_-]{1,64}$/.test(v) ? null : "Use up to 64 letters, digits, '-' or '_'."
}

/** Whole minutes from 1 to a week (10080), or empty for "never". */
export const optionalSilenceMinutes: Validator = (value) => {
  const v = value.trim()
  if (v === '') return null
  const n = Number(v)
  return Number.isInteger(n) && n >= 1 && n <= 10080 ? null : 'Use whole minutes from 1 to 10080 (a week), or leave empty.'
}
