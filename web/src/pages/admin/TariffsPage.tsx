import { useState } from 'react'
import { devices, tariffs } from '../../api/endpoints'
import { ApiError } from '../../api/errors'
import type { Tariff } from '../../api/types'
import { useApi } from '../../auth/AuthProvider'
import { Field, FormInput } from '../../components/Field'
import { Icon } from '../../components/Icon'
import { EditorDialog, ListPage, useListState, type Column } from '../../components/ListPage'
import { useAsync } from '../../hooks/useAsync'
import { useForm } from '../../hooks/useForm'
import { bandRow, bandSpan, checkBands, formatPrice, splitBandErrors, toBands, wrapsMidnight, type BandErrors, type BandRow } from '../../lib/tariffs'
import { currencyCode, maxLength, nonNegativeNumber, required } from '../../lib/validation'

const MAX_BANDS = 24

export function TariffsPage() {
  const api = useApi()
  const state = useListState((query, signal) => tariffs.list(api, query, signal), [api])
  // How many devices use each tariff: counted over every device (again when the list changes).
  const usage = useAsync(async (signal) => countByTariff(await devices.all(api, signal)), [api, state.list.data])
  const columns: Column<Tariff>[] = [
    { label: 'Tariff', kind: 'title', cell: (t) => <strong>{t.name}</strong> },
    { label: 'Price / kWh', kind: 'number', cell: (t) => formatPrice(t.price_per_kwh, t.currency) },
    {
      label: 'Devices',
      kind: 'number',
      cell: (t) => {
        const n = usage.data?.get(t.id) ?? 0
        return <span data-testid="tariff-devices" style={{ whiteSpace: 'nowrap' }}>{usage.data ? (n === 1 ? '1 device' : `${n} devices`) : '…'}</span>
      },
    },
    {
      label: 'Bands',
      cell: (t) =>
        t.bands.length === 0 ? (
          <span className="muted">One price all day</span>
        ) : (
          <span className="band-list">
            {t.bands.map((b) => (
              <span key={b.start} className="tag" title={wrapsMidnight(b) ? 'Runs past midnight' : undefined}>
                {bandSpan(b)} · {formatPrice(b.price_per_kwh, t.currency)}
              </span>
            ))}
          </span>
        ),
    },
  ]
  return (
    <ListPage
      state={state}
      description="What energy costs: a price per kWh, and bands of the day with their own price."
      noun="tariff"
      searchPlaceholder="Search by name or currency"
      emptyIcon="tag"
      emptyHint="Create a tariff, then give it to devices in the Devices page."
      columns={columns}
      nameOf={(t) => t.name}
      remove={async (t) => {
        try {
          await tariffs.remove(api, t.id)
        } catch (error) {
          throw inUseExplained(error, t)
        }
      }}
      deleteWarning={(t) => (
        <p>
          <strong>{t.name}</strong> will be deleted. A tariff that devices still use cannot be deleted: give them another
          tariff first.
        </p>
      )}
      editor={({ item, onClose, onSaved }) => <TariffDialog tariff={item} onClose={onClose} onSaved={onSaved} />}
    />
  )
}

/** Devices per tariff id. */
export function countByTariff(list: readonly { tariff_id: string | null }[]): Map<string, number> {
  const counts = new Map<string, number>()
  for (const device of list) if (device.tariff_id) counts.set(device.tariff_id, (counts.get(device.tariff_id) ?? 0) + 1)
  return counts
}

/** The server's 409 `tariff_in_use`, said as what to do about it. */
function inUseExplained(error: unknown, tariff: Tariff): unknown {
  if (!(error instanceof ApiError) || error.code !== 'tariff_in_use') return error
  const count = (error.details as { devices?: number } | null)?.devices
  const who = count === undefined ? 'Some devices use' : count === 1 ? '1 device uses' : `${count} devices use`
  return new Error(`${who} ${tariff.name}, so it was not deleted. Give them another tariff (or none) in Devices, then delete it.`)
}

