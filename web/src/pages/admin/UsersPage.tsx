import { useMemo } from 'react'
import { users } from '../../api/endpoints'
import type { Role, User } from '../../api/types'
import { useApi, useUser } from '../../auth/AuthProvider'
import { Field, FormInput } from '../../components/Field'
import { EditorDialog, ListPage, OrDash, useListState, type Column } from '../../components/ListPage'
import { useForm } from '../../hooks/useForm'
import { knownZones, utcOffset } from '../../lib/timezones'
import { maxLength, optionalEmail, optionalText, password, required, username } from '../../lib/validation'

export function UsersPage() {
  const api = useApi()
  const me = useUser()
  const state = useListState((query, signal) => users.list(api, query, signal), [api])
  const columns: Column<User>[] = [
    {
      label: 'Username',
      kind: 'title',
      cell: (u) => (
        <>
          <strong>{u.username}</strong>
          {u.id === me.id && <span className="tag">you</span>}
        </>
      ),
    },
    { label: 'Name', cell: (u) => <OrDash value={u.full_name} /> },
    { label: 'Email', cell: (u) => <OrDash value={u.email} /> },
    { label: 'Time zone', cell: (u) => <span className="muted">{u.time_zone ?? 'UTC'}</span> },
    {
      label: 'Role',
      cell: (u) => <span className={`tag ${u.role === 'ADMIN' ? 'tag-accent' : ''}`}>{u.role === 'ADMIN' ? 'Admin' : 'Client'}</span>,
    },
  ]
  return (
    <ListPage
      state={state}
      description="Clients and administrators of the platform."
      noun="user"
      searchPlaceholder="Search by username, name or email"
      emptyIcon="users"
      columns={columns}
      nameOf={(u) => u.username}
      deleteBlocked={(u) => (u.id === me.id ? "You can't delete your own account here" : undefined)}
      remove={(u) => users.remove(api, u.id)}
      deleteWarning={(u) => (
        <p>
          <strong>{u.username}</strong> will no longer be able to sign in. Their devices, consumption history and support
          conversation are deleted too. This cannot be undone.
        </p>
      )}
      editor={({ item, onClose, onSaved }) => <UserDialog user={item} isSelf={item?.id === me.id} onClose={onClose} onSaved={onSaved} />}
    />
  )
}

function UserDialog({
  user,
  isSelf,
  onClose,
  onSaved,
}: {
  user: User | null
  isSelf: boolean
  onClose: () => void
  onSaved: (user: User, created: boolean) => void
}) {
  const api = useApi()
  const form = useForm(
    {
      username: user?.username ?? '',
      password: '',
      role: user?.role ?? 'CLIENT',
      full_name: user?.full_name ?? '',
      email: user?.email ?? '',
      time_zone: user?.time_zone ?? 'UTC',
    },
    'user',
  )
  const zones = useMemo(knownZones, [])
  const submit = () =>
    void form.submit(
      user
        ? { full_name: [maxLength('Full name', 200)], email: [optionalEmail], time_zone: [required('Time zone')] }
        : { username: [username], password: [password], full_name: [maxLength('Full name', 200)], email: [optionalEmail], time_zone: [required('Time zone')] },
      async (v) => {
        const common = { full_name: optionalText(v.full_name), email: optionalText(v.email), time_zone: v.time_zone.trim() }
        if (user) {
          const body = isSelf ? common : { ...common, role: v.role as Role }
          onSaved(await users.update(api, user.id, body), false)
        } else {
          onSaved(
            await users.create(api, { username: v.username.trim(), password: v.password, role: v.role as Role, ...common }),
            true,
          )
        }
      },
    )
  return (
    <EditorDialog noun="user" name={user?.username ?? null} form={form} onSubmit={submit} onClose={onClose}>
      <FormInput form={form} name="username" label="Username" autoComplete="off" autoCapitalize="none" spellCheck={false} disabled={user !== null} autoFocus={!user} />
      {!user && (
        <FormInput form={form} name="password" label="Initial password" hint="At least 8 characters. Share it with the user safely." type="password" autoComplete="new-password" />
      )}
      <Field id="user-role" label="Role" error={form.errors.role} hint={isSelf ? 'You cannot change your own role.' : undefined}>
        <select {...form.field('role')} disabled={isSelf}>
          <option value="CLIENT">Client</option>
          <option value="ADMIN">Administrator</option>
        </select>
      </Field>
      <FormInput form={form} name="full_name" label="Full name" optional autoComplete="off" autoFocus={user !== null} />
      <FormInput form={form} name="email" label="Email" optional type="email" autoComplete="off" />
      <Field
        id="user-time_zone"
        label="Time zone"
        error={form.errors.time_zone}
        hint={<>The zone their days, hours, tariff bands and alert texts are in. {utcOffset(form.values.time_zone) || 'Type an IANA name, e.g. Europe/Bucharest.'}</>}
      >
        <input {...form.field('time_zone')} list="user-time-zones" autoComplete="off" spellCheck={false} />
      </Field>
      <datalist id="user-time-zones">
        {zones.map((zone) => (
          <option key={zone} value={zone} />
        ))}
      </datalist>
    </EditorDialog>
  )
}
