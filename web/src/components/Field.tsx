import type { InputHTMLAttributes, ReactElement, ReactNode } from 'react'
import type { FormState, FormValues } from '../hooks/useForm'
import { FormError } from './States'

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

/** A Field whose input is one field of a `useForm`: its value, id and error come from the form. */
export function FormInput<V extends FormValues>({
  form,
  name,
  label,
  hint,
  optional,
  ...input
}: {
  form: FormState<V>
  name: keyof V & string
  label: ReactNode
  hint?: ReactNode
  optional?: boolean
} & Omit<InputHTMLAttributes<HTMLInputElement>, 'form' | 'name'>) {
  const bound = form.field(name)
  return (
    <Field id={bound.id} label={label} hint={hint} optional={optional} error={form.errors[name]}>
      <input {...bound} {...input} />
    </Field>
  )
}

/** A form the app validates itself (no browser bubbles), with the form-wide error on top. */
export function Form({ id, error, onSubmit, children }: { id?: string; error: string | null; onSubmit: () => void; children: ReactNode }) {
  return (
    <form
      id={id}
      noValidate
      onSubmit={(event) => {
        event.preventDefault()
        onSubmit()
      }}
    >
      <FormError message={error} />
      {children}
    </form>
  )
}

/** The form's submit button: while the form is submitting it says so and cannot be pressed again. */
export function SubmitButton({
  busy,
  busyLabel,
  disabled,
  block,
  children,
}: {
  busy: boolean
  busyLabel: string
  disabled?: boolean
  /** As wide as the form (the sign-in cards). */
  block?: boolean
  children: ReactNode
}) {
  return (
    <button type="submit" className={block ? 'btn btn-primary btn-block' : 'btn btn-primary'} disabled={busy || disabled}>
      {busy ? busyLabel : children}
    </button>
  )
}