function TariffDialog({
  tariff,
  onClose,
  onSaved,
}: {
  tariff: Tariff | null
  onClose: () => void
  onSaved: (tariff: Tariff, created: boolean) => void
}) {
  const api = useApi()
  const form = useForm(
    {
      name: tariff?.name ?? '',
      currency: tariff?.currency ?? 'RON',
      price_per_kwh: tariff ? String(tariff.price_per_kwh) : '',
    },
    'tariff',
  )
  const [rows, setRows] = useState<BandRow[]>(() => (tariff?.bands ?? []).map(bandRow))
  const [bandErrors, setBandErrors] = useState<BandErrors>({})
  const [listError, setListError] = useState<string | null>(null)

  const edit = (index: number, field: 'start' | 'end' | 'price', value: string) => {
    setRows((current) => current.map((row, i) => (i === index ? { ...row, [field]: value } : row)))
    const key = `${index}.${field === 'price' ? 'price_per_kwh' : field}`
    setBandErrors((current) => {
      const next = { ...current }
      delete next[key]
      delete next[String(index)]
      return next
    })
    setListError(null)
  }
  const removeRow = (index: number) => {
    setRows((current) => current.filter((_, i) => i !== index))
    // The errors were about rows as numbered before.
    setBandErrors({})
    setListError(null)
  }

  const submit = () => {
    const local = checkBands(rows)
    setBandErrors(local)
    setListError(null)
    void form.submit(
      {
        name: [required('Name'), maxLength('Name', 100)],
        currency: [currencyCode],
        price_per_kwh: [nonNegativeNumber('Price')],
      },
      async (v) => {
        if (Object.keys(local).length > 0) throw new Error('Please correct the highlighted bands.')
        const body = { name: v.name.trim(), currency: v.currency.trim(), price_per_kwh: Number(v.price_per_kwh), bands: toBands(rows) }
        try {
          if (tariff) onSaved(await tariffs.update(api, tariff.id, body), false)
          else onSaved(await tariffs.create(api, body), true)
        } catch (error) {
          if (!(error instanceof ApiError)) throw error
          const split = splitBandErrors(error)
          setBandErrors(split.bands)
          setListError(split.list)
          throw split.rest
        }
      },
    )
  }

  const currency = form.values.currency.trim() || 'per kWh'
  return (
    <EditorDialog noun="tariff" name={tariff?.name ?? null} form={form} onSubmit={submit} onClose={onClose}>
      <FormInput form={form} name="name" label="Name" autoComplete="off" autoFocus />
      <div className="field-pair">
        <FormInput
          form={form}
          name="currency"
          label="Currency"
          hint="ISO 4217, e.g. RON or EUR."
          autoComplete="off"
          autoCapitalize="characters"
          maxLength={3}
          spellCheck={false}
        />
        <FormInput
          form={form}
          name="price_per_kwh"
          label={`Price per kWh (${currency})`}
          hint="Applies outside every band."
          type="number"
          inputMode="decimal"
          min="0"
          step="0.000001"
        />
      </div>
      <fieldset className="bands" aria-describedby="tariff-bands-hint">
        <legend>
          Bands <span className="optional">(optional)</span>
        </legend>
        <p className="field-hint" id="tariff-bands-hint">
          Other prices for parts of the day, in each owner’s local time. A band includes its start and runs up to its end;
          22:00 to 06:00 runs past midnight.
        </p>
        {listError && (
          <p className="field-error" id="tariff-bands-error" role="alert">
            {listError}
          </p>
        )}
        {rows.length > 0 && (
          <ol className="band-rows">
            {rows.map((row, i) => (
              <li key={row.key} className="band-row">
                <BandInput index={i} field="start" label="From" value={row.start} error={bandErrors[`${i}.start`]} onChange={edit} />
                <BandInput index={i} field="end" label="To" value={row.end} error={bandErrors[`${i}.end`]} onChange={edit} />
                <BandInput index={i} field="price" label="Price per kWh" value={row.price} error={bandErrors[`${i}.price_per_kwh`]} onChange={edit} />
                <button type="button" className="btn btn-sm btn-danger-ghost" onClick={() => removeRow(i)} aria-label={`Remove band ${i + 1}`}>
                  <Icon name="trash" />
                </button>
                {bandErrors[String(i)] ? (
                  <p className="field-error band-note">{bandErrors[String(i)]}</p>
                ) : (
                  wrapsMidnight(row) && <p className="field-hint band-note">Runs past midnight, to {row.end} the next day.</p>
                )}
              </li>
            ))}
          </ol>
        )}
        <button type="button" className="btn btn-sm" onClick={() => setRows((current) => [...current, bandRow()])} disabled={rows.length >= MAX_BANDS}>
          <Icon name="plus" /> Add band
        </button>
      </fieldset>
    </EditorDialog>
  )
}

/** One input of a band row, labelled for screen readers with its band's number. */
function BandInput({
  index,
  field,
  label,
  value,
  error,
  onChange,
}: {
  index: number
  field: 'start' | 'end' | 'price'
  label: string
  value: string
  error: string | undefined
  onChange: (index: number, field: 'start' | 'end' | 'price', value: string) => void
}) {
  const id = `band-${index}-${field}`
  const kind =
    field === 'price'
      ? ({ type: 'number', inputMode: 'decimal', min: '0', step: '0.000001' } as const)
      : ({ placeholder: 'HH:MM', inputMode: 'numeric', maxLength: 5 } as const)
  return (
    <Field id={id} label={<><span className="sr-only">Band {index + 1} </span>{label}</>} error={error}>
      <input
        id={id}
        value={value}
        onChange={(e) => onChange(index, field, e.target.value)}
        autoComplete="off"
        aria-invalid={Boolean(error)}
        aria-describedby={error ? `${id}-error` : undefined}
        {...kind}
      />
    </Field>
  )
}
