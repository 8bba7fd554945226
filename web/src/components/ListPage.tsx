import { useState, type DependencyList, type ReactNode } from 'react'
import { describeError } from '../api/errors'
import { useAsync, useDebounced, type AsyncState } from '../hooks/useAsync'
import type { FormState, FormValues } from '../hooks/useForm'
import { ConfirmDialog, FormDialog } from './Dialog'
import { Icon, type IconName } from './Icon'
import { PageHeader } from './Layout'
import { Pager } from './Pager'
import { EmptyState, Loaded } from './States'
import { useToast } from './Toasts'

const SIZE = 20

export interface ListQuery {
  page: number
  size: number
  q?: string
}

export interface ListResult<T> {
  items: T[]
  total: number
}

/** The search text, the page and the rows they select: what a ListPage shows. */
export interface ListState<T> {
  query: string
  /** A new search starts again at page 1. */
  setQuery: (text: string) => void
  /** The search the list was loaded with (trimmed, after a pause in typing). */
  q: string
  page: number
  setPage: (page: number) => void
  list: AsyncState<ListResult<T>>
  /** After a row changed: say so in a toast and load the page again. */
  changed: (title: string) => void
}

export function useListState<T>(
  load: (query: ListQuery, signal: AbortSignal) => Promise<ListResult<T>>,
  deps: DependencyList,
): ListState<T> {
  const toast = useToast()
  const [query, setQueryText] = useState('')
  const q = useDebounced(query.trim(), 300)
  const [page, setPage] = useState(1)
  const list = useAsync((signal) => load({ page, size: SIZE, q: q || undefined }, signal), [...deps, page, q])
  return {
    query,
    setQuery: (text) => {
      setQueryText(text)
      setPage(1)
    },
    q,
    page,
    setPage,
    list,
    changed: (title) => {
      toast({ tone: 'success', title })
      list.reload()
    },
  }
}

export interface Column<T> {
  /** The column's header, and the cell's label where rows become cards (phones). */
  label: string
  cell: (item: T) => ReactNode
  /** `title`: the row's name, first on a card; `number`: right-aligned. */
  kind?: 'title' | 'number'
}

export interface EditorProps<T> {
  /** null: a new one. */
  item: T | null
  onClose: () => void
  onSaved: (saved: T, created: boolean) => void
}

/**
 * An admin table of one kind of thing: search, pages, loading/empty/error states, create and
 * edit in the page's own dialog, delete after a confirmation. Rows become cards on phones.
 */
export function ListPage<T extends { id: string }>({
  state,
  description,
  noun,
  plural = `${noun}s`,
  searchPlaceholder,
  emptyIcon,
  emptyHint,
  columns,
  nameOf,
  rowActions,
  deleteBlocked,
  remove,
  deleteWarning,
  editor,
  children,
}: {
  state: ListState<T>
  description: ReactNode
  /** One row ("user"): names the page, its buttons, states and dialogs, and the pager. */
  noun: string
  plural?: string
  searchPlaceholder: string
  emptyIcon: IconName
  /** Under "No users yet" (not under an empty search). */
  emptyHint?: ReactNode
  columns: readonly Column<T>[]
  /** A row's name in labels and toasts ("Edit ann", "Deleted ann"). */
  nameOf: (item: T) => string
  /** The row's own buttons, before Edit and Delete. */
  rowActions?: (item: T) => ReactNode
  /** Why a row cannot be deleted here, when it cannot. */
  deleteBlocked?: (item: T) => string | undefined
  remove: (item: T) => Promise<void>
  /** What deleting the row takes with it, in the confirmation. */
  deleteWarning: (item: T) => ReactNode
  editor: (props: EditorProps<T>) => ReactNode
  /** The page's own dialogs. */
  children?: ReactNode
}) {
  const { q } = state
  const title = plural.charAt(0).toUpperCase() + plural.slice(1)
  const [editing, setEditing] = useState<T | 'new' | null>(null)
  const [deleting, setDeleting] = useState<T | null>(null)
  const [deleteState, setDeleteState] = useState<{ busy: boolean; error: string | null }>({ busy: false, error: null })

  const closeDelete = () => {
    setDeleting(null)
    setDeleteState({ busy: false, error: null })
  }
  const confirmDelete = async (item: T) => {
    setDeleteState({ busy: true, error: null })
    try {
      await remove(item)
      closeDelete()
      state.changed(`Deleted ${nameOf(item)}`)
    } catch (error) {
      setDeleteState({ busy: false, error: describeError(error) })
    }
  }

  return (
    <>
      <PageHeader
        title={title}
        description={description}
        actions={
          <button type="button" className="btn btn-primary" onClick={() => setEditing('new')}>
            <Icon name="plus" /> New {noun}
          </button>
        }
      />
      <section className="card">
        <div className="table-tools">
          <label className="search">
            <Icon name="search" />
            <span className="sr-only">Search {plural}</span>
            <input type="search" placeholder={searchPlaceholder} value={state.query} onChange={(e) => state.setQuery(e.target.value)} />
          </label>
        </div>
        <Loaded state={state.list} errorTitle={`Couldn't load ${plural}`} loadingLabel={`Loading ${plural}…`}>
          {({ items, total }) =>
            items.length === 0 ? (
              <EmptyState icon={emptyIcon} title={q ? `No ${noun} matches “${q}”` : `No ${plural} yet`}>
                {!q && emptyHint}
              </EmptyState>
            ) : (
              <>
                <ListTable
                  items={items}
                  columns={columns}
                  nameOf={nameOf}
                  rowActions={rowActions}
                  deleteBlocked={deleteBlocked}
                  onEdit={setEditing}
                  onDelete={setDeleting}
                />
                <Pager page={state.page} size={SIZE} total={total} onPage={state.setPage} noun={plural} />
              </>
            )
          }
        </Loaded>
      </section>

      {editing &&
        editor({
          item: editing === 'new' ? null : editing,
          onClose: () => setEditing(null),
          onSaved: (saved, created) => {
            setEditing(null)
            state.changed(`${created ? 'Created' : 'Saved'} ${nameOf(saved)}`)
          },
        })}
      <ConfirmDialog
        open={deleting !== null}
        title={`Delete ${noun}?`}
        confirmLabel={`Delete ${noun}`}
        busy={deleteState.busy}
        error={deleteState.error}
        onConfirm={() => deleting && void confirmDelete(deleting)}
        onClose={closeDelete}
      >
        {deleting && deleteWarning(deleting)}
      </ConfirmDialog>
      {children}
    </>
  )
}

