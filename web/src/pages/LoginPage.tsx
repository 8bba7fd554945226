import { useEffect } from 'react'
import { Link } from 'react-router-dom'
import { useAuth } from '../auth/AuthProvider'
import { Field } from '../components/Field'
import { FormError } from '../components/States'
import { useForm } from '../hooks/useForm'
import { required } from '../lib/validation'
import { AuthCard } from './AuthCard'

export function LoginPage() {
  const { login, endedBecause } = useAuth()
  const form = useForm({ username: '', password: '' }, 'login')
  useEffect(() => {
    document.title = 'Sign in · EMS'
  }, [])

  const notice =
    endedBecause === 'expired'
      ? 'Your session has expired. Please sign in again.'
      : endedBecause === 'removed'
        ? 'Your account is no longer available.'
        : null

  return (
    <AuthCard
      title="Sign in"
      subtitle="Watch your energy use and talk to support."
      footer={
        <>
          New here? <Link to="/register">Create an account</Link>
        </>
      }
    >
      {notice && (
        <p className="notice" role="status" data-testid="session-notice">
          {notice}
        </p>
      )}
      <form
        noValidate
        onSubmit={(event) => {
          event.preventDefault()
          void form.submit(
            { username: [required('Username')], password: [required('Password')] },
            async (values) => {
              try {
                await login(values.username.trim(), values.password)
              } catch (error) {
                form.setValue('password', '')
                throw error
              }
            },
          )
        }}
      >
        <FormError message={form.formError} />
        <Field id="login-username" label="Username" error={form.errors.username}>
          <input {...form.field('username')} autoComplete="username" autoCapitalize="none" spellCheck={false} autoFocus />
        </Field>
        <Field id="login-password" label="Password" error={form.errors.password}>
          <input {...form.field('password')} type="password" autoComplete="current-password" />
        </Field>
        <button type="submit" className="btn btn-primary btn-block" disabled={form.submitting}>
          {form.submitting ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </AuthCard>
  )
}
