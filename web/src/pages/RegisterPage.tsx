import { useEffect, useRef } from 'react'
import { Link } from 'react-router-dom'
import { useAuth } from '../auth/AuthProvider'
import { Form, FormInput, SubmitButton } from '../components/Field'
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
      <Form
        error={form.formError}
        onSubmit={() => {
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
        <FormInput form={form} name="username" label="Username" hint="3–64 letters, digits, dot, dash or underscore." autoComplete="username" autoCapitalize="none" spellCheck={false} autoFocus />
        <FormInput form={form} name="full_name" label="Full name" optional autoComplete="name" />
        <FormInput form={form} name="email" label="Email" optional type="email" autoComplete="email" />
        <FormInput form={form} name="password" label="Password" hint="At least 8 characters." type="password" autoComplete="new-password" />
        <FormInput form={form} name="confirm" label="Repeat password" type="password" autoComplete="new-password" />
        <SubmitButton busy={form.submitting} busyLabel="Creating account…" block>
          Create account
        </SubmitButton>
      </Form>
    </AuthCard>
  )
}
