import { useEffect, useRef } from 'react'
import { Link } from 'react-router-dom'
import { useAuth } from '../auth/AuthProvider'
import { Field } from '../components/Field'
import { FormError } from '../components/States'
import { useForm } from '../hooks/useForm'
import { matches, maxLength, optionalEmail, optionalText, password, username } from '../lib/validation'
import { AuthCard } from './AuthCard'

export function RegisterPage() {
  const { api, login } = useAuth()
  const form = useForm({ username: '', full_name: '', email: '', password: '', confirm: '' }, 'register')
  // The account may exist while the sign-in after it failed (throttled, offline): a second
  // try must only sign in, not register again (that would be a 409).
  const registeredAs = useRef<string | null>(null)
  useEffect(() => {
    document.title = 'Create account · EMS'
  }, [])

  return (
    <AuthCard
      title="Create your account"
      subtitle="An administrator then connects your meters to it."
      footer={
        <>
          Already have an account? <Link to="/login">Sign in</Link>
        </>
      }
    >
      <form
        noValidate
        onSubmit={(event) => {
          event.preventDefault()
          void form.submit(
            {
              username: [username],
              full_name: [maxLength('Full name', 200)],
              email: [optionalEmail],
              password: [password],
              confirm: [matches(() => form.values.password, 'The passwords do not match.')],
            },
            async (values) => {
              if (registeredAs.current !== values.username.trim()) {
                await api.register({
                username: values.username.trim(),
                password: values.password,
                full_name: optionalText(values.full_name),
                email: optionalText(values.email),
                })
                registeredAs.current = values.username.trim()
              }
              await login(values.username.trim(), values.password)
            },
          )
        }}
      >
        <FormError message={form.formError} />
        <Field id="register-username" label="Username" error={form.errors.username} hint="3–64 letters, digits, dot, dash or underscore.">
          <input {...form.field('username')} autoComplete="username" autoCapitalize="none" spellCheck={false} autoFocus />
        </Field>
        <Field id="register-full_name" label="Full name" optional error={form.errors.full_name}>
          <input {...form.field('full_name')} autoComplete="name" />
        </Field>
        <Field id="register-email" label="Email" optional error={form.errors.email}>
          <input {...form.field('email')} type="email" autoComplete="email" />
        </Field>
        <Field id="register-password" label="Password" error={form.errors.password} hint="At least 8 characters.">
          <input {...form.field('password')} type="password" autoComplete="new-password" />
        </Field>
        <Field id="register-confirm" label="Repeat password" error={form.errors.confirm}>
          <input {...form.field('confirm')} type="password" autoComplete="new-password" />
        </Field>
        <button type="submit" className="btn btn-primary btn-block" disabled={form.submitting}>
          {form.submitting ? 'Creating account…' : 'Create account'}
        </button>
      </form>
    </AuthCard>
  )
}
