import { useEffect } from 'react'
import { Link } from 'react-router-dom'
import { useAuth } from '../auth/AuthProvider'
import { Form, FormInput, SubmitButton } from '../components/Field'
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
      <Form
        error={form.formError}
        onSubmit={() => {
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
        <FormInput form={form} name="username" label="Username" autoComplete="username" autoCapitalize="none" spellCheck={false} autoFocus />
        <FormInput form={form} name="password" label="Password" type="password" autoComplete="current-password" />
        <SubmitButton busy={form.submitting} busyLabel="Signing in…" block>
          Sign in
        </SubmitButton>
      </Form>
    </AuthCard>
  )
}
