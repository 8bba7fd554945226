import { useEffect } from 'react'
import { users } from '../api/endpoints'
import { useApi, useUser } from '../auth/AuthProvider'
import { Field, Form, FormInput, SubmitButton } from '../components/Field'
import { PageHeader } from '../components/Layout'
import { Loaded } from '../components/States'
import { Icon } from '../components/Icon'
import { TimeZonePicker } from '../components/TimeZonePicker'
import { useToast } from '../components/Toasts'
import { useAsync } from '../hooks/useAsync'
import { useForm } from '../hooks/useForm'
import { forgetProfileZone } from '../hooks/useZone'
import { browserZone, utcOffset } from '../lib/timezones'
import { matches, maxLength, optionalEmail, optionalText, password, required } from '../lib/validation'

export function ProfilePage() {
  const api = useApi()
  const me = useAsync(() => users.me(api), [api])
  return (
    <>
      <PageHeader title="Profile" description="Your name, email, time zone and password." />
      <div className="two-col">
        <section className="card" aria-labelledby="profile-title">
          <h2 id="profile-title" className="card-title">
            Your details
          </h2>
          <Loaded state={me} errorTitle="Couldn't load your profile">
            {(data) => <ProfileForm full_name={data.full_name ?? ''} email={data.email ?? ''} onSaved={me.reload} />}
          </Loaded>
        </section>
        <section className="card" aria-labelledby="zone-title">
          <h2 id="zone-title" className="card-title">
            Time zone
          </h2>
          <Loaded state={me} errorTitle="Couldn't load your profile">
            {(data) => <TimeZoneForm current={data.time_zone} onSaved={me.reload} />}
          </Loaded>
        </section>
        <section className="card" aria-labelledby="password-title">
          <h2 id="password-title" className="card-title">
            Change password
          </h2>
          <PasswordForm />
        </section>
      </div>
    </>
  )
}

function ProfileForm({ full_name, email, onSaved }: { full_name: string; email: string; onSaved: () => void }) {
  const api = useApi()
  const user = useUser()
  const toast = useToast()
  const form = useForm({ full_name, email }, 'profile')
  useEffect(() => form.reset({ full_name, email }), [full_name, email]) // eslint-disable-line react-hooks/exhaustive-deps
  const changed = form.values.full_name !== full_name || form.values.email !== email
  return (
    <Form
      error={form.formError}
      onSubmit={() => {
        void form
          .submit({ full_name: [maxLength('Full name', 200)], email: [optionalEmail] }, async (values) => {
            await users.update(api, user.id, {
              full_name: optionalText(values.full_name),
              email: optionalText(values.email),
            })
          })
          .then((ok) => {
            if (ok) {
              toast({ tone: 'success', title: 'Profile saved' })
              onSaved()
            }
          })
      }}
    >
      <div className="field">
        <label htmlFor="profile-username">Username</label>
        <input id="profile-username" value={user.username} readOnly disabled />
      </div>
      <FormInput form={form} name="full_name" label="Full name" autoComplete="name" />
      <FormInput form={form} name="email" label="Email" type="email" autoComplete="email" />
      <div className="form-actions">
        <SubmitButton busy={form.submitting} busyLabel="Saving…" disabled={!changed}>
          Save changes
        </SubmitButton>
      </div>
    </Form>
  )
}

/** The zone the user's days, hours and tariff bands are in: this browser's, or any other. */
function TimeZoneForm({ current, onSaved }: { current: string; onSaved: () => void }) {
  const api = useApi()
  const toast = useToast()
  const form = useForm({ time_zone: current }, 'zone')
  useEffect(() => form.reset({ time_zone: current }), [current]) // eslint-disable-line react-hooks/exhaustive-deps
  const picked = form.values.time_zone
  const here = browserZone()
  return (
    <Form
      error={form.formError}
      onSubmit={() => {
        void form
          .submit({ time_zone: [required('Time zone')] }, async (values) => {
            await users.updateMe(api, { time_zone: values.time_zone })
            forgetProfileZone(api)
          })
          .then((ok) => {
            if (ok) {
              toast({ tone: 'success', title: 'Time zone saved' })
              onSaved()
            }
          })
      }}
    >
      <p className="muted">Your days, hours and tariff bands are shown in this zone.</p>
      <p className="zone-choice" aria-live="polite">
        <strong data-testid="time-zone">{picked}</strong> <span className="muted">{utcOffset(picked)}</span>
        {picked !== current && <span className="tag tag-accent">not saved yet</span>}
      </p>
      {here && here !== picked && (
        <p className="zone-browser">
          <button type="button" className="btn btn-sm" onClick={() => form.setValue('time_zone', here)}>
            <Icon name="pin" /> Use this browser’s zone ({here})
          </button>
        </p>
      )}
      <Field id="zone-time_zone" label="Another zone" error={form.errors.time_zone}>
        <TimeZonePicker
          id="zone-time_zone"
          value={picked}
          onChange={(zone) => form.setValue('time_zone', zone)}
          error={form.errors.time_zone}
        />
      </Field>
      <div className="form-actions">
        <SubmitButton busy={form.submitting} busyLabel="Saving…" disabled={picked === current}>
          Save time zone
        </SubmitButton>
      </div>
    </Form>
  )
}

function PasswordForm() {
  const api = useApi()
  const toast = useToast()
  const form = useForm({ old_password: '', new_password: '', confirm: '' }, 'password')
  return (
    <Form
      error={form.formError}
      onSubmit={() => {
        void form
          .submit(
            {
              old_password: [required('Current password')],
              new_password: [password, (v) => (v === form.values.old_password ? 'Choose a password different from the current one.' : null)],
              confirm: [matches(() => form.values.new_password, 'The passwords do not match.')],
            },
            async (values) => {
              await users.changePassword(api, values.old_password, values.new_password)
            },
          )
          .then((ok) => {
            if (ok) {
              form.reset()
              toast({ tone: 'success', title: 'Password changed' })
            }
          })
      }}
    >
      {/* Lets password managers tie the new password to this account. */}
      <input type="text" autoComplete="username" value={useUser().username} readOnly hidden />
      <FormInput form={form} name="old_password" label="Current password" type="password" autoComplete="current-password" />
      <FormInput form={form} name="new_password" label="New password" hint="At least 8 characters." type="password" autoComplete="new-password" />
      <FormInput form={form} name="confirm" label="Repeat new password" type="password" autoComplete="new-password" />
      <div className="form-actions">
        <SubmitButton busy={form.submitting} busyLabel="Changing…">
          Change password
        </SubmitButton>
      </div>
    </Form>
  )
}
