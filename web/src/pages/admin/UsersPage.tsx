import { useState } from 'react'
import { users } from '../../api/endpoints'
import { describeError } from '../../api/errors'
import type { Role, User } from '../../api/types'
import { useApi, useUser } from '../../auth/AuthProvider'
import { ConfirmDialog, Dialog } from '../../components/Dialog'
import { Field } from '../../components/Field'
import { Icon } from '../../components/Icon'
import { PageHeader } from '../../components/Layout'
import { Pager } from '../../components/Pager'
import { EmptyState, ErrorState, FormError, Loading } from '../../components/States'
import { useToast } from '../../components/Toasts'
import { useAsync, useDebounced } from '../../hooks/useAsync'
import { useForm } from '../../hooks/useForm'
import { maxLength, optionalEmail, optionalText, password, username } from '../../lib/validation'

const SIZE = 20

export function UsersPage() {
  const api = useApi()
  const me = useUser()
  const toast = useToast()
  const [query, setQuery] = useState('')
  const q = useDebounced(query.trim(), 300)
  const [page, setPage] = useState(1)
  const list = useAsync((signal) => users.list(api, { page, size: SIZE, q: q || undefined }, signal), [api, page, q])
  const [editing, setEditing] = useState<User | 'new' | null>(null)
  const [deleting, setDeleting] = useState<User | null>(null)
  const [deleteState, setDeleteState] = useState<{ busy: boolean; error: string | null }>({ busy: false, error: null })

  const confirmDelete = async () => {
    if (!deleting) return
    setDeleteState({ busy: true, error: null })
    try {
      await users.remove(api, deleting.id)
      toast({ tone: 'success', title: `Deleted ${deleting.username}` })
      setDeleting(null)
      setDeleteState({ busy: false, error: null })
      list.reload()
    } catch (error) {
      setDeleteState({ busy: false, error: describeError(error) })
    }
  }

  return (
    <>
      <PageHeader
        title="Users"
        description="Clients and administrators of the platform."
        actions={
          <button type="button" className="btn btn-primary" onClick={() => setEditing('new')}>
            <Icon name="plus" /> New user
          </button>
        }
      />
      <section className="card">
        <div className="table-tools">
          <label className="search">
            <Icon name="search" />
            <span className="sr-only">Search users</span>
            <input
              type="search"
              placeholder="Search by username, name or email"
              value={query}
              onChange={(e) => {
                setQuery(e.target.value)
                setPage(1)
              }}
            />
          </label>
        </div>
        {list.error ? (
          <ErrorState error={list.error} onRetry={list.reload} title="Couldn't load users" />
        ) : !list.data ? (
          <Loading label="Loading users…" />
        ) : list.data.items.length === 0 ? (
          <EmptyState icon="users" title={q ? `No user matches “${q}”` : 'No users yet'} />
        ) : (
          <>
            <table className="table">
              <thead>
                <tr>
                  <th scope="col">Username</th>
                  <th scope="col">Name</th>
                  <th scope="col">Email</th>
                  <th scope="col">Role</th>
                  <th scope="col" className="actions-col">
                    <span className="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {list.data.items.map((u) => (
                  <tr key={u.id}>
                    <td data-label="Username" className="cell-title">
                      <strong>{u.username}</strong>
                      {u.id === me.id && <span className="tag">you</span>}
                    </td>
                    <td data-label="Name">{u.full_name || <span className="muted">—</span>}</td>
                    <td data-label="Email">{u.email || <span className="muted">—</span>}</td>
                    <td data-label="Role">
                      <span className={`tag ${u.role === 'ADMIN' ? 'tag-accent' : ''}`}>{u.role === 'ADMIN' ? 'Admin' : 'Client'}</span>
                    </td>
                    <td className="actions">
                      <button type="button" className="btn btn-sm" onClick={() => setEditing(u)} aria-label={`Edit ${u.username}`}>
                        <Icon name="edit" /> <span>Edit</span>
                      </button>
                      <button
                        type="button"
                        className="btn btn-sm btn-danger-ghost"
                        onClick={() => setDeleting(u)}
                        disabled={u.id === me.id}
                        title={u.id === me.id ? "You can't delete your own account here" : undefined}
                        aria-label={`Delete ${u.username}`}
                      >
                        <Icon name="trash" /> <span>Delete</span>
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
            <Pager page={page} size={SIZE} total={list.data.total} onPage={setPage} noun="users" />
          </>
        )}
      </section>

      {editing && (
        <UserDialog
          user={editing === 'new' ? null : editing}
          isSelf={editing !== 'new' && editing.id === me.id}
          onClose={() => setEditing(null)}
          onSaved={(saved, created) => {
            setEditing(null)
            toast({ tone: 'success', title: created ? `Created ${saved.username}` : `Saved ${saved.username}` })
            list.reload()
          }}
        />
      )}
      <ConfirmDialog
        open={deleting !== null}
        title="Delete user?"
        confirmLabel="Delete user"
        busy={deleteState.busy}
        error={deleteState.error}
        onConfirm={() => void confirmDelete()}
        onClose={() => {
          setDeleting(null)
          setDeleteState({ busy: false, error: null })
        }}
      >
        <p>
          <strong>{deleting?.username}</strong> will no longer be able to sign in. Their devices, consumption history and
          support conversation are deleted too. This cannot be undone.
        </p>
      </ConfirmDialog>
    </>
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
    },
    'user',
  )
  const submit = () =>
    void form.submit(
      user
        ? { full_name: [maxLength('Full name', 200)], email: [optionalEmail] }
        : { username: [username], password: [password], full_name: [maxLength('Full name', 200)], email: [optionalEmail] },
      async (v) => {
        const common = { full_name: optionalText(v.full_name), email: optionalText(v.email) }
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
    <Dialog
      open
      title={user ? `Edit ${user.username}` : 'New user'}
      onClose={onClose}
      footer={
        <>
          <button type="button" className="btn" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" form="user-form" className="btn btn-primary" disabled={form.submitting}>
            {form.submitting ? 'Saving…' : user ? 'Save changes' : 'Create user'}
          </button>
        </>
      }
    >
      <form
        id="user-form"
        noValidate
        onSubmit={(e) => {
          e.preventDefault()
          submit()
        }}
      >
        <FormError message={form.formError} />
        <Field id="user-username" label="Username" error={form.errors.username}>
          <input {...form.field('username')} autoComplete="off" autoCapitalize="none" spellCheck={false} disabled={user !== null} autoFocus={!user} />
        </Field>
        {!user && (
          <Field id="user-password" label="Initial password" error={form.errors.password} hint="At least 8 characters. Share it with the user safely.">
            <input {...form.field('password')} type="password" autoComplete="new-password" />
          </Field>
        )}
        <Field id="user-role" label="Role" error={form.errors.role} hint={isSelf ? 'You cannot change your own role.' : undefined}>
          <select {...form.field('role')} disabled={isSelf}>
            <option value="CLIENT">Client</option>
            <option value="ADMIN">Administrator</option>
          </select>
        </Field>
        <Field id="user-full_name" label="Full name" optional error={form.errors.full_name}>
          <input {...form.field('full_name')} autoComplete="off" autoFocus={user !== null} />
        </Field>
        <Field id="user-email" label="Email" optional error={form.errors.email}>
          <input {...form.field('email')} type="email" autoComplete="off" />
        </Field>
      </form>
    </Dialog>
  )
}
