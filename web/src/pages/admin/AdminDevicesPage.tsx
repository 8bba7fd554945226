import { useEffect, useState } from 'react'
import { Link } from 'react-router-dom'
import { devices, users } from '../../api/endpoints'
import { describeError } from '../../api/errors'
import type { Device } from '../../api/types'
import { useApi } from '../../auth/AuthProvider'
import { ConfirmDialog, Dialog } from '../../components/Dialog'
import { Field } from '../../components/Field'
import { Icon } from '../../components/Icon'
import { PageHeader } from '../../components/Layout'
import { Pager } from '../../components/Pager'
import { EmptyState, ErrorState, FormError, Loading } from '../../components/States'
import { useToast } from '../../components/Toasts'
import { UserPicker, type PickedUser } from '../../components/UserPicker'
import { useAsync, useDebounced } from '../../hooks/useAsync'
import { useForm } from '../../hooks/useForm'
import { formatKwh } from '../../lib/chart'
import { maxLength, optionalText, positiveNumber, required } from '../../lib/validation'

const SIZE = 20

export function AdminDevicesPage() {
  const api = useApi()
  const toast = useToast()
  const [query, setQuery] = useState('')
  const q = useDebounced(query.trim(), 300)
  const [page, setPage] = useState(1)
  const list = useAsync((signal) => devices.list(api, { page, size: SIZE, q: q || undefined }, signal), [api, page, q])
  const owners = useOwners(list.data?.items ?? [])
  const [editing, setEditing] = useState<Device | 'new' | null>(null)
  const [assigning, setAssigning] = useState<Device | null>(null)
  const [deleting, setDeleting] = useState<Device | null>(null)
  const [deleteState, setDeleteState] = useState<{ busy: boolean; error: string | null }>({ busy: false, error: null })

  const saved = (device: Device, verb: string) => {
    setEditing(null)
    setAssigning(null)
    toast({ tone: 'success', title: `${verb} ${device.name}` })
    list.reload()
  }

  const confirmDelete = async () => {
    if (!deleting) return
    setDeleteState({ busy: true, error: null })
    try {
      await devices.remove(api, deleting.id)
      toast({ tone: 'success', title: `Deleted ${deleting.name}` })
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
        title="Devices"
        description="Smart meters, their hourly limits and who they belong to."
        actions={
          <button type="button" className="btn btn-primary" onClick={() => setEditing('new')}>
            <Icon name="plus" /> New device
          </button>
        }
      />
      <section className="card">
        <div className="table-tools">
          <label className="search">
            <Icon name="search" />
            <span className="sr-only">Search devices</span>
            <input
              type="search"
              placeholder="Search by name or address"
              value={query}
              onChange={(e) => {
                setQuery(e.target.value)
                setPage(1)
              }}
            />
          </label>
        </div>
        {list.error ? (
          <ErrorState error={list.error} onRetry={list.reload} title="Couldn't load devices" />
        ) : !list.data ? (
          <Loading label="Loading devices…" />
        ) : list.data.items.length === 0 ? (
          <EmptyState icon="gauge" title={q ? `No device matches “${q}”` : 'No devices yet'}>
            {!q && 'Create a device, then assign it to a client.'}
          </EmptyState>
        ) : (
          <>
            <table className="table">
              <thead>
                <tr>
                  <th scope="col">Device</th>
                  <th scope="col">Address</th>
                  <th scope="col" className="num">
                    Limit / hour
                  </th>
                  <th scope="col">Owner</th>
                  <th scope="col" className="actions-col">
                    <span className="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {list.data.items.map((d) => (
                  <tr key={d.id}>
                    <td data-label="Device" className="cell-title">
                      <strong>{d.name}</strong>
                      {d.description && <div className="muted small">{d.description}</div>}
                    </td>
                    <td data-label="Address">{d.address || <span className="muted">—</span>}</td>
                    <td data-label="Limit / hour" className="num">
                      {formatKwh(d.max_hourly_kwh)}
                    </td>
                    <td data-label="Owner">
                      <span className="owner-cell">
                        {d.owner_id ? (
                          <span className="owner">{owners[d.owner_id] ?? '…'}</span>
                        ) : (
                          <span className="tag tag-muted">Unassigned</span>
                        )}
                        <button
                          type="button"
                          className="btn btn-sm btn-ghost"
                          onClick={() => setAssigning(d)}
                          aria-label={d.owner_id ? `Change owner of ${d.name}` : `Assign ${d.name}`}
                          title={d.owner_id ? 'Change owner' : 'Assign to a client'}
                        >
                          <Icon name="link" />
                          {!d.owner_id && <span>Assign</span>}
                        </button>
                      </span>
                    </td>
                    <td className="actions">
                      {d.owner_id && (
                        <Link className="btn btn-sm" to={`/admin/consumption?user=${d.owner_id}&device=${d.id}`} aria-label={`Consumption of ${d.name}`}>
                          <Icon name="chart" /> <span>Chart</span>
                        </Link>
                      )}
                      <button type="button" className="btn btn-sm" onClick={() => setEditing(d)} aria-label={`Edit ${d.name}`}>
                        <Icon name="edit" /> <span>Edit</span>
                      </button>
                      <button type="button" className="btn btn-sm btn-danger-ghost" onClick={() => setDeleting(d)} aria-label={`Delete ${d.name}`}>
                        <Icon name="trash" /> <span>Delete</span>
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
            <Pager page={page} size={SIZE} total={list.data.total} onPage={setPage} noun="devices" />
          </>
        )}
      </section>

      {editing && (
        <DeviceDialog
          device={editing === 'new' ? null : editing}
          ownerName={editing !== 'new' && editing.owner_id ? owners[editing.owner_id] : undefined}
          onClose={() => setEditing(null)}
          onSaved={(d, created) => saved(d, created ? 'Created' : 'Saved')}
        />
      )}
      {assigning && (
        <AssignDialog
          device={assigning}
          ownerName={assigning.owner_id ? owners[assigning.owner_id] : undefined}
          onClose={() => setAssigning(null)}
          onSaved={(d) => saved(d, d.owner_id ? 'Assigned' : 'Unassigned')}
        />
      )}
      <ConfirmDialog
        open={deleting !== null}
        title="Delete device?"
        confirmLabel="Delete device"
        busy={deleteState.busy}
        error={deleteState.error}
        onConfirm={() => void confirmDelete()}
        onClose={() => {
          setDeleting(null)
          setDeleteState({ busy: false, error: null })
        }}
      >
        <p>
          <strong>{deleting?.name}</strong> and its consumption history will be deleted. This cannot be undone.
        </p>
      </ConfirmDialog>
    </>
  )
}

/** Usernames of the owners on screen, fetched once each. */
function useOwners(list: readonly Device[]): Record<string, string> {
  const api = useApi()
  const [names, setNames] = useState<Record<string, string>>({})
  const missing = [...new Set(list.map((d) => d.owner_id).filter((id): id is string => !!id && !(id in names)))]
  const key = missing.join(',')
  useEffect(() => {
    if (!key) return
    let cancelled = false
    void Promise.all(
      key.split(',').map((id) =>
        users.get(api, id).then(
          (u) => [id, u.username] as const,
          () => [id, 'Unknown user'] as const,
        ),
      ),
    ).then((pairs) => {
      if (!cancelled) setNames((current) => ({ ...current, ...Object.fromEntries(pairs) }))
    })
    return () => {
      cancelled = true
    }
  }, [api, key])
  return names
}

function DeviceDialog({
  device,
  ownerName,
  onClose,
  onSaved,
}: {
  device: Device | null
  ownerName?: string
  onClose: () => void
  onSaved: (device: Device, created: boolean) => void
}) {
  const api = useApi()
  const [owner, setOwner] = useState<PickedUser | null>(
    device?.owner_id ? { id: device.owner_id, username: ownerName ?? 'current owner' } : null,
  )
  const form = useForm(
    {
      name: device?.name ?? '',
      description: device?.description ?? '',
      address: device?.address ?? '',
      max_hourly_kwh: device ? String(device.max_hourly_kwh) : '',
    },
    'device',
  )
  const submit = () =>
    void form.submit(
      {
        name: [required('Name'), maxLength('Name', 200)],
        description: [maxLength('Description', 1000)],
        address: [maxLength('Address', 300)],
        max_hourly_kwh: [positiveNumber('Hourly limit')],
      },
      async (v) => {
        const body = {
          name: v.name.trim(),
          description: optionalText(v.description),
          address: optionalText(v.address),
          max_hourly_kwh: Number(v.max_hourly_kwh),
          owner_id: owner?.id ?? null,
        }
        if (device) onSaved(await devices.update(api, device.id, body), false)
        else onSaved(await devices.create(api, body), true)
      },
    )
  return (
    <Dialog
      open
      title={device ? `Edit ${device.name}` : 'New device'}
      onClose={onClose}
      footer={
        <>
          <button type="button" className="btn" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" form="device-form" className="btn btn-primary" disabled={form.submitting}>
            {form.submitting ? 'Saving…' : device ? 'Save changes' : 'Create device'}
          </button>
        </>
      }
    >
      <form
        id="device-form"
        noValidate
        onSubmit={(e) => {
          e.preventDefault()
          submit()
        }}
      >
        <FormError message={form.formError} />
        <Field id="device-name" label="Name" error={form.errors.name}>
          <input {...form.field('name')} autoComplete="off" autoFocus />
        </Field>
        <Field id="device-description" label="Description" optional error={form.errors.description}>
          <textarea {...form.field('description')} rows={2} />
        </Field>
        <Field id="device-address" label="Address" optional error={form.errors.address}>
          <input {...form.field('address')} autoComplete="off" />
        </Field>
        <Field id="device-max_hourly_kwh" label="Hourly limit (kWh)" error={form.errors.max_hourly_kwh} hint="An alert is raised when an hour's consumption goes over it.">
          <input {...form.field('max_hourly_kwh')} type="number" inputMode="decimal" min="0" step="0.1" />
        </Field>
        <div className="field">
          <label htmlFor="device-owner">Owner</label>
          <UserPicker id="device-owner" value={owner} onChange={setOwner} noneLabel="Unassign" />
          {form.errors.owner_id && <p className="field-error">{form.errors.owner_id}</p>}
        </div>
      </form>
    </Dialog>
  )
}

function AssignDialog({
  device,
  ownerName,
  onClose,
  onSaved,
}: {
  device: Device
  ownerName?: string
  onClose: () => void
  onSaved: (device: Device) => void
}) {
  const api = useApi()
  const [owner, setOwner] = useState<PickedUser | null>(device.owner_id ? { id: device.owner_id, username: ownerName ?? 'current owner' } : null)
  const [state, setState] = useState<{ busy: boolean; error: string | null }>({ busy: false, error: null })
  const save = async () => {
    setState({ busy: true, error: null })
    try {
      onSaved(await devices.update(api, device.id, { owner_id: owner?.id ?? null }))
    } catch (error) {
      setState({ busy: false, error: describeError(error) })
    }
  }
  const unchanged = (owner?.id ?? null) === device.owner_id
  return (
    <Dialog
      open
      title={`Owner of ${device.name}`}
      onClose={onClose}
      footer={
        <>
          <button type="button" className="btn" onClick={onClose}>
            Cancel
          </button>
          <button type="button" className="btn btn-primary" onClick={() => void save()} disabled={state.busy || unchanged}>
            {state.busy ? 'Saving…' : owner ? 'Assign' : 'Unassign'}
          </button>
        </>
      }
    >
      <FormError message={state.error} />
      <p className="muted">The owner sees this device, its consumption and its alerts.</p>
      <div className="field">
        <label htmlFor="assign-owner">Client</label>
        <UserPicker id="assign-owner" value={owner} onChange={setOwner} noneLabel="Unassign" autoFocus />
      </div>
    </Dialog>
  )
}
