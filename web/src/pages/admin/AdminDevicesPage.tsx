import { useEffect, useState } from 'react'
import { Link } from 'react-router-dom'
import { consumption, devices, tariffs, users } from '../../api/endpoints'
import { describeError } from '../../api/errors'
import type { Device, Tariff } from '../../api/types'
import { useApi } from '../../auth/AuthProvider'
import { Dialog, DialogButtons } from '../../components/Dialog'
import { Field, FormInput } from '../../components/Field'
import { Icon } from '../../components/Icon'
import { EditorDialog, ListPage, OrDash, useListState, type Column } from '../../components/ListPage'
import { FormError } from '../../components/States'
import { UserPicker, type PickedUser } from '../../components/UserPicker'
import { useAsync } from '../../hooks/useAsync'
import { useForm } from '../../hooks/useForm'
import { formatKwh } from '../../lib/chart'
import { formatAgo, formatMomentIn } from '../../lib/dates'
import { useProfileZone } from '../../hooks/useZone'
import { SilentBadge } from '../../components/SilentBadge'
import { formatPrice } from '../../lib/tariffs'
import { maxLength, optionalMeterId, optionalSilenceMinutes, optionalText, positiveNumber, required } from '../../lib/validation'

export function AdminDevicesPage() {
  const api = useApi()
  const state = useListState((query, signal) => devices.list(api, query, signal), [api])
  const owners = useOwners(state.list.data?.items ?? [])
  const tariffList = useAsync((signal) => tariffs.all(api, signal), [api])
  // Monitoring's view of each meter: when it last sent, and whether it went silent.
  const meters = useAsync((signal) => consumption.allMeters(api, signal), [api, state.list.data])
  const zone = useProfileZone()
  const [assigning, setAssigning] = useState<Device | null>(null)
  const ownerOf = (d: Device) => (d.owner_id ? owners[d.owner_id] : undefined)
  const tariffOf = (d: Device) => tariffList.data?.find((t) => t.id === d.tariff_id)

  const columns: Column<Device>[] = [
    {
      label: 'Device',
      kind: 'title',
      cell: (d) => (
        <>
          <strong>{d.name}</strong>
          {meters.data?.get(d.id)?.silent && <SilentBadge meter={meters.data.get(d.id)!} zone={zone} />}
          {d.meter_id && <div className="muted small">{`Meter ${d.meter_id}`}</div>}
          {d.description && <div className="muted small">{d.description}</div>}
        </>
      ),
    },
    { label: 'Address', cell: (d) => <OrDash value={d.address} /> },
    { label: 'Limit / hour', kind: 'number', cell: (d) => formatKwh(d.max_hourly_kwh) },
    { label: 'Tariff', cell: (d) => <OrDash value={d.tariff_id ? (tariffOf(d)?.name ?? '…') : null} /> },
    {
      label: 'Last reading',
      cell: (d) => {
        const meter = meters.data?.get(d.id)
        return (
          <span data-testid="last-seen" title={meter?.last_seen_at && zone ? formatMomentIn(meter.last_seen_at, zone) : undefined}>
            {meters.data ? formatAgo(meter?.last_seen_at ?? null) : '…'}
          </span>
        )
      },
    },
    {
      label: 'Owner',
      cell: (d) => (
        <span className="owner-cell">
          {d.owner_id ? <span className="owner">{ownerOf(d) ?? '…'}</span> : <span className="tag tag-muted">Unassigned</span>}
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
      ),
    },
  ]
  return (
    <ListPage
      state={state}
      description="Smart meters, their hourly limits, tariffs and who they belong to."
      noun="device"
      searchPlaceholder="Search by name, address or meter id"
      emptyIcon="gauge"
      emptyHint="Create a device, then assign it to a client."
      columns={columns}
      nameOf={(d) => d.name}
      rowActions={(d) =>
        d.owner_id ? (
          <Link className="btn btn-sm" to={`/admin/consumption?user=${d.owner_id}&device=${d.id}`} aria-label={`Consumption of ${d.name}`}>
            <Icon name="chart" /> <span>Chart</span>
          </Link>
        ) : null
      }
      remove={(d) => devices.remove(api, d.id)}
      deleteWarning={(d) => (
        <p>
          <strong>{d.name}</strong> and its consumption history will be deleted. This cannot be undone.
        </p>
      )}
      editor={({ item, onClose, onSaved }) => (
        <DeviceDialog device={item} ownerName={item ? ownerOf(item) : undefined} tariffs={tariffList.data ?? []} onClose={onClose} onSaved={onSaved} />
      )}
    >
      {assigning && (
        <AssignDialog
          device={assigning}
          ownerName={ownerOf(assigning)}
          onClose={() => setAssigning(null)}
          onSaved={(d) => {
            setAssigning(null)
            state.changed(`${d.owner_id ? 'Assigned' : 'Unassigned'} ${d.name}`)
          }}
        />
      )}
    </ListPage>
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
  tariffs: tariffOptions,
  onClose,
  onSaved,
}: {
  device: Device | null
  ownerName?: string
  /** What the tariff picker offers. */
  tariffs: readonly Tariff[]
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
      tariff_id: device?.tariff_id ?? '',
      meter_id: device?.meter_id ?? '',
      // A new device is watched for silence by default; an empty field means never.
      silence_minutes: device ? (device.silence_minutes?.toString() ?? '') : '30',
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
        meter_id: [optionalMeterId],
        silence_minutes: [optionalSilenceMinutes],
      },
      async (v) => {
        const body = {
          name: v.name.trim(),
          description: optionalText(v.description),
          address: optionalText(v.address),
          max_hourly_kwh: Number(v.max_hourly_kwh),
          owner_id: owner?.id ?? null,
          tariff_id: v.tariff_id || null,
          meter_id: optionalText(v.meter_id),
          silence_minutes: v.silence_minutes.trim() === '' ? null : Number(v.silence_minutes),
        }
        if (device) onSaved(await devices.update(api, device.id, body), false)
        else onSaved(await devices.create(api, body), true)
      },
    )
  return (
    <EditorDialog noun="device" name={device?.name ?? null} form={form} onSubmit={submit} onClose={onClose}>
      <FormInput form={form} name="name" label="Name" autoComplete="off" autoFocus />
      <Field id="device-description" label="Description" optional error={form.errors.description}>
        <textarea {...form.field('description')} rows={2} />
      </Field>
      <FormInput form={form} name="address" label="Address" optional autoComplete="off" />
      <FormInput
        form={form}
        name="max_hourly_kwh"
        label="Hourly limit (kWh)"
        hint="An alert is raised when an hour's consumption goes over it."
        type="number"
        inputMode="decimal"
        min="0"
        step="0.1"
      />
      <Field id="device-tariff_id" label="Tariff" optional error={form.errors.tariff_id} hint="What its energy costs; none: consumption is shown without a cost.">
        <select {...form.field('tariff_id')}>
          <option value="">No tariff</option>
          {device?.tariff_id && !tariffOptions.some((t) => t.id === device.tariff_id) && <option value={device.tariff_id}>Current tariff</option>}
          {tariffOptions.map((t) => (
            <option key={t.id} value={t.id}>
              {t.name} · {formatPrice(t.price_per_kwh, t.currency)}
            </option>
          ))}
        </select>
      </Field>
      <div className="field-pair">
        <FormInput
          form={form}
          name="meter_id"
          label="Meter id"
          optional
          hint="How the meter names itself in its readings (their device_id), e.g. 7."
          autoComplete="off"
          spellCheck={false}
        />
        <FormInput
          form={form}
          name="silence_minutes"
          label="Silent after (minutes)"
          optional
          hint="Without readings this long, the meter counts as silent. Empty: never."
          type="number"
          inputMode="numeric"
          min="1"
          max="10080"
          step="1"
        />
      </div>
      <div className="field">
        <label htmlFor="device-owner">Owner</label>
        <UserPicker id="device-owner" value={owner} onChange={setOwner} noneLabel="Unassign" />
        {form.errors.owner_id && <p className="field-error">{form.errors.owner_id}</p>}
      </div>
    </EditorDialog>
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
      footer={<DialogButtons label={owner ? 'Assign' : 'Unassign'} busy={state.busy} disabled={unchanged} onConfirm={() => void save()} onClose={onClose} />}
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