/** The rows as a table; on phones each row is a card, its cells labelled by their column. */
function ListTable<T extends { id: string }>({
  items,
  columns,
  nameOf,
  rowActions,
  deleteBlocked,
  onEdit,
  onDelete,
}: {
  items: readonly T[]
  columns: readonly Column<T>[]
  nameOf: (item: T) => string
  rowActions?: (item: T) => ReactNode
  deleteBlocked?: (item: T) => string | undefined
  onEdit: (item: T) => void
  onDelete: (item: T) => void
}) {
  return (
    <table className="table">
      <thead>
        <tr>
          {columns.map((column) => (
            <th key={column.label} scope="col" className={column.kind === 'number' ? 'num' : undefined}>
              {column.label}
            </th>
          ))}
          <th scope="col" className="actions-col">
            <span className="sr-only">Actions</span>
          </th>
        </tr>
      </thead>
      <tbody>
        {items.map((item) => {
          const name = nameOf(item)
          const blocked = deleteBlocked?.(item)
          return (
            <tr key={item.id}>
              {columns.map((column) => (
                <td key={column.label} data-label={column.label} className={column.kind === 'title' ? 'cell-title' : column.kind === 'number' ? 'num' : undefined}>
                  {column.cell(item)}
                </td>
              ))}
              <td className="actions">
                {rowActions?.(item)}
                <button type="button" className="btn btn-sm" onClick={() => onEdit(item)} aria-label={`Edit ${name}`}>
                  <Icon name="edit" /> <span>Edit</span>
                </button>
                <button
                  type="button"
                  className="btn btn-sm btn-danger-ghost"
                  onClick={() => onDelete(item)}
                  disabled={blocked !== undefined}
                  title={blocked}
                  aria-label={`Delete ${name}`}
                >
                  <Icon name="trash" /> <span>Delete</span>
                </button>
              </td>
            </tr>
          )
        })}
      </tbody>
    </table>
  )
}

/** A row's create and edit dialog: "New user" and "Create user", or "Edit ann" and "Save changes". */
export function EditorDialog({
  noun,
  name,
  form,
  onSubmit,
  onClose,
  children,
}: {
  noun: string
  /** The row's name; null for a new one. */
  name: string | null
  form: Pick<FormState<FormValues>, 'submitting' | 'formError'>
  onSubmit: () => void
  onClose: () => void
  children: ReactNode
}) {
  return (
    <FormDialog
      id={`${noun}-form`}
      title={name === null ? `New ${noun}` : `Edit ${name}`}
      submitLabel={name === null ? `Create ${noun}` : 'Save changes'}
      submitting={form.submitting}
      error={form.formError}
      onSubmit={onSubmit}
      onClose={onClose}
    >
      {children}
    </FormDialog>
  )
}

/** A cell's value, or a muted dash when there is none. */
export function OrDash({ value }: { value: string | null | undefined }) {
  return <>{value || <span className="muted">—</span>}</>
}
